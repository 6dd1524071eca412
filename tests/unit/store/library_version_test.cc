#include "store/library_version.h"

#include <catch2/catch.hpp>

#include "store/functions_source.h"

using presence::store::DecideLibrary;
using presence::store::LibraryDecision;
using presence::store::LibraryVersionOf;

TEST_CASE("the library version is read from its marker line", "[store][library]") {
  CHECK(LibraryVersionOf("--\nlocal LIBRARY_VERSION = \"12\"\nlocal x = 1\n") == "12");
  CHECK(LibraryVersionOf("local x = \"1\"\n") == "");
  CHECK(LibraryVersionOf("local LIBRARY_VERSION = 12\nlocal y = \"3\"\n") == "");
  CHECK_FALSE(LibraryVersionOf(presence::store::FunctionsSource()).empty());
}

TEST_CASE("a missing or older library is loaded, the same one used", "[store][library]") {
  CHECK(DecideLibrary(std::nullopt, "9") == LibraryDecision::kLoad);
  CHECK(DecideLibrary("8", "9") == LibraryDecision::kLoad);
  CHECK(DecideLibrary("9", "9") == LibraryDecision::kUse);
  CHECK(DecideLibrary("garbage", "9") == LibraryDecision::kLoad);
}

TEST_CASE("a newer library is never replaced by an older binary", "[store][library]") {
  // Regression: any other version was replaced, so an old and a new presenced in
  // a rolling upgrade loaded their own library over each other every 2 s.
  CHECK(DecideLibrary("10", "9") == LibraryDecision::kNewerLoaded);
  CHECK(DecideLibrary("100", "99") == LibraryDecision::kNewerLoaded);  // numbers, not text
  CHECK(DecideLibrary("9", "10") == LibraryDecision::kLoad);
}
