#include "auth/api_key.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>

#include <fmt/format.h>

namespace presence::auth {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr size_t kSecretLength = (kSecretBytes * 4 + 2) / 3;  // unpadded base64url: 43

std::string Hex(const unsigned char* data, size_t size) {
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += kHexDigits[data[i] >> 4];
    out += kHexDigits[data[i] & 0x0f];
  }
  return out;
}

// Unpadded base64url (RFC 4648 section 5).
std::string Base64Url(const unsigned char* data, size_t size) {
  std::string out;
  for (size_t i = 0; i < size; i += 3) {
    const uint32_t chunk = (uint32_t{data[i]} << 16) |
                           (i + 1 < size ? uint32_t{data[i + 1]} << 8 : 0) |
                           (i + 2 < size ? uint32_t{data[i + 2]} : 0);
    const size_t chars = std::min<size_t>(4, (size - i) * 4 / 3 + ((size - i) * 4 % 3 != 0));
    for (size_t c = 0; c < chars; ++c) out += kBase64Url[(chunk >> (18 - 6 * c)) & 0x3f];
  }
  return out;
}

bool IsBase64UrlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

}  // namespace

Result<NewKey> GenerateKey() {
  std::array<unsigned char, kKeyIdLength / 2> id_bytes{};
  std::array<unsigned char, kSecretBytes> secret{};
  if (RAND_bytes(id_bytes.data(), static_cast<int>(id_bytes.size())) != 1 ||
      RAND_bytes(secret.data(), static_cast<int>(secret.size())) != 1) {
    return MakeError("random_failed", "cannot draw a key: OpenSSL RAND_bytes failed");
  }
  NewKey key;
  key.id = Hex(id_bytes.data(), id_bytes.size());
  key.key = fmt::format("{}{}_{}", kKeyPrefix, key.id, Base64Url(secret.data(), secret.size()));
  OPENSSL_cleanse(secret.data(), secret.size());
  return key;
}

bool IsKeyId(std::string_view id) {
  return id.size() == kKeyIdLength && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::optional<std::string> KeyId(std::string_view key) {
  if (!key.starts_with(kKeyPrefix)) return std::nullopt;
  key.remove_prefix(kKeyPrefix.size());
  if (key.size() != kKeyIdLength + 1 + kSecretLength || key[kKeyIdLength] != '_') {
    return std::nullopt;
  }
  const std::string_view id = key.substr(0, kKeyIdLength);
  const std::string_view secret = key.substr(kKeyIdLength + 1);
  if (!IsKeyId(id) || !std::all_of(secret.begin(), secret.end(), IsBase64UrlChar)) {
    return std::nullopt;
  }
  return std::string(id);
}

std::string HashKey(std::string_view key) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  // EVP_Digest fails only when OpenSSL cannot allocate; an empty hash then matches nothing.
  if (EVP_Digest(key.data(), key.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1) {
    return "";
  }
  return Hex(digest.data(), size);
}

bool HashesEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || a.empty()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

nlohmann::json ToJson(const KeyRecord& record) {
  nlohmann::json out = {{"id", record.id}, {"scope", record.scope}};
  if (!record.admin()) out["tenant"] = record.tenant;
  out["sha256"] = record.sha256;
  out["name"] = record.name;
  out["created_at"] = record.created_at;
  return out;
}

Result<KeyRecord> ParseKeyRecord(std::string_view id, std::string_view text) {
  auto bad = [id](std::string_view why) {
    return MakeError("bad_key_record", fmt::format("api key {}: stored record {}", id, why));
  };
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object()) return bad("is not a JSON object");

  KeyRecord record;
  record.id = std::string(id);
  const auto string_field = [&json](const char* name, std::string& out) {
    auto it = json.find(name);
    if (it == json.end() || !it->is_string()) return false;
    out = it->get<std::string>();
    return true;
  };
  if (!string_field("scope", record.scope) ||
      (record.scope != "admin" && record.scope != "tenant")) {
    return bad("has no scope \"admin\" or \"tenant\"");
  }
  if (!record.admin() && (!string_field("tenant", record.tenant) || record.tenant.empty())) {
    return bad("has scope tenant but no tenant");
  }
  if (!string_field("sha256", record.sha256) || record.sha256.size() != 64) {
    return bad("has no sha256 of 64 hex characters");
  }
  string_field("name", record.name);
  if (auto it = json.find("created_at"); it != json.end() && it->is_number_unsigned()) {
    record.created_at = it->get<uint64_t>();
  }
  return record;
}

}  // namespace presence::auth
