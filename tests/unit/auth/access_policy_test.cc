#include "auth/access_policy.h"

#include <catch2/catch.hpp>

#include "auth/authenticator.h"

namespace presence::auth {
namespace {

TEST_CASE("health is open, metrics admin unless opened, tenant routes by tenant",
          "[auth][policy]") {
  CHECK(RequiredAccess("/healthz", false) == Access::kOpen);
  CHECK(RequiredAccess("/readyz", false) == Access::kOpen);
  CHECK(RequiredAccess("/metrics", false) == Access::kAdmin);
  CHECK(RequiredAccess("/metrics", true) == Access::kOpen);
  CHECK(RequiredAccess("/v1/tenants/{tenant}/agents/{agent}", false) == Access::kTenant);
  CHECK(RequiredAccess("/v1/tenants/{tenant}/agents", false) == Access::kTenant);
  CHECK(RequiredAccess("/v1/admin/anything", false) == Access::kAdmin);
  CHECK(RequiredAccess("", false) == Access::kAnyKey);
}

TEST_CASE("a tenant key opens only its tenant's routes; an admin key all", "[auth][policy]") {
  KeyRecord tenant{"0123456789ab", "tenant", "acme", std::string(64, 'a'), "", 0};
  KeyRecord admin{"0123456789ac", "admin", "", std::string(64, 'a'), "", 0};
  CHECK(Allows(tenant, Access::kTenant, "acme"));
  CHECK_FALSE(Allows(tenant, Access::kTenant, "globex"));
  CHECK_FALSE(Allows(tenant, Access::kTenant, ""));
  CHECK_FALSE(Allows(tenant, Access::kAdmin, ""));
  CHECK(Allows(tenant, Access::kAnyKey, ""));
  CHECK(Allows(admin, Access::kAdmin, ""));
  CHECK(Allows(admin, Access::kTenant, "globex"));
}

TEST_CASE("the bearer token is read from the Authorization header", "[auth][policy]") {
  CHECK(BearerToken("Bearer pk_x") == std::optional<std::string_view>("pk_x"));
  CHECK(BearerToken("bearer  pk_x ") == std::optional<std::string_view>("pk_x"));
  CHECK_FALSE(BearerToken("Basic dXNlcjpwYXNz"));
  CHECK_FALSE(BearerToken("Bearer"));
  CHECK_FALSE(BearerToken("Bearer "));
  CHECK_FALSE(BearerToken(""));
}

}  // namespace
}  // namespace presence::auth
