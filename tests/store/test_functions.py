"""The Redis Functions library `presence` (lib/store/functions.lua) against a
real redis-server: every Function and every refusal of docs/redis-layout.md.

Run from this folder: PYTHONPATH=../support python3 -m unittest -v test_functions
"""

import json
import os
import re
import time
import unittest

from records import decode_record
from redis_server import RedisServer

SOURCE_DIR = os.environ.get(
    "PRESENCE_SOURCE_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
LIBRARY_PATH = os.path.join(SOURCE_DIR, "lib", "store", "functions.lua")

P = 3  # the partition every agent test uses
AGENTS = f"presence:{{p{P}}}:agents"
TOMBS = f"presence:{{p{P}}}:tombs"
REV = f"presence:{{p{P}}}:rev"
EVENTS = f"presence:{{p{P}}}:events"
LEASE = f"presence:{{p{P}}}:lease"
JOB = f"presence:{{p{P}}}:job"
META = "presence:{ctl}:meta"
MEMBERS = "presence:{ctl}:members"
LEADER = "presence:{ctl}:leader"
ASSIGNMENT = "presence:{ctl}:assignment"
GUID = "6f1d2a3b-0c4d-4e5f-8a9b-0123456789ab"
GUID2 = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
MAXLEN = "1000"
DAY_MS = "86400000"
IDEM = f"presence:{{p{P}}}:idem:acme/ann:key-1"


def member_key(instance_id):
    return f"presence:{{ctl}}:member:{instance_id}"


class FunctionsTest(unittest.TestCase):
    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = RedisServer(aof=False)
        cls.server.start()
        with open(LIBRARY_PATH, encoding="utf-8") as f:
            cls.source = f.read()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.r = self.server.client()
        self.r.call("FLUSHALL")
        self.assertEqual(self.r.call("FUNCTION", "LOAD", "REPLACE", self.source), "presence")

    def tearDown(self):
        self.r.close()

    # -- helpers ----------------------------------------------------------

    def fcall(self, name, keys, args, read_only=False):
        """Calls a Function; returns its parsed answer and keeps the raw text."""
        text = self.r.call("FCALL_RO" if read_only else "FCALL", name, len(keys), *keys, *args)
        self.last_text = text
        # Every number (times, versions, counts) is an integer in plain decimal, never 1e+12.
        return json.loads(text, parse_float=lambda number: self.fail(
            f"{name} answered the non-integer number {number}: {text}"))

    def put(self, agent, source="graph", guid=GUID, labels="{}", seq="", if_match="",
            tenant="acme"):
        gid = guid if source == "graph" else ""
        return self.fcall("presence_agent_put",
                          [AGENTS, TOMBS, REV, EVENTS],
                          [tenant, agent, source, gid, labels, seq, if_match, MAXLEN])

    def delete(self, agent, seq="", if_match="", tombstone_ms=DAY_MS, tenant="acme"):
        return self.fcall("presence_agent_delete",
                          [AGENTS, TOMBS, REV, EVENTS],
                          [tenant, agent, seq, if_match, MAXLEN, tombstone_ms])

    def get(self, agent, tenant="acme"):
        return self.fcall("presence_agent_get", [AGENTS], [tenant, agent], read_only=True)

    def list_page(self, cursor, limit, tenant="acme", after=""):
        return self.fcall("presence_agent_list", [AGENTS], [tenant, cursor, after, str(limit)],
                          read_only=True)

    def list_all(self, limit, tenant="acme"):
        """Every page of a tenant's listing: the agent ids of each page."""
        pages, cursor, after = [], "0", ""
        while True:
            page = self.list_page(cursor, limit, tenant=tenant, after=after)
            self.assertLessEqual(len(page["agents"]), limit, page)
            pages.append([a["agent"] for a in page["agents"]])
            if page["done"]:
                return pages
            cursor, after = page["cursor"], page["after"]

    def roster(self):
        return self.fcall("presence_roster", [AGENTS, REV], [], read_only=True)

    def roster_page(self, cursor, count):
        return self.fcall("presence_roster", [AGENTS, REV], [cursor, str(count)], read_only=True)

    def apply(self, items, token="", epoch="", source="graph", polled=""):
        args = [token, epoch, MAXLEN, source, polled]
        for item in items:
            args += [str(v) for v in item]
        return self.fcall("presence_apply", [AGENTS, EVENTS, LEASE, JOB], args)

    def acquire(self, token, instance="i1", ttl_ms=10000, key=LEASE):
        return self.fcall("presence_lease_acquire", [key], [token, instance, str(ttl_ms)])

    def renew(self, token, epoch, ttl_ms=10000, key=LEASE):
        return self.fcall("presence_lease_renew", [key], [token, str(epoch), str(ttl_ms)])

    def release(self, token, epoch, key=LEASE):
        return self.fcall("presence_lease_release", [key], [token, str(epoch)])

    def heartbeat(self, instance_id, token, ttl_ms=10000, addr="127.0.0.1:8080", owned="0"):
        return self.fcall("presence_member_heartbeat", [MEMBERS, member_key(instance_id)],
                          [instance_id, token, str(ttl_ms), addr, owned])

    def members(self):
        return self.fcall("presence_members", [MEMBERS], [], read_only=True)

    def events(self):
        """The partition's events as dicts, data parsed."""
        entries = []
        for _, flat in self.r.call("XRANGE", EVENTS, "-", "+"):
            event = dict(zip(flat[0::2], flat[1::2]))
            event["data"] = json.loads(event["data"])
            entries.append(event)
        return entries

    def stored(self, agent, tenant="acme"):
        """The stored record as the library decodes it (presence_records), or None."""
        field = f"{tenant}/{agent}"
        if not self.r.call("HEXISTS", AGENTS, field):
            return None
        cursor = "0"
        while True:
            page = self.fcall("presence_records", [AGENTS], [cursor, "1000"], read_only=True)
            for entry in page["records"]:
                if entry["field"] == field:
                    return entry.get("agent")
            cursor = page["cursor"]
            if cursor == "0":
                raise AssertionError(f"{field} exists but presence_records did not return it")

    def assert_refused(self, answer, code):
        self.assertFalse(answer["ok"], answer)
        self.assertEqual(answer["code"], code, answer)
        self.assertTrue(answer.get("message"), f"refusal {code} carries no message")

    # -- version and init -------------------------------------------------

    def test_version_is_the_library_version_line(self):
        match = re.search(r'^local LIBRARY_VERSION = "([^"]+)"$', self.source, re.M)
        self.assertIsNotNone(match)
        self.assertEqual(self.r.call("FCALL_RO", "presence_version", 0), match.group(1))

    def test_library_is_named_presence_on_its_first_line(self):
        self.assertEqual(self.source.splitlines()[0], "#!lua name=presence")

    def test_init_stores_partitions_once_and_keeps_the_first(self):
        first = self.fcall("presence_init", [META], ["64"])
        self.assertEqual(first, {"ok": True, "partitions": 64, "created": True})
        again = self.fcall("presence_init", [META], ["128"])
        self.assertEqual(again, {"ok": True, "partitions": 64, "created": False})
        self.assertEqual(self.r.call("HGET", META, "partitions"), "64")
        self.assertRegex(self.r.call("HGET", META, "created_at"), r"^\d{13}$")

    # -- put ----------------------------------------------------------------

    def test_register_creates_version_1_with_one_registered_event(self):
        answer = self.put("a1", labels='{"team":"x"}', seq="5")
        self.assertTrue(answer["ok"])
        self.assertTrue(answer["changed"])
        self.assertTrue(answer["created"])
        agent = answer["agent"]
        self.assertEqual(agent["version"], 1)
        self.assertEqual(agent["state"], "registered")
        self.assertEqual(agent["seq"], "5")
        self.assertEqual(agent["labels"], '{"team":"x"}')
        self.assertEqual(agent["availability"], "PresenceUnknown")
        self.assertEqual(agent["activity"], "PresenceUnknown")
        self.assertEqual((agent["presence_at"], agent["observed_at"]), (0, 0))
        self.assertIsInstance(agent["created_at"], int)
        self.assertGreater(agent["created_at"], 1_600_000_000_000)
        self.assertEqual(self.stored("a1"), agent)

        events = self.events()
        self.assertEqual(len(events), 1)
        event = events[0]
        self.assertEqual(event["type"], "agent.registered")
        self.assertEqual((event["tenant"], event["agent"], event["version"]), ("acme", "a1", "1"))
        self.assertRegex(event["at"], r"^\d{13}$")
        self.assertEqual(event["data"], {"source": "graph", "graph_user_id": GUID,
                                         "labels": {"team": "x"}, "seq": "5"})

    def test_same_put_again_is_unchanged_and_appends_no_event(self):
        self.put("a1", labels='{"a":"b"}')
        again = self.put("a1", labels='{"a":"b"}')
        self.assertEqual((again["ok"], again["changed"], again["created"]), (True, False, False))
        self.assertEqual(again["agent"]["version"], 1)
        self.assertEqual(len(self.events()), 1)

    def test_same_put_with_greater_seq_records_seq_without_event(self):
        self.put("a1", seq="1")
        again = self.put("a1", seq="2")
        self.assertFalse(again["changed"])
        self.assertEqual(self.stored("a1")["seq"], "2")
        self.assertEqual(self.stored("a1")["version"], 1)
        self.assertEqual(len(self.events()), 1)

    def test_update_bumps_version_with_one_updated_event(self):
        self.put("a1")
        answer = self.put("a1", labels='{"skill":"fr"}')
        self.assertEqual((answer["changed"], answer["created"]), (True, False))
        self.assertEqual(answer["agent"]["version"], 2)
        events = self.events()
        self.assertEqual([e["type"] for e in events], ["agent.registered", "agent.updated"])
        self.assertEqual(events[1]["version"], "2")
        self.assertEqual(events[1]["data"]["labels"], {"skill": "fr"})
        self.assertIsNone(events[1]["data"]["seq"])

    def test_stale_seq_is_refused_and_writes_nothing(self):
        self.put("a1", seq="10")
        before = self.r.call("HGET", AGENTS, "acme/a1")
        for seq in ("10", "9", "009", "0"):
            answer = self.put("a1", labels='{"x":"y"}', seq=seq)
            self.assert_refused(answer, "stale_seq")
            self.assertEqual(answer["agent"]["version"], 1)
        self.assertEqual(self.r.call("HGET", AGENTS, "acme/a1"), before)
        self.assertEqual(len(self.events()), 1)

    def test_seq_compares_as_unsigned_64_bit_decimal(self):
        self.put("a1", seq="9")
        self.assertTrue(self.put("a1", labels='{"n":"1"}', seq="10")["changed"])
        self.assertTrue(self.put("a1", labels='{"n":"2"}', seq="9007199254740993")["changed"])
        self.assert_refused(self.put("a1", labels='{"n":"3"}', seq="9007199254740992"),
                            "stale_seq")
        answer = self.put("a1", labels='{"n":"4"}', seq="18446744073709551615")
        self.assertTrue(answer["changed"])
        self.assertEqual(answer["agent"]["seq"], "18446744073709551615")
        self.assert_refused(self.put("a1", labels='{"n":"5"}', seq="018446744073709551615"),
                            "stale_seq")

    def test_put_without_seq_keeps_the_last_seq(self):
        self.put("a1", seq="7")
        self.put("a1", labels='{"k":"v"}')
        self.assertEqual(self.stored("a1")["seq"], "7")
        self.assert_refused(self.put("a1", labels='{"k":"w"}', seq="6"), "stale_seq")

    def test_if_match_mismatch_is_refused_with_the_current_record(self):
        self.put("a1")
        answer = self.put("a1", labels='{"k":"v"}', if_match="2")
        self.assert_refused(answer, "version_mismatch")
        self.assertEqual(answer["agent"]["version"], 1)
        self.assertEqual(len(self.events()), 1)
        self.assertTrue(self.put("a1", labels='{"k":"v"}', if_match="1")["changed"])

    def test_if_match_on_absent_agent_compares_with_version_0(self):
        answer = self.put("a1", if_match="1")
        self.assert_refused(answer, "version_mismatch")
        self.assertIsNone(answer["agent"])
        self.assertIsNone(self.stored("a1"))
        self.assertTrue(self.put("a1", if_match="0")["created"])

    # -- delete -------------------------------------------------------------

    def test_delete_makes_a_tombstone_with_one_event(self):
        self.put("a1", seq="1")
        answer = self.delete("a1", seq="2")
        self.assertEqual((answer["ok"], answer["changed"]), (True, True))
        tomb = answer["agent"]
        self.assertEqual((tomb["state"], tomb["version"], tomb["seq"]), ("deregistered", 2, "2"))
        self.assertGreater(tomb["expires_at"], tomb["updated_at"])
        self.assertEqual(int(self.r.call("ZSCORE", TOMBS, "acme/a1")), tomb["expires_at"])
        events = self.events()
        self.assertEqual([e["type"] for e in events], ["agent.registered", "agent.deregistered"])
        self.assertEqual(events[1]["data"], {"seq": "2"})
        self.assertEqual(events[1]["version"], "2")

        got = self.get("a1")
        self.assert_refused(got, "not_found")
        self.assertEqual(got["agent"]["state"], "deregistered")

    def test_delete_again_is_unchanged_and_appends_no_event(self):
        self.put("a1")
        self.delete("a1")
        again = self.delete("a1")
        self.assertEqual((again["ok"], again["changed"]), (True, False))
        self.assertEqual(len(self.events()), 2)

    def test_delete_of_absent_agent_is_unchanged(self):
        answer = self.delete("ghost")
        self.assertEqual(answer, {"ok": True, "changed": False, "agent": None})
        self.assertIsNone(self.stored("ghost"))
        self.assertEqual(self.events(), [])

    def test_delete_stale_seq_and_if_match_are_refused(self):
        self.put("a1", seq="5")
        self.assert_refused(self.delete("a1", seq="5"), "stale_seq")
        self.assert_refused(self.delete("a1", if_match="7"), "version_mismatch")
        self.assertEqual(self.stored("a1")["state"], "registered")
        self.assertEqual(len(self.events()), 1)

    def test_late_register_with_lower_seq_after_delete_is_refused(self):
        self.put("a1", seq="1")
        self.delete("a1", seq="3")
        answer = self.put("a1", seq="2")
        self.assert_refused(answer, "stale_seq")
        self.assertEqual(answer["agent"]["state"], "deregistered")
        self.assertEqual(self.stored("a1")["state"], "deregistered")
        self.assertEqual(len(self.events()), 2)

    def test_delete_of_absent_agent_with_seq_refuses_a_late_register(self):
        answer = self.delete("a1", seq="8")
        self.assertFalse(answer["changed"])
        self.assertEqual((answer["agent"]["state"], answer["agent"]["seq"]), ("deregistered", "8"))
        self.assert_refused(self.put("a1", seq="7"), "stale_seq")
        created = self.put("a1", seq="9")
        self.assertTrue(created["created"])
        self.assertEqual(created["agent"]["version"], 1)
        self.assertEqual([e["type"] for e in self.events()], ["agent.registered"])

    def test_register_after_delete_continues_version(self):
        self.put("a1")
        self.delete("a1")
        answer = self.put("a1")
        self.assertEqual((answer["changed"], answer["created"]), (True, True))
        self.assertEqual(answer["agent"]["version"], 3)
        self.assertEqual(answer["agent"]["state"], "registered")
        self.assertIsNone(self.r.call("ZSCORE", TOMBS, "acme/a1"))
        events = self.events()
        self.assertEqual([e["type"] for e in events],
                         ["agent.registered", "agent.deregistered", "agent.registered"])
        self.assertEqual([e["version"] for e in events], ["1", "2", "3"])

    def test_expired_tombstone_counts_as_absent(self):
        self.put("a1", seq="5")
        self.delete("a1", seq="6", tombstone_ms="50")
        time.sleep(0.1)
        answer = self.put("a1", seq="1")
        self.assertTrue(answer["created"])
        self.assertEqual(answer["agent"]["version"], 1)

    # -- get, list, roster --------------------------------------------------

    def test_get_returns_registered_agent_or_not_found(self):
        self.put("a1")
        got = self.get("a1")
        self.assertTrue(got["ok"])
        self.assertEqual(got["agent"], self.stored("a1"))
        missing = self.get("nobody")
        self.assert_refused(missing, "not_found")
        self.assertIsNone(missing["agent"])

    def test_list_pages_through_a_tenant_once_each(self):
        # Small hashes are one HSCAN step: `after` splits that step into pages.
        for agent in ("c", "a", "e", "b", "d"):
            self.put(agent)
        self.put("zz", tenant="other")
        pages = self.list_all(2)
        self.assertEqual([len(p) for p in pages], [2, 2, 1])
        self.assertEqual(sorted(sum(pages, [])), ["a", "b", "c", "d", "e"])
        first = self.list_page("0", 2)
        self.assertTrue(all(a["tenant"] == "acme" for a in first["agents"]))

    def test_list_pages_through_a_large_hash_without_loss_or_repeat(self):
        # Past 128 entries the hash is a real hash table and HSCAN takes many steps.
        for n in range(700):
            self.put(f"a{n:03d}", source="push", tenant="acme" if n % 2 == 0 else "beta")
        for limit in (1, 7, 100, 1000):
            with self.subTest(limit=limit):
                listed = sum(self.list_all(limit), [])
                self.assertEqual(len(listed), 350)
                self.assertEqual(sorted(listed), [f"a{n:03d}" for n in range(0, 700, 2)])

    def test_list_of_empty_tenant_is_an_empty_array(self):
        answer = self.list_page("0", 10, tenant="empty")
        self.assertEqual(answer, {"ok": True, "agents": [], "cursor": "0", "after": "",
                                  "done": True})
        self.assertIn('"agents":[]', self.last_text)

    def test_list_skips_deregistered_agents(self):
        self.put("a")
        self.put("b")
        self.delete("a")
        self.assertEqual(self.list_all(10), [["b"]])

    def test_list_misses_no_agent_when_an_earlier_one_is_removed_between_pages(self):
        # Regression: a page resumed its HSCAN step by position, so removing an entry the
        # first page had returned (the sweeper deleting a tombstone) made the next page skip
        # an agent it had never returned.
        self.put("a0", source="push")
        self.delete("a0")  # a tombstone, first in the hash
        agents = [f"a{n}" for n in range(1, 10)]
        for agent in agents:
            self.put(agent, source="push")
        first = self.list_page("0", 3)
        self.assertFalse(first["done"], first)
        self.r.call("HDEL", AGENTS, "acme/a0")  # what presence_sweep does once it expired
        rest = self.list_all_from(first["cursor"], first["after"], 3)
        listed = [a["agent"] for a in first["agents"]] + rest
        self.assertEqual(sorted(listed), agents)

    def list_all_from(self, cursor, after, limit):
        listed = []
        while True:
            page = self.list_page(cursor, limit, after=after)
            listed += [a["agent"] for a in page["agents"]]
            if page["done"]:
                return listed
            cursor, after = page["cursor"], page["after"]

    def changes(self, count, maxlen):
        """`count` presence changes of one push agent, each one event, with `maxlen`."""
        for n in range(count):
            state = ("Busy", "Available")[n % 2]
            answer = self.fcall("presence_apply", [AGENTS, EVENTS, LEASE, JOB],
                                ["", "", str(maxlen), "push", "", "acme", "p1", state, state, ""])
            self.assertEqual(answer["changed"], 1, answer)

    def event_ids(self):
        return [entry[0] for entry in self.r.call("XRANGE", EVENTS, "-", "+")]

    def test_trimming_keeps_the_stream_near_maxlen_without_groups(self):
        self.put("p1", source="push")
        self.changes(700, maxlen=200)
        self.assertLessEqual(self.r.call("XLEN", EVENTS), 200 + 100 + 1)
        self.assertGreaterEqual(self.r.call("XLEN", EVENTS), 200)

    def test_a_batch_larger_than_one_trim_is_trimmed_back_in_the_same_call(self):
        # presence_apply trims once per call; that trim must keep up with the call.
        agents = [f"b{n}" for n in range(1500)]
        for agent in agents:
            self.put(agent, source="push")
        self.r.call("DEL", EVENTS)
        for state in ("Busy", "Away"):
            args = ["", "", "200", "push", ""]
            for agent in agents:
                args += ["acme", agent, state, state, ""]
            answer = self.fcall("presence_apply", [AGENTS, EVENTS, LEASE, JOB], args)
            self.assertEqual(answer["changed"], len(agents), {k: answer[k] for k in ("ok",)})
            self.assertLessEqual(self.r.call("XLEN", EVENTS), 200 + 100 + 1)

    def test_trimming_spares_what_a_consumer_group_has_pending(self):
        # Regression: XADD MAXLEN ~ trimmed entries a group had read and not yet
        # acknowledged (DESIGN.md invariant 10).
        self.put("p1", source="push")
        self.r.call("XGROUP", "CREATE", EVENTS, "billing", "0")
        self.changes(260, maxlen=200)  # 261 entries: below maxlen + slack, none trimmed
        read = self.r.call("XREADGROUP", "GROUP", "billing", "c1", "STREAMS", EVENTS, ">")
        delivered = [entry[0] for entry in read[0][1]]
        self.assertEqual(len(delivered), 261)
        self.r.call("XACK", EVENTS, "billing", *delivered[:220])

        self.changes(600, maxlen=200)
        ids = self.event_ids()
        self.assertTrue(set(delivered[220:]) <= set(ids), "every pending entry is kept")
        self.assertLessEqual(ids.index(delivered[220]), 100, "acknowledged entries were trimmed")

        # Once everything is acknowledged the stream shrinks back to about maxlen.
        self.r.call("XACK", EVENTS, "billing", *delivered[220:])
        self.changes(300, maxlen=200)
        self.assertLessEqual(self.r.call("XLEN", EVENTS), 200 + 100 + 1)

    def test_trimming_waits_for_the_slowest_of_two_groups(self):
        self.put("p1", source="push")
        self.r.call("XGROUP", "CREATE", EVENTS, "fast", "0")
        self.r.call("XGROUP", "CREATE", EVENTS, "slow", "0")
        self.changes(100, maxlen=20)  # 101 entries: below maxlen + slack, none trimmed
        read = self.r.call("XREADGROUP", "GROUP", "fast", "c", "STREAMS", EVENTS, ">")
        self.r.call("XACK", EVENTS, "fast", *[e[0] for e in read[0][1]])
        slow = self.r.call("XREADGROUP", "GROUP", "slow", "c", "COUNT", "1", "STREAMS", EVENTS,
                           ">")
        self.changes(300, maxlen=20)
        self.assertIn(slow[0][1][0][0], self.event_ids(), "slow's pending entry is kept")
        self.assertGreaterEqual(self.r.call("XLEN", EVENTS), 401, "it is the head: none trimmed")

    def test_observation_from_a_fast_clock_counts_as_now(self):
        # Regression: an observed_at minutes ahead was stored as it came, and every later
        # push with a correct clock was stale_observation until that moment.
        self.put("p1", source="push")
        seconds, micros = self.r.call("TIME")
        now = int(seconds) * 1000 + int(micros) // 1000
        ahead = self.apply([("acme", "p1", "Busy", "Busy", now + 240000)], source="push")
        self.assertEqual(ahead["changed"], 1, ahead)
        self.assertLess(self.stored("p1")["observed_at"], now + 60000)
        later = self.apply([("acme", "p1", "Away", "Away", "")], source="push")
        self.assertEqual(later["changed"], 1, later)

    def test_list_takes_a_tenant_with_glob_characters_literally(self):
        self.put("a", tenant="x*")
        self.put("b", tenant="xy")
        self.assertEqual(self.list_all(10, tenant="x*"), [["a"]])

    def test_roster_pages_cover_every_graph_agent_in_small_steps(self):
        # One call over a whole partition held Redis long enough for leases to
        # expire at scale; pages bound each call to one HSCAN step.
        # More than hash-max-listpack-entries (512), which HSCAN returns whole.
        graph = {f"g{i:03d}" for i in range(600)}
        for agent in sorted(graph):
            self.put(agent)
        for i in range(40):
            self.put(f"p{i}", source="push")
        self.delete("g000")
        graph.discard("g000")
        seen, cursor, pages, rev = [], "0", 0, None
        while True:
            page = self.roster_page(cursor, 25)
            self.assertLessEqual(len(page["agents"]), 100, "a page is one HSCAN step, not all")
            rev = page["rev"] if rev is None else rev
            self.assertEqual(page["rev"], rev)
            seen += [row[1] for row in page["agents"]]
            pages += 1
            cursor = page["cursor"]
            if cursor == "0":
                break
        self.assertGreater(pages, 5)
        self.assertEqual(set(seen), graph)
        self.assertEqual(self.roster()["agents"], sorted(self.roster()["agents"]))
        for bad in (["x", "10"], ["0", "0"], ["0", "-3"]):
            self.assert_refused(self.roster_page(*bad), "bad_argument")

    def test_roster_lists_graph_agents_and_rev_follows_its_changes(self):
        empty = self.roster()
        self.assertEqual(empty, {"ok": True, "rev": 0, "cursor": "0", "agents": []})
        self.assertIn('"agents":[]', self.last_text)

        self.put("g1")
        self.put("p1", source="push")
        roster = self.roster()
        self.assertEqual(roster["agents"],
                         [["acme", "g1", GUID, "PresenceUnknown", "PresenceUnknown"]])
        rev = roster["rev"]
        self.assertEqual(rev, 1)

        self.put("g1", labels='{"k":"v"}')   # labels do not change the roster
        self.assertEqual(self.roster()["rev"], rev)
        self.put("g1", guid=GUID2, labels='{"k":"v"}')
        self.assertEqual(self.roster()["rev"], rev + 1)
        self.assertEqual(self.roster()["agents"][0][2], GUID2)
        self.put("p1", source="graph", guid=GUID)  # push -> graph joins the roster
        self.assertEqual(self.roster()["rev"], rev + 2)
        self.assertEqual(len(self.roster()["agents"]), 2)
        self.delete("g1")
        roster = self.roster()
        self.assertEqual(roster["rev"], rev + 3)
        self.assertEqual([a[1] for a in roster["agents"]], ["p1"])
        self.delete("p1")
        self.put("p2", source="push")
        self.assertEqual(self.roster()["rev"], rev + 4)

    # -- apply --------------------------------------------------------------

    def test_apply_with_stale_epoch_writes_nothing(self):
        self.put("g1")
        lease = self.acquire("tok-a")
        items = [("acme", "g1", "Busy", "InACall", 1000)]
        before = self.r.call("HGET", AGENTS, "acme/g1")
        for token, epoch in (("tok-b", lease["epoch"]), ("tok-a", lease["epoch"] + 1),
                             ("tok-a", lease["epoch"] - 1)):
            answer = self.apply(items, token=token, epoch=str(epoch), polled="1")
            self.assert_refused(answer, "stale_epoch")
        self.assertEqual(self.r.call("HGET", AGENTS, "acme/g1"), before)
        self.assertEqual(len(self.events()), 1)
        self.assertEqual(self.r.call("EXISTS", JOB), 0)

    def test_apply_after_lease_expiry_is_refused(self):
        self.put("g1")
        lease = self.acquire("tok-a", ttl_ms=50)
        time.sleep(0.1)
        answer = self.apply([("acme", "g1", "Busy", "Busy", 1)], token="tok-a",
                            epoch=str(lease["epoch"]))
        self.assert_refused(answer, "stale_epoch")
        self.assertEqual(self.stored("g1")["availability"], "PresenceUnknown")

    def test_apply_with_current_epoch_writes_one_event_per_real_change(self):
        for agent in ("g1", "g2", "g3"):
            self.put(agent)
        self.put("p1", source="push")
        lease = self.acquire("tok-a", instance="inst-1")
        epoch = str(lease["epoch"])
        self.apply([("acme", "g3", "Away", "Away", 500)], token="tok-a", epoch=epoch)
        base_events = len(self.events())

        answer = self.apply([("acme", "g1", "Busy", "InACall", 1000),
                             ("acme", "g2", "PresenceUnknown", "PresenceUnknown", 1000),
                             ("acme", "g3", "Away", "Away", 1000),
                             ("acme", "gone", "Busy", "Busy", 1000),
                             ("acme", "p1", "Busy", "Busy", 1000)],
                            token="tok-a", epoch=epoch, polled="5")
        self.assertTrue(answer["ok"])
        self.assertEqual((answer["changed"], answer["unchanged"], answer["missing"]), (1, 2, 1))
        self.assertEqual([r["outcome"] for r in answer["results"]],
                         ["changed", "unchanged", "unchanged", "missing", "wrong_source"])
        self.assertTrue(all("record" not in r for r in answer["results"]))

        events = self.events()[base_events:]
        self.assertEqual(len(events), 1)
        event = events[0]
        self.assertEqual((event["type"], event["agent"], event["version"]),
                         ("presence.changed", "g1", "2"))
        self.assertEqual(event["data"], {
            "before": {"availability": "PresenceUnknown", "activity": "PresenceUnknown"},
            "after": {"availability": "Busy", "activity": "InACall"},
            "source": "graph", "observed_at": 1000})
        g1 = self.stored("g1")
        self.assertEqual((g1["availability"], g1["activity"], g1["version"]),
                         ("Busy", "InACall", 2))
        self.assertEqual((g1["observed_at"], g1["presence_source"]), (1000, "graph"))
        self.assertGreater(g1["presence_at"], 1_600_000_000_000)

        job = self.r.call("HGETALL", JOB)
        job = dict(zip(job[0::2], job[1::2]))
        self.assertEqual((job["instance"], job["epoch"], job["last_poll_agents"]),
                         ("inst-1", epoch, "5"))
        self.assertRegex(job["last_poll_at"], r"^\d{13}$")

    def test_apply_unchanged_gives_no_event(self):
        self.put("g1")
        lease = self.acquire("tok-a")
        answer = self.apply([("acme", "g1", "PresenceUnknown", "PresenceUnknown", 5)],
                            token="tok-a", epoch=str(lease["epoch"]))
        self.assertEqual((answer["changed"], answer["unchanged"]), (0, 1))
        self.assertEqual(answer["results"][0]["record"]["version"], 1)
        self.assertEqual(len(self.events()), 1)

    def test_apply_without_items_answers_empty_results(self):
        lease = self.acquire("tok-a")
        answer = self.apply([], token="tok-a", epoch=str(lease["epoch"]), polled="0")
        self.assertEqual(answer["results"], [])
        self.assertIn('"results":[]', self.last_text)
        self.assertEqual(self.r.call("HGET", JOB, "last_poll_agents"), "0")

    def test_push_changes_presence_unfenced_with_record(self):
        self.put("p1", source="push")
        answer = self.apply([("acme", "p1", "Busy", "InAMeeting", 2000)], source="push")
        self.assertEqual(answer["changed"], 1)
        result = answer["results"][0]
        self.assertEqual((result["tenant"], result["agent"], result["outcome"]),
                         ("acme", "p1", "changed"))
        self.assertEqual(result["record"]["availability"], "Busy")
        self.assertEqual(result["record"]["presence_source"], "push")
        self.assertEqual(self.r.call("EXISTS", JOB), 0)

    def test_push_older_than_stored_observation_is_stale_observation(self):
        self.put("p1", source="push")
        self.apply([("acme", "p1", "Busy", "Busy", 2000)], source="push")
        answer = self.apply([("acme", "p1", "Away", "Away", 1999)], source="push")
        self.assertEqual(answer["results"][0]["outcome"], "stale_observation")
        self.assertEqual(answer["changed"], 0)
        self.assertEqual(self.stored("p1")["availability"], "Busy")
        self.assertEqual(len(self.events()), 2)

    def test_push_to_graph_agent_is_wrong_source(self):
        self.put("g1")
        answer = self.apply([("acme", "g1", "Busy", "Busy", 1)], source="push")
        self.assertEqual(answer["results"][0]["outcome"], "wrong_source")
        self.assertEqual(len(self.events()), 1)

    def test_push_to_unknown_agent_is_missing(self):
        answer = self.apply([("acme", "nobody", "Busy", "Busy", 1)], source="push")
        self.assertEqual(answer["missing"], 1)
        self.assertIsNone(answer["results"][0]["record"])

    # -- sweep --------------------------------------------------------------

    def test_sweep_removes_only_expired_tombstones(self):
        for agent in ("old", "young", "alive"):
            self.put(agent)
        self.delete("old", tombstone_ms="10")
        self.delete("young")
        time.sleep(0.05)
        answer = self.fcall("presence_sweep", [AGENTS, TOMBS], ["100"])
        self.assertEqual(answer, {"ok": True, "removed": 1})
        self.assertIsNone(self.stored("old"))
        self.assertEqual(self.stored("young")["state"], "deregistered")
        self.assertEqual(self.stored("alive")["state"], "registered")
        self.assertEqual(self.r.call("ZRANGE", TOMBS, 0, -1), ["acme/young"])

    def test_sweep_keeps_an_agent_registered_again(self):
        self.put("a1")
        self.delete("a1", tombstone_ms="10")
        self.r.call("ZADD", TOMBS, 1, "acme/a1")  # a leftover tombs entry
        time.sleep(0.05)
        self.put("a1")
        self.r.call("ZADD", TOMBS, 1, "acme/a1")
        answer = self.fcall("presence_sweep", [AGENTS, TOMBS], ["100"])
        self.assertEqual(answer["removed"], 0)
        self.assertEqual(self.stored("a1")["state"], "registered")
        self.assertEqual(self.r.call("ZCARD", TOMBS), 0)

    # -- leases -------------------------------------------------------------

    def test_lease_acquire_grants_epoch_1_then_refuses_another_token(self):
        granted = self.acquire("tok-a", instance="i1")
        self.assertTrue(granted["ok"])
        self.assertEqual(granted["epoch"], 1)
        self.assertEqual(granted["expires_at"], granted["now"] + 10000)
        held = self.acquire("tok-b", instance="i2")
        self.assert_refused(held, "held")
        self.assertEqual((held["instance"], held["epoch"]), ("i1", 1))
        self.assertEqual(held["expires_at"], granted["expires_at"])

    def test_lease_holder_asking_again_renews_same_epoch(self):
        first = self.acquire("tok-a", ttl_ms=1000)
        again = self.acquire("tok-a", ttl_ms=5000)
        self.assertEqual(again["epoch"], first["epoch"])
        self.assertGreater(again["expires_at"], first["expires_at"])

    def test_lease_renew_extends_and_refuses_other_token_or_epoch(self):
        lease = self.acquire("tok-a", ttl_ms=1000)
        renewed = self.renew("tok-a", lease["epoch"], ttl_ms=5000)
        self.assertTrue(renewed["ok"])
        self.assertEqual(renewed["epoch"], lease["epoch"])
        self.assertEqual(renewed["expires_at"], renewed["now"] + 5000)
        self.assert_refused(self.renew("tok-b", lease["epoch"]), "lost")
        self.assert_refused(self.renew("tok-a", lease["epoch"] + 1), "lost")

    def test_lease_expires_and_next_grant_grows_epoch(self):
        lease = self.acquire("tok-a", ttl_ms=50)
        time.sleep(0.1)
        self.assert_refused(self.renew("tok-a", lease["epoch"]), "lost")
        taken = self.acquire("tok-b", instance="i2")
        self.assertEqual(taken["epoch"], lease["epoch"] + 1)
        back = self.acquire("tok-a")
        self.assert_refused(back, "held")

    def test_lease_release_lets_go_at_once_and_keeps_epoch(self):
        lease = self.acquire("tok-a")
        self.assertEqual(self.release("tok-b", lease["epoch"]), {"ok": True, "released": False})
        self.assertEqual(self.release("tok-a", lease["epoch"] + 1),
                         {"ok": True, "released": False})
        self.assertEqual(self.release("tok-a", lease["epoch"]), {"ok": True, "released": True})
        self.assertEqual(self.r.call("HGET", LEASE, "epoch"), str(lease["epoch"]))
        self.assert_refused(self.renew("tok-a", lease["epoch"]), "lost")
        taken = self.acquire("tok-b")
        self.assertEqual(taken["epoch"], lease["epoch"] + 1)

    def test_lease_epoch_grows_by_one_per_new_token(self):
        epochs = []
        for i in range(4):
            token = f"tok-{i}"
            epochs.append(self.acquire(token)["epoch"])
            self.release(token, epochs[-1])
        self.assertEqual(epochs, [1, 2, 3, 4])

    # -- members and assignment ---------------------------------------------

    def test_member_heartbeat_joins_and_refreshes(self):
        joined = self.heartbeat("i1", "tok-a", owned="3")
        self.assertTrue(joined["ok"])
        self.assertEqual(joined["started_at"], joined["now"])
        time.sleep(0.01)
        again = self.heartbeat("i1", "tok-a")
        self.assertEqual(again["started_at"], joined["started_at"])
        self.assertGreater(again["expires_at"], joined["expires_at"])
        self.assertEqual(int(self.r.call("ZSCORE", MEMBERS, "i1")), again["expires_at"])

    def test_member_heartbeat_of_another_live_token_is_id_in_use(self):
        self.heartbeat("i1", "tok-a", ttl_ms=50)
        answer = self.heartbeat("i1", "tok-b")
        self.assert_refused(answer, "id_in_use")
        self.assertEqual(self.r.call("HGET", member_key("i1"), "token"), "tok-a")
        time.sleep(0.1)
        taken = self.heartbeat("i1", "tok-b")
        self.assertTrue(taken["ok"])
        self.assertEqual(taken["started_at"], taken["now"])
        self.assertEqual(self.r.call("HGET", member_key("i1"), "token"), "tok-b")

    def test_members_lists_hash_fields_and_alive(self):
        self.assertEqual(self.members()["members"], [])
        self.assertIn('"members":[]', self.last_text)
        self.heartbeat("i2", "tok-2", ttl_ms=50, addr="10.0.0.2:80", owned="1,2")
        self.heartbeat("i1", "tok-1", addr="10.0.0.1:80")
        time.sleep(0.1)
        answer = self.members()
        self.assertTrue(answer["ok"])
        members = answer["members"]
        self.assertEqual([m["id"] for m in members], ["i1", "i2"])
        self.assertEqual([m["alive"] for m in members], [True, False])
        self.assertEqual((members[1]["addr"], members[1]["owned"], members[1]["token"]),
                         ("10.0.0.2:80", "1,2", "tok-2"))
        self.assertFalse(members[0]["draining"])
        self.assertIsInstance(members[0]["heartbeat_at"], int)
        self.assertGreater(members[0]["expires_at"], answer["now"])

    def test_member_leave_removes_only_its_own_incarnation(self):
        self.heartbeat("i1", "tok-a")
        left = self.fcall("presence_member_leave", [MEMBERS, member_key("i1")], ["i1", "tok-b"])
        self.assertEqual(left, {"ok": True, "left": False})
        left = self.fcall("presence_member_leave", [MEMBERS, member_key("i1")], ["i1", "tok-a"])
        self.assertEqual(left, {"ok": True, "left": True})
        self.assertEqual(self.members()["members"], [])
        self.assertEqual(self.r.call("EXISTS", member_key("i1")), 0)

    def write_assignment(self, token, epoch, members_csv, pairs):
        args = [token, str(epoch), members_csv]
        for partition, instance in pairs:
            args += [str(partition), instance]
        return self.fcall("presence_assignment_write", [ASSIGNMENT, LEADER, MEMBERS], args)

    def test_assignment_write_is_fenced_by_the_leader_lease(self):
        self.assert_refused(self.write_assignment("tok-a", 1, "i1", [(0, "i1")]), "stale_epoch")
        self.assertEqual(self.r.call("EXISTS", ASSIGNMENT), 0)
        leader = self.acquire("tok-a", key=LEADER)
        self.assert_refused(self.write_assignment("tok-b", leader["epoch"], "i1", [(0, "i1")]),
                            "stale_epoch")
        self.assertEqual(self.r.call("EXISTS", ASSIGNMENT), 0)

    def test_assignment_write_replaces_all_with_next_generation_and_prunes_dead(self):
        self.heartbeat("dead", "tok-d", ttl_ms=20)
        self.heartbeat("i1", "tok-1")
        time.sleep(0.05)
        leader = self.acquire("tok-a", key=LEADER)
        first = self.write_assignment("tok-a", leader["epoch"], "i1,i2",
                                      [(0, "i1"), (1, "i2"), ("p2", "i1")])
        self.assertEqual(first, {"ok": True, "generation": 1, "pruned": 1})
        second = self.write_assignment("tok-a", leader["epoch"], "i1", [(0, "i1")])
        self.assertEqual(second["generation"], 2)
        flat = self.r.call("HGETALL", ASSIGNMENT)
        stored = dict(zip(flat[0::2], flat[1::2]))
        self.assertEqual({k: v for k, v in stored.items() if k != "updated_at"},
                         {"generation": "2", "members": "i1", "p0": "i1"})
        self.assertEqual([m["id"] for m in self.members()["members"]], ["i1"])
        self.assertEqual(self.r.call("EXISTS", member_key("dead")), 0)

    # -- graph budget -------------------------------------------------------

    def test_graph_budget_throttles_past_the_limit_until_the_window_ends(self):
        key = "presence:{g:acme}:budget"
        self.assertEqual(self.fcall("presence_graph_budget", [key], ["3", "200", "2"])["ok"], True)
        self.assertEqual(self.fcall("presence_graph_budget", [key], ["3", "200", "1"])["ok"], True)
        throttled = self.fcall("presence_graph_budget", [key], ["3", "200", "1"])
        self.assert_refused(throttled, "throttled")
        self.assertGreater(throttled["wait_ms"], 0)
        self.assertLessEqual(throttled["wait_ms"], 200)
        time.sleep(throttled["wait_ms"] / 1000 + 0.05)
        self.assertTrue(self.fcall("presence_graph_budget", [key], ["3", "200", "3"])["ok"])

    def test_graph_budget_cost_above_limit_is_bad_argument(self):
        answer = self.fcall("presence_graph_budget", ["presence:{g:acme}:budget"],
                            ["3", "200", "4"])
        self.assert_refused(answer, "bad_argument")

    # -- argument errors ----------------------------------------------------

    def test_wrong_argument_counts_are_bad_argument(self):
        calls = [
            ("presence_init", [META], []),
            ("presence_agent_put", [AGENTS, TOMBS, REV, EVENTS], ["acme"]),
            ("presence_agent_delete", [AGENTS, TOMBS, REV, EVENTS], ["a"]),
            ("presence_apply", [AGENTS, EVENTS, LEASE, JOB], ["", "", MAXLEN, "push", "", "x"]),
            ("presence_sweep", [AGENTS, TOMBS], []),
            ("presence_lease_acquire", [LEASE], ["tok"]),
            ("presence_lease_renew", [LEASE], ["tok", "1"]),
            ("presence_lease_release", [LEASE], ["tok"]),
            ("presence_member_heartbeat", [MEMBERS, member_key("i1")], ["i1"]),
            ("presence_member_leave", [MEMBERS, member_key("i1")], ["i1"]),
            ("presence_assignment_write", [ASSIGNMENT, LEADER, MEMBERS], ["t", "1", "i1", "0"]),
            ("presence_graph_budget", ["presence:{g:acme}:budget"], ["1"]),
        ]
        for name, keys, args in calls:
            with self.subTest(name=name):
                self.assert_refused(self.fcall(name, keys, args), "bad_argument")
        read_only = [
            ("presence_agent_get", [AGENTS], ["acme"]),
            ("presence_agent_list", [AGENTS], ["acme", "0"]),
            ("presence_roster", [AGENTS, REV], ["extra"]),
        ]
        for name, keys, args in read_only:
            with self.subTest(name=name):
                self.assert_refused(self.fcall(name, keys, args, read_only=True), "bad_argument")
        self.assertEqual(self.r.call("DBSIZE"), 0)

    def test_malformed_numbers_are_bad_argument(self):
        self.assert_refused(self.fcall("presence_init", [META], ["many"]), "bad_argument")
        self.assert_refused(self.acquire("tok", ttl_ms="soon"), "bad_argument")
        self.assert_refused(self.list_page("0", "ten"), "bad_argument")
        self.assert_refused(self.list_page("zero", 10), "bad_argument")
        self.put("p1", source="push")
        self.assert_refused(self.apply([("acme", "p1", "Busy", "Busy", "yesterday")],
                                       source="push"), "bad_argument")
        self.assertEqual(self.stored("p1")["availability"], "PresenceUnknown")

    def test_read_only_functions_run_with_fcall_ro(self):
        self.put("a1")
        self.assertTrue(self.get("a1")["ok"])
        self.assertTrue(self.list_page("0", 1)["ok"])
        self.assertTrue(self.roster()["ok"])
        self.assertTrue(self.members()["ok"])

    def test_a_resend_with_the_same_seq_is_a_retry_not_stale(self):
        self.assertTrue(self.put("ann", source="push", seq="5")["created"])
        again = self.put("ann", source="push", seq="5")
        self.assertTrue(again["ok"], again)
        self.assertFalse(again["changed"])
        self.assert_refused(self.put("ann", source="push", seq="5", labels='{"a":"b"}'),
                            "stale_seq")
        self.assertTrue(self.delete("ann", seq="6")["changed"])
        again = self.delete("ann", seq="6")
        self.assertTrue(again["ok"], again)
        self.assertFalse(again["changed"])
        self.assertEqual(len(self.events()), 2)

    def test_event_data_carries_labels_as_an_object_and_no_graph_id_for_push(self):
        self.put("ann", source="push", labels='{"site":"lyon"}')
        data = self.events()[0]["data"]
        self.assertEqual(data["labels"], {"site": "lyon"})
        self.assertIsNone(data["graph_user_id"])

    def push(self, agent, availability, activity, if_match="", observed_at=""):
        return self.fcall("presence_push", [AGENTS, EVENTS, LEASE, JOB],
                          [if_match, MAXLEN, "acme", agent, availability, activity, observed_at])

    def test_push_with_if_match_checks_the_version_first(self):
        self.put("ann", source="push")
        self.assert_refused(self.push("ann", "Busy", "InACall", if_match="4"), "version_mismatch")
        self.assertEqual(len(self.events()), 1)
        answer = self.push("ann", "Busy", "InACall", if_match="1")
        self.assertEqual(answer["changed"], 1, answer)
        self.assertEqual(answer["results"][0]["record"]["version"], 2)
        self.assertEqual(self.push("ann", "Away", "Away")["changed"], 1)

    # ---- presence_once: idempotency keys around the command Functions ----

    def once(self, fingerprint, command="presence_agent_put", labels="{}", retention="60000"):
        return self.fcall("presence_once",
                          [IDEM, AGENTS, TOMBS, REV, EVENTS],
                          [command, fingerprint, retention,
                           "acme", "ann", "push", "", labels, "", "", MAXLEN])

    def test_once_applies_the_command_and_stores_its_answer_with_a_ttl(self):
        answer = self.once("f1")
        self.assertTrue(answer["ok"] and answer["created"], answer)
        self.assertNotIn("replayed", answer)
        self.assertGreater(self.r.call("PTTL", IDEM), 0)
        self.assertEqual(len(self.events()), 1)

    def test_once_replays_the_first_answer_for_the_same_fingerprint(self):
        first = self.once("f1")
        again = self.once("f1")
        self.assertTrue(again.pop("replayed"))
        self.assertEqual(again, first)
        self.assertEqual(len(self.events()), 1)

    def test_once_refuses_another_fingerprint_and_changes_nothing(self):
        self.once("f1")
        refused = self.once("f2", labels='{"a":"b"}')
        self.assert_refused(refused, "idempotency_key_reused")
        self.assertEqual(self.stored("ann")["labels"], "{}")
        self.assertEqual(len(self.events()), 1)

    def test_once_refuses_an_unknown_command_without_storing(self):
        self.assert_refused(self.once("f1", command="presence_lease_acquire"), "bad_argument")
        self.assertIsNone(self.r.call("GET", IDEM))


    # -- how records are stored ---------------------------------------------

    def test_record_is_stored_compactly_and_read_back_whole(self):
        self.put("g1", labels='{"team":"a/b"}')
        self.apply([("acme", "g1", "Busy", "InACall", 1000)])
        raw = self.r.call("HGET", AGENTS, "acme/g1")
        stored_bytes = len(raw.encode("utf-8", "surrogateescape"))
        # MessagePack: about 80 bytes here, where the same record as JSON took about 450.
        self.assertLess(stored_bytes, 100, raw)
        record = self.get("g1")["agent"]
        # tests/support/records.py reads the bytes from the layout document alone.
        self.assertEqual(decode_record("acme", "g1", raw), record)
        self.assertEqual(record["tenant"], "acme")
        self.assertEqual(record["agent"], "g1")
        self.assertEqual(record["graph_user_id"], GUID)
        self.assertEqual(record["labels"], '{"team":"a/b"}')
        self.assertEqual((record["availability"], record["activity"]), ("Busy", "InACall"))
        self.assertEqual(record["observed_at"], 1000)
        self.assertEqual(record["source"], "graph")
        self.assertEqual(record["presence_source"], "graph")
        self.assertEqual(record["version"], 2)

    def test_values_outside_the_code_tables_are_kept_as_text(self):
        # The library does not validate: whatever a caller stored comes back unchanged.
        self.put("g1", guid="not-a-guid")
        self.apply([("acme", "g1", "SomethingNew", "AlsoNew", 1000)])
        record = self.get("g1")["agent"]
        self.assertEqual(record["graph_user_id"], "not-a-guid")
        self.assertEqual((record["availability"], record["activity"]), ("SomethingNew", "AlsoNew"))

    def test_tombstone_round_trips_seq_and_expiry(self):
        self.put("g1", seq="18446744073709551615")
        self.delete("g1", seq="18446744073709551616")
        record = self.get("g1")["agent"]
        self.assertEqual(decode_record("acme", "g1", self.r.call("HGET", AGENTS, "acme/g1")),
                         record)
        self.assertEqual(record["state"], "deregistered")
        self.assertEqual(record["seq"], "18446744073709551616")
        self.assertGreater(record["expires_at"], record["updated_at"])

    def test_json_record_of_an_older_library_is_read_and_rewritten(self):
        legacy = {"tenant": "acme", "agent": "old", "state": "registered", "version": 4,
                  "seq": "7", "source": "push", "graph_user_id": "", "labels": "{}",
                  "created_at": 1000, "updated_at": 2000, "availability": "Away",
                  "activity": "Away", "presence_at": 2000, "observed_at": 2000,
                  "presence_source": "push"}
        self.r.call("HSET", AGENTS, "acme/old", json.dumps(legacy))
        self.assertEqual(self.get("old")["agent"], legacy)
        answer = self.apply([("acme", "old", "Busy", "Busy", 3000)], source="push")
        self.assertEqual(answer["changed"], 1, answer)
        self.assertFalse(self.r.call("HGET", AGENTS, "acme/old").startswith("{"))
        record = self.get("old")["agent"]
        self.assertEqual((record["version"], record["seq"], record["availability"]),
                         (5, "7", "Busy"))

    def test_unreadable_record_is_refused_and_never_overwritten(self):
        # Regression: a JSON object without the record's fields (the format before
        # version 6) read as "missing" to presence_apply instead of "unreadable".
        for garbage in ("\x93garbage", '{"broken":true}', '{"version":"1"}', "[1,2]", "{"):
            with self.subTest(garbage=garbage):
                self.r.call("FLUSHALL")
                self.put("g1", source="push")
                self.r.call("HSET", AGENTS, "acme/g1", garbage)
                for answer in (self.get("g1"), self.put("g1", labels='{"a":"b"}'),
                               self.delete("g1")):
                    self.assert_refused(answer, "corrupt_record")
                    self.assertIn("acme/g1", answer["message"])
                for source in ("graph", "push"):
                    answer = self.apply([("acme", "g1", "Busy", "Busy", 1000)], source=source)
                    self.assertEqual((answer["unreadable"], answer["changed"]), (1, 0), answer)
                self.assertEqual(self.r.call("HGET", AGENTS, "acme/g1"), garbage)
                self.assertEqual(self.list_all(10), [[]])
                self.assertEqual(self.roster()["agents"], [])

    def test_records_pages_through_every_record_decoded(self):
        for n in range(300):
            self.put(f"a{n:03d}", source="push")
        self.r.call("HSET", AGENTS, "acme/bad", "junk")
        seen, unreadable, cursor = {}, [], "0"
        while True:
            page = self.fcall("presence_records", [AGENTS], [cursor, "50"], read_only=True)
            for entry in page["records"]:
                if entry.get("unreadable"):
                    unreadable.append(entry["field"])
                else:
                    seen[entry["field"]] = entry["agent"]
            cursor = page["cursor"]
            if cursor == "0":
                break
        self.assertEqual(len(seen), 300)
        self.assertEqual(unreadable, ["acme/bad"])
        self.assertEqual(seen["acme/a007"]["agent"], "a007")

if __name__ == "__main__":
    unittest.main()
