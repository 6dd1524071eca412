#include "auth/key_cache.h"

#include <algorithm>

namespace presence::auth {

KeyCache::KeyCache(std::chrono::milliseconds ttl, size_t max_entries)
    : ttl_(ttl), max_entries_(std::max<size_t>(1, max_entries)) {}

KeyCache::Lookup KeyCache::Find(const std::string& id, Clock::time_point now) const {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.expires_at <= now) return {};
  return {true, it->second.record};
}

void KeyCache::Store(const std::string& id, std::optional<KeyRecord> record,
                     Clock::time_point now) {
  if (ttl_.count() <= 0) return;
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    MakeRoom(now);
    it = entries_.emplace(id, Entry{}).first;
  }
  it->second = Entry{std::move(record), now + ttl_};
}

void KeyCache::MakeRoom(Clock::time_point now) {
  if (entries_.size() < max_entries_) return;

  // Expired entries go first; a full cache of live entries loses the one closest to expiry.
  std::erase_if(entries_, [now](const auto& entry) { return entry.second.expires_at <= now; });
  if (entries_.size() < max_entries_) return;
  auto soonest = std::min_element(
      entries_.begin(), entries_.end(),
      [](const auto& a, const auto& b) { return a.second.expires_at < b.second.expires_at; });
  entries_.erase(soonest);
}

}  // namespace presence::auth
