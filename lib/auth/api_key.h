#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "util/result.h"

namespace presence::auth {

// API keys of the REST API. A key is "pk_<id>_<secret>": the id is 12 lower-case hex
// characters (public: it names the key in logs, lists and revocation), the secret 32 random
// bytes in unpadded base64url (43 characters). Only the SHA-256 of the whole key is stored.
inline constexpr std::string_view kKeyPrefix = "pk_";
inline constexpr size_t kKeyIdLength = 12;
inline constexpr size_t kSecretBytes = 32;

// The Redis hash of the keys: field = id, value = the KeyRecord as JSON.
inline constexpr std::string_view kKeysHash = "presence:{ctl}:keys";

// A freshly drawn key; `key` is shown to the operator once and never stored.
struct NewKey {
  std::string id;
  std::string key;
};

// Draws a new key from OpenSSL's RAND_bytes; fails (code "random_failed") only when the
// generator does.
Result<NewKey> GenerateKey();

// The id of a well-formed key ("pk_", 12 hex characters, "_", 43 base64url characters), or
// nullopt for anything else. Does not say whether the key is valid: compare its hash.
std::optional<std::string> KeyId(std::string_view key);

// True for 12 lower-case hex characters.
bool IsKeyId(std::string_view id);

// SHA-256 of the whole key, as 64 lower-case hex characters.
std::string HashKey(std::string_view key);

// Compares two hashes in time that depends only on their lengths (CRYPTO_memcmp).
bool HashesEqual(std::string_view a, std::string_view b);

// What Redis holds for one key, in presence:{ctl}:keys under its id.
struct KeyRecord {
  std::string id;
  std::string scope;        // "admin" or "tenant"
  std::string tenant;       // tenant scope only
  std::string sha256;       // HashKey() of the key
  std::string name;         // free text given at creation
  uint64_t created_at = 0;  // ms since the epoch

  bool admin() const { return scope == "admin"; }
};

nlohmann::json ToJson(const KeyRecord& record);

// Parses a stored record; the error (code "bad_key_record") names the id and the field.
Result<KeyRecord> ParseKeyRecord(std::string_view id, std::string_view text);

}  // namespace presence::auth
