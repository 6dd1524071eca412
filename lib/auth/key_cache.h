#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>

#include "auth/api_key.h"

namespace presence::auth {

// What presenced remembers of the keys it looked up: a record (positive entry) or the fact
// that Redis had none (negative entry), each for `ttl`. So steady traffic adds about one
// HGET per key and TTL, and a revoked key stops working within the TTL.
//
// Bounded: records and absences are kept apart, at most `max_entries` of each, so that
// requests with made-up key ids (each one an absence) can never push out the record of a
// real key. When the records are full, expired ones are dropped first, then the one that
// expires soonest; when the absences are full, expired ones are dropped, and if none had
// expired, all of them (constant time per request however many ids a client makes up).
// Not thread-safe (the io_context's thread only).
class KeyCache {
 public:
  using Clock = std::chrono::steady_clock;

  // What the cache knows of an id: nothing (ask Redis), a record, or "no such key".
  struct Lookup {
    bool known = false;
    std::optional<KeyRecord> record;  // known and present
  };

  KeyCache(std::chrono::milliseconds ttl, size_t max_entries);

  Lookup Find(const std::string& id, Clock::time_point now) const;

  // Remembers `record` (nullopt: Redis has no key of this id) until now + ttl.
  void Store(const std::string& id, std::optional<KeyRecord> record, Clock::time_point now);

  size_t size() const { return found_.size() + missing_.size(); }

 private:
  struct Entry {
    std::optional<KeyRecord> record;
    Clock::time_point expires_at;
  };

  void MakeRoomForRecord(Clock::time_point now);
  void MakeRoomForAbsence(Clock::time_point now);

  std::chrono::milliseconds ttl_;
  size_t max_entries_;
  std::unordered_map<std::string, Entry> found_;                // record set
  std::unordered_map<std::string, Clock::time_point> missing_;  // id -> expiry
};

}  // namespace presence::auth
