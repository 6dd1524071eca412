#pragma once

#include <string_view>

#include "auth/api_key.h"

namespace presence::auth {

// What a route asks of the caller's key.
enum class Access {
  kOpen,    // no key: GET /healthz, GET /readyz (and /metrics with auth.metrics = "open")
  kAnyKey,  // any valid key: paths no route matches (they answer 404 or 405 after the check)
  kTenant,  // an admin key, or a tenant key of the {tenant} in the path
  kAdmin,   // an admin key: every other route, /metrics by default
};

// The access a route pattern (as given to http::Router::Add, "" when no route matched)
// requires. Routes with a {tenant} parameter are tenant routes; a new route without one is
// admin-only until said otherwise, so nothing is ever open by accident.
Access RequiredAccess(std::string_view pattern, bool metrics_open);

// Whether `record` may use a route of `access` for `tenant` (the decoded {tenant}).
bool Allows(const KeyRecord& record, Access access, std::string_view tenant);

}  // namespace presence::auth
