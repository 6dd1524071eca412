#include "auth/api_key.h"

#include <set>

#include <catch2/catch.hpp>

namespace presence::auth {
namespace {

TEST_CASE("a new key is pk_, a 12 hex id and a 43 character base64url secret", "[auth][key]") {
  Result<NewKey> key = GenerateKey();
  REQUIRE(key.ok());
  CHECK(key->key.size() == 3 + 12 + 1 + 43);
  CHECK(key->key.starts_with("pk_" + key->id + "_"));
  CHECK(IsKeyId(key->id));
  CHECK(KeyId(key->key) == std::optional<std::string>(key->id));
}

TEST_CASE("new keys differ", "[auth][key]") {
  std::set<std::string> keys;
  std::set<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    Result<NewKey> key = GenerateKey();
    REQUIRE(key.ok());
    keys.insert(key->key);
    ids.insert(key->id);
  }
  CHECK(keys.size() == 200);
  CHECK(ids.size() == 200);
}

TEST_CASE("malformed keys have no id", "[auth][key]") {
  const std::string secret(43, 'A');
  CHECK(KeyId("pk_0123456789ab_" + secret) == std::optional<std::string>("0123456789ab"));
  CHECK_FALSE(KeyId(""));
  CHECK_FALSE(KeyId("pk_"));
  CHECK_FALSE(KeyId("sk_0123456789ab_" + secret));                      // wrong prefix
  CHECK_FALSE(KeyId("pk_0123456789AB_" + secret));                      // upper-case id
  CHECK_FALSE(KeyId("pk_0123456789a_" + secret + "A"));                 // short id
  CHECK_FALSE(KeyId("pk_0123456789ab-" + secret));                      // no separator
  CHECK_FALSE(KeyId("pk_0123456789ab_" + secret + "A"));                // long secret
  CHECK_FALSE(KeyId("pk_0123456789ab_" + secret.substr(1)));            // short secret
  CHECK_FALSE(KeyId("pk_0123456789ab_" + std::string(42, 'A') + "="));  // padding
  CHECK_FALSE(KeyId("pk_0123456789ab_" + std::string(42, 'A') + "+"));  // not url-safe
}

TEST_CASE("the hash is the SHA-256 of the whole key in hex", "[auth][key]") {
  CHECK(HashKey("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(HashKey("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("hashes compare equal only when identical", "[auth][key]") {
  const std::string a = HashKey("pk_a");
  CHECK(HashesEqual(a, HashKey("pk_a")));
  CHECK_FALSE(HashesEqual(a, HashKey("pk_b")));
  CHECK_FALSE(HashesEqual(a, a.substr(1)));
  CHECK_FALSE(HashesEqual("", ""));
}

TEST_CASE("a key record survives JSON and bad records are refused", "[auth][key]") {
  KeyRecord record{"0123456789ab", "tenant", "acme", std::string(64, 'f'), "crm", 1700000000000};
  Result<KeyRecord> back = ParseKeyRecord(record.id, ToJson(record).dump());
  REQUIRE(back.ok());
  CHECK(back->scope == "tenant");
  CHECK(back->tenant == "acme");
  CHECK(back->sha256 == record.sha256);
  CHECK(back->name == "crm");
  CHECK(back->created_at == record.created_at);

  KeyRecord admin{"0123456789ac", "admin", "", std::string(64, 'e'), "", 1};
  CHECK_FALSE(ToJson(admin).contains("tenant"));
  CHECK(ParseKeyRecord(admin.id, ToJson(admin).dump())->admin());

  CHECK(ParseKeyRecord("x", "not json").error().code == "bad_key_record");
  CHECK_FALSE(ParseKeyRecord("x", R"({"scope":"root","sha256":"00"})").ok());
  CHECK_FALSE(
      ParseKeyRecord("x", R"({"scope":"tenant","sha256":")" + std::string(64, 'a') + R"("})").ok());
  CHECK_FALSE(ParseKeyRecord("x", R"({"scope":"admin","sha256":"abc"})").ok());
}

}  // namespace
}  // namespace presence::auth
