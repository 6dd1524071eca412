#include "auth/access_policy.h"

namespace presence::auth {

Access RequiredAccess(std::string_view pattern, bool metrics_open) {
  if (pattern == "/healthz" || pattern == "/readyz") return Access::kOpen;
  if (pattern == "/metrics") return metrics_open ? Access::kOpen : Access::kAdmin;
  if (pattern.empty()) return Access::kAnyKey;
  if (pattern.find("{tenant}") != std::string_view::npos) return Access::kTenant;
  return Access::kAdmin;
}

bool Allows(const KeyRecord& record, Access access, std::string_view tenant) {
  if (record.admin()) return true;
  switch (access) {
    case Access::kOpen:
    case Access::kAnyKey:
      return true;
    case Access::kTenant:
      return !tenant.empty() && record.tenant == tenant;
    case Access::kAdmin:
      return false;
  }
  return false;
}

}  // namespace presence::auth
