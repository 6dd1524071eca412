#include "auth/key_cache.h"

#include <catch2/catch.hpp>

namespace presence::auth {
namespace {

using namespace std::chrono_literals;

KeyRecord Record(const std::string& id) {
  return KeyRecord{id, "admin", "", std::string(64, 'a'), "", 0};
}

TEST_CASE("cached records and absences last for the TTL", "[auth][cache]") {
  KeyCache cache(1000ms, 10);
  const auto t0 = KeyCache::Clock::time_point{} + 1h;
  CHECK_FALSE(cache.Find("a", t0).known);

  cache.Store("a", Record("a"), t0);
  cache.Store("b", std::nullopt, t0);
  CHECK(cache.Find("a", t0 + 999ms).known);
  CHECK(cache.Find("a", t0 + 999ms).record->id == "a");
  CHECK(cache.Find("b", t0 + 999ms).known);
  CHECK_FALSE(cache.Find("b", t0 + 999ms).record);

  // A revoked key is asked for again once its entry expired.
  CHECK_FALSE(cache.Find("a", t0 + 1000ms).known);
  CHECK_FALSE(cache.Find("b", t0 + 1000ms).known);
}

TEST_CASE("the cache never holds more than its bound", "[auth][cache]") {
  KeyCache cache(1000ms, 3);
  const auto t0 = KeyCache::Clock::time_point{} + 1h;
  for (int i = 0; i < 100; ++i) cache.Store(std::to_string(i), std::nullopt, t0 + i * 1ms);
  CHECK(cache.size() <= 3);
  // The newest entries stay; the oldest were dropped first.
  CHECK(cache.Find("99", t0 + 100ms).known);
  CHECK_FALSE(cache.Find("0", t0 + 100ms).known);
}

TEST_CASE("made-up key ids never push out a real key's record", "[auth][cache]") {
  // Regression: absences shared the bound with records, and the record closest to expiry
  // went first, so a client sending random key ids evicted the keys in use.
  KeyCache cache(1000ms, 3);
  const auto t0 = KeyCache::Clock::time_point{} + 1h;
  cache.Store("real", Record("real"), t0);
  for (int i = 0; i < 1000; ++i) cache.Store("fake" + std::to_string(i), std::nullopt, t0 + 1ms);
  CHECK(cache.Find("real", t0 + 2ms).known);
  CHECK(cache.Find("real", t0 + 2ms).record->id == "real");
  CHECK(cache.size() <= 4);
}

TEST_CASE("a key found after it was missing (or revoked after it was found) is updated",
          "[auth][cache]") {
  KeyCache cache(1000ms, 3);
  const auto t0 = KeyCache::Clock::time_point{} + 1h;
  cache.Store("k", std::nullopt, t0);
  cache.Store("k", Record("k"), t0 + 1ms);
  CHECK(cache.Find("k", t0 + 2ms).record);
  cache.Store("k", std::nullopt, t0 + 3ms);
  CHECK(cache.Find("k", t0 + 4ms).known);
  CHECK_FALSE(cache.Find("k", t0 + 4ms).record);
}

TEST_CASE("a TTL of zero caches nothing", "[auth][cache]") {
  KeyCache cache(0ms, 3);
  const auto t0 = KeyCache::Clock::time_point{} + 1h;
  cache.Store("a", Record("a"), t0);
  CHECK_FALSE(cache.Find("a", t0).known);
}

}  // namespace
}  // namespace presence::auth
