"""Agent records as the Functions library stores them (docs/redis-layout.md).

    record = decode_record("acme", "ann", redis.call("HGET", agents_key, "acme/ann"))

A stored record is a MessagePack array (library version 6 on) or a JSON object (older
versions). This reader is written from the layout document, apart from the library, so
that tests check the bytes in Redis and not only the library's own view of them. It reads
the MessagePack subset the records use and raises ValueError on anything else.
"""

import json
import struct

__all__ = ["decode_record"]

STATES = ["registered", "deregistered"]
SOURCES = ["graph", "push"]
AVAILABILITIES = ["Available", "AvailableIdle", "Away", "BeRightBack", "Busy", "BusyIdle",
                  "DoNotDisturb", "Offline", "PresenceUnknown"]
ACTIVITIES = ["Available", "Away", "BeRightBack", "Busy", "DoNotDisturb", "InACall",
              "InAConferenceCall", "Inactive", "InAMeeting", "Offline", "OffWork", "OutOfOffice",
              "PresenceUnknown", "Presenting", "UrgentInterruptionsOnly"]
FIELDS = ["format", "state", "version", "seq", "source", "graph_user_id", "labels",
          "created_at", "updated_at", "availability", "activity", "presence_at", "observed_at",
          "presence_source", "expires_at"]
CODED = {"state": STATES, "source": SOURCES, "presence_source": SOURCES,
         "availability": AVAILABILITIES, "activity": ACTIVITIES}

_FIXED = {0xcc: ">B", 0xcd: ">H", 0xce: ">I", 0xcf: ">Q", 0xd0: ">b", 0xd1: ">h", 0xd2: ">i",
          0xd3: ">q", 0xca: ">f", 0xcb: ">d"}
_STR = {0xd9: ">B", 0xda: ">H", 0xdb: ">I", 0xc4: ">B", 0xc5: ">H", 0xc6: ">I"}
_ARRAY = {0xdc: ">H", 0xdd: ">I"}


def _unpack(data, at):
    """One MessagePack value at offset `at`: (value, next offset)."""
    first = data[at]
    at += 1
    if first <= 0x7f:
        return first, at
    if first >= 0xe0:
        return first - 0x100, at
    if 0xa0 <= first <= 0xbf:
        return data[at:at + (first & 0x1f)].decode("utf-8", "surrogateescape"), \
            at + (first & 0x1f)
    if 0x90 <= first <= 0x9f:
        return _unpack_items(data, at, first & 0x0f)
    if first in (0xc0, 0xc2, 0xc3):
        return {0xc0: None, 0xc2: False, 0xc3: True}[first], at
    if first in _FIXED:
        size = struct.calcsize(_FIXED[first])
        value = struct.unpack(_FIXED[first], data[at:at + size])[0]
        return (int(value) if first in (0xca, 0xcb) and value == int(value) else value), \
            at + size
    if first in _STR:
        size = struct.calcsize(_STR[first])
        length = struct.unpack(_STR[first], data[at:at + size])[0]
        at += size
        return data[at:at + length].decode("utf-8", "surrogateescape"), at + length
    if first in _ARRAY:
        size = struct.calcsize(_ARRAY[first])
        return _unpack_items(data, at + size, struct.unpack(_ARRAY[first], data[at:at + size])[0])
    raise ValueError(f"MessagePack type 0x{first:02x} is not used by agent records")


def _unpack_items(data, at, count):
    items = []
    for _ in range(count):
        value, at = _unpack(data, at)
        items.append(value)
    return items, at


def _guid_text(value):
    raw = value.encode("utf-8", "surrogateescape")
    if len(raw) != 16:
        return value
    h = raw.hex()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def decode_record(tenant, agent, stored):
    """The record dict of a stored value (str as tests/support/resp.py returns it)."""
    if stored.startswith("{"):
        return json.loads(stored)
    data = stored.encode("utf-8", "surrogateescape")
    values, end = _unpack(data, 0)
    if end != len(data) or not isinstance(values, list) or len(values) != len(FIELDS) \
            or values[0] != 1:
        raise ValueError(f"{tenant}/{agent}: not an agent record of format 1: {data!r}")
    record = {"tenant": tenant, "agent": agent}
    for name, value in zip(FIELDS[1:], values[1:]):
        if value is False and name in ("seq", "source", "presence_source", "expires_at"):
            continue  # absent
        if name in CODED and isinstance(value, int):
            value = CODED[name][value - 1]
        if name == "graph_user_id":
            value = _guid_text(value)
        record[name] = value
    return record
