#include "graph/presence_values.h"

#include <catch2/catch.hpp>

namespace presence::graph {
namespace {

TEST_CASE("availability is normalised case-insensitively to its canonical spelling",
          "[graph][values]") {
  CHECK(NormalizeAvailability("Available") == "Available");
  CHECK(NormalizeAvailability("busy") == "Busy");
  CHECK(NormalizeAvailability("DONOTDISTURB") == "DoNotDisturb");
  CHECK(NormalizeAvailability("availableidle") == "AvailableIdle");
  CHECK(NormalizeAvailability("bErIgHtBaCk") == "BeRightBack");
  CHECK(NormalizeAvailability("presenceunknown") == "PresenceUnknown");
}

TEST_CASE("unknown availability becomes PresenceUnknown", "[graph][values]") {
  CHECK(NormalizeAvailability("") == "PresenceUnknown");
  CHECK(NormalizeAvailability("Sleeping") == "PresenceUnknown");
  CHECK(NormalizeAvailability("Busy ") == "PresenceUnknown");
  CHECK(NormalizeAvailability("InAMeeting") == "PresenceUnknown");  // an activity only
  CHECK(NormalizeAvailability(std::string_view("Busy\0", 5)) == "PresenceUnknown");
}

TEST_CASE("activity is normalised case-insensitively, unknown becomes PresenceUnknown",
          "[graph][values]") {
  CHECK(NormalizeActivity("inameeting") == "InAMeeting");
  CHECK(NormalizeActivity("INACONFERENCECALL") == "InAConferenceCall");
  CHECK(NormalizeActivity("urgentinterruptionsonly") == "UrgentInterruptionsOnly");
  CHECK(NormalizeActivity("OffWork") == "OffWork");
  CHECK(NormalizeActivity("presenting") == "Presenting");
  CHECK(NormalizeActivity("AvailableIdle") == "PresenceUnknown");  // an availability only
  CHECK(NormalizeActivity("Lunch") == "PresenceUnknown");
  CHECK(NormalizeActivity("") == "PresenceUnknown");
}

TEST_CASE("every documented value maps to itself", "[graph][values]") {
  for (const char* value : {"Available", "AvailableIdle", "Away", "BeRightBack", "Busy", "BusyIdle",
                            "DoNotDisturb", "Offline", "PresenceUnknown"}) {
    CHECK(NormalizeAvailability(value) == value);
  }
  for (const char* value :
       {"Available", "Away", "BeRightBack", "Busy", "DoNotDisturb", "InACall", "InAConferenceCall",
        "Inactive", "InAMeeting", "Offline", "OffWork", "OutOfOffice", "PresenceUnknown",
        "Presenting", "UrgentInterruptionsOnly"}) {
    CHECK(NormalizeActivity(value) == value);
  }
}

TEST_CASE("GUIDs are recognised in any case and lower-cased", "[graph][values]") {
  CHECK(IsGuid("5f4b3a2e-1d0c-4b9a-8f7e-6d5c4b3a2f10"));
  CHECK(IsGuid("5F4B3A2E-1D0C-4B9A-8F7E-6D5C4B3A2F10"));
  CHECK(CanonicalGuid("5F4B3A2E-1D0C-4B9A-8F7E-6D5C4B3A2F10") ==
        std::optional<std::string>("5f4b3a2e-1d0c-4b9a-8f7e-6d5c4b3a2f10"));
}

TEST_CASE("non-GUIDs are refused", "[graph][values]") {
  for (const char* text :
       {"", "5f4b3a2e1d0c4b9a8f7e6d5c4b3a2f10", "{5f4b3a2e-1d0c-4b9a-8f7e-6d5c4b3a2f10}",
        "5f4b3a2e-1d0c-4b9a-8f7e-6d5c4b3a2f1", "5f4b3a2e-1d0c-4b9a-8f7e-6d5c4b3a2f100",
        "5f4b3a2e-1d0c-4b9a-8f7e_6d5c4b3a2f10", "5f4b3a2g-1d0c-4b9a-8f7e-6d5c4b3a2f10",
        "5f4b3a2e-1d0c4-b9a-8f7e-6d5c4b3a2f10", "alice@example.com"}) {
    INFO(text);
    CHECK_FALSE(IsGuid(text));
    CHECK_FALSE(CanonicalGuid(text).has_value());
  }
}

}  // namespace
}  // namespace presence::graph
