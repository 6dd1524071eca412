#pragma once

#include <string_view>

namespace presence::store {

// The text of lib/store/functions.lua, the Redis Functions library named
// "presence" that holds every command of the service.
std::string_view FunctionsSource();

}  // namespace presence::store
