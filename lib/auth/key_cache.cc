#include "auth/key_cache.h"

#include <algorithm>

namespace presence::auth {

KeyCache::KeyCache(std::chrono::milliseconds ttl, size_t max_entries)
    : ttl_(ttl), max_entries_(std::max<size_t>(1, max_entries)) {}

KeyCache::Lookup KeyCache::Find(const std::string& id, Clock::time_point now) const {
  if (auto it = found_.find(id); it != found_.end() && it->second.expires_at > now) {
    return {true, it->second.record};
  }
  if (auto it = missing_.find(id); it != missing_.end() && it->second > now) return {true, {}};
  return {};
}

void KeyCache::Store(const std::string& id, std::optional<KeyRecord> record,
                     Clock::time_point now) {
  if (ttl_.count() <= 0) return;
  if (!record) {
    found_.erase(id);
    if (!missing_.count(id)) MakeRoomForAbsence(now);
    missing_[id] = now + ttl_;
    return;
  }
  missing_.erase(id);
  auto it = found_.find(id);
  if (it == found_.end()) {
    MakeRoomForRecord(now);
    it = found_.emplace(id, Entry{}).first;
  }
  it->second = Entry{std::move(record), now + ttl_};
}

void KeyCache::MakeRoomForRecord(Clock::time_point now) {
  if (found_.size() < max_entries_) return;

  // Expired entries go first; a full cache of live entries loses the one closest to expiry.
  std::erase_if(found_, [now](const auto& entry) { return entry.second.expires_at <= now; });
  if (found_.size() < max_entries_) return;
  auto soonest = std::min_element(found_.begin(), found_.end(), [](const auto& a, const auto& b) {
    return a.second.expires_at < b.second.expires_at;
  });
  found_.erase(soonest);
}

void KeyCache::MakeRoomForAbsence(Clock::time_point now) {
  if (missing_.size() < max_entries_) return;
  std::erase_if(missing_, [now](const auto& entry) { return entry.second <= now; });
  // Forgetting absences costs at most one HGET each; scanning for the oldest on every
  // made-up id would cost the whole map each time.
  if (missing_.size() >= max_entries_) missing_.clear();
}

}  // namespace presence::auth
