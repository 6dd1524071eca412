"""End-to-end tests of presencectl against a private redis-server.

Runs the real binary ($PRESENCECTL_BIN) with PRESENCE_REDIS pointing at a
RedisServer of tests/support; the Functions library is loaded by presencectl
itself. Each test class starts one server; each test flushes it.
"""

import json
import os
import subprocess
import tempfile
import time
import unittest
import uuid

from redis_server import RedisServer, free_port

BIN = os.environ.get("PRESENCECTL_BIN", "presencectl")
GUID = "2f6a3c1e-8b1d-4c5e-9f00-0a1b2c3d4e5f"


class CtlTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = RedisServer()
        cls.server.start()
        cls.redis = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.redis.close()
        cls.server.stop()

    def setUp(self):
        self.redis.call("FLUSHALL")
        self.redis.call("FUNCTION", "FLUSH")

    def ctl(self, *args, redis=None, timeout=60):
        env = dict(os.environ)
        env["PRESENCE_REDIS"] = redis or f"127.0.0.1:{self.server.port}"
        return subprocess.run([BIN, *args], env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)

    def ok(self, *args):
        result = self.ctl(*args)
        self.assertEqual(result.returncode, 0, f"{args}: {result.stderr}")
        return result

    def ctl_json(self, *args):
        return json.loads(self.ok("--json", *args).stdout)

    def init(self, partitions=8):
        self.redis.call("HSET", "presence:{ctl}:meta", "partitions", str(partitions))

    def agent_count(self):
        partitions = int(self.redis.call("HGET", "presence:{ctl}:meta", "partitions"))
        return sum(self.redis.call("HLEN", f"presence:{{p{p}}}:agents")
                   - self.redis.call("ZCARD", f"presence:{{p{p}}}:tombs")
                   for p in range(partitions))


class AgentCommandsTest(CtlTestCase):
    def test_register_show_deregister(self):
        out = self.ok("agents", "register", "acme", "alice", "--graph-user-id", GUID.upper(),
                      "--label", "team=red", "--label", "site=nyc").stdout
        self.assertEqual(out.strip(), "created acme/alice (version 1)")
        out = self.ok("agents", "register", "acme", "alice", "--graph-user-id", GUID,
                      "--label", "site=nyc", "--label", "team=red").stdout
        self.assertEqual(out.strip(), "unchanged acme/alice (version 1)")
        out = self.ok("agents", "register", "acme", "alice", "--push").stdout
        self.assertEqual(out.strip(), "updated acme/alice (version 2)")

        shown = self.ctl_json("agents", "show", "acme", "alice")
        self.assertTrue(shown["ok"])
        self.assertEqual(shown["agent"]["state"], "registered")
        self.assertEqual(shown["agent"]["source"], "push")
        self.assertEqual(shown["agent"]["version"], 2)
        self.assertIn("availability", self.ok("agents", "show", "acme", "alice").stdout)

        out = self.ok("agents", "deregister", "acme", "alice").stdout
        self.assertEqual(out.strip(), "deregistered acme/alice (version 3)")
        out = self.ok("agents", "deregister", "acme", "alice").stdout
        self.assertEqual(out.strip(), "unchanged acme/alice: not registered")
        gone = self.ctl("agents", "show", "acme", "alice")
        self.assertEqual(gone.returncode, 1)
        self.assertIn("presencectl: error: acme/alice: not_found", gone.stderr)

    def test_register_initialises_the_deployment(self):
        self.ok("agents", "register", "acme", "bob", "--push", "--partitions", "16")
        self.assertEqual(self.redis.call("HGET", "presence:{ctl}:meta", "partitions"), "16")
        clash = self.ctl("agents", "register", "acme", "eve", "--push", "--partitions", "32")
        self.assertEqual(clash.returncode, 1)
        self.assertIn("deployment has 16 partitions, --partitions 32 given", clash.stderr)

    def test_uninitialised_deployment_is_an_error(self):
        result = self.ctl("agents", "show", "acme", "alice")
        self.assertEqual(result.returncode, 1)
        self.assertIn("presencectl: error: deployment not initialised: start presenced first",
                      result.stderr)

    def test_stale_seq_is_refused(self):
        self.init()
        self.ok("agents", "register", "acme", "alice", "--push", "--seq", "10")
        result = self.ctl("--json", "agents", "register", "acme", "alice",
                          "--graph-user-id", GUID, "--seq", "9")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(json.loads(result.stdout)["code"], "stale_seq")
        self.assertIn("acme/alice: stale_seq", result.stderr)

    def test_list_pages_through_all_partitions(self):
        self.init(8)
        names = [f"agent{i:02}" for i in range(25)]
        for name in names:
            self.ok("-q", "agents", "register", "acme", name, "--push")
        self.ok("-q", "agents", "register", "other", "zed", "--push")

        listed = self.ctl_json("agents", "list", "acme")
        self.assertEqual(listed["count"], 25)
        self.assertEqual([a["agent"] for a in listed["agents"]], names)
        limited = [a["agent"] for a in
                   self.ctl_json("agents", "list", "acme", "--limit", "3")["agents"]]
        # Any 3 of the tenant's agents (partitions keep no id order), sorted.
        self.assertEqual(len(limited), 3)
        self.assertEqual(limited, sorted(limited))
        self.assertTrue(set(limited) <= set(names), limited)
        table = self.ok("agents", "list", "acme").stdout.splitlines()
        self.assertTrue(table[0].startswith("AGENT"))
        self.assertEqual(len(table), 26)

    def test_library_is_loaded_again_when_missing(self):
        self.init()
        self.ok("agents", "register", "acme", "alice", "--push")
        self.redis.call("FUNCTION", "FLUSH")
        self.ok("agents", "show", "acme", "alice")
        self.assertEqual(len(self.redis.call("FUNCTION", "LIST")), 1)


class ImportTest(CtlTestCase):
    def write_csv(self, lines):
        directory = tempfile.mkdtemp(prefix="presencectl-test-")
        path = os.path.join(directory, "roster.csv")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        self.addCleanup(os.remove, path)
        return path

    def roster(self, count):
        lines = ["tenant,agent,source,graph_user_id,labels"]
        for i in range(count):
            if i % 2:
                lines.append(f"t{i % 3},a{i},graph,{uuid.UUID(int=i)},team=t{i % 5};site=x")
            else:
                lines.append(f"t{i % 3},a{i},push,,")
        return lines

    def test_import_creates_then_leaves_unchanged(self):
        path = self.write_csv(self.roster(1000))
        result = self.ok("agents", "import", path)
        self.assertRegex(result.stdout.strip(), r"^imported 1000 rows: 1000 created, 0 updated, "
                                                r"0 unchanged, 0 refused in \d+\.\d s$")
        self.assertEqual(result.stderr, "")  # no progress when stderr is not a terminal
        self.assertEqual(self.agent_count(), 1000)

        again = json.loads(self.ok("--json", "agents", "import", path).stdout)
        self.assertEqual((again["rows"], again["unchanged"], again["created"]), (1000, 1000, 0))

    def test_bad_line_is_refused_with_its_number_and_nothing_is_written(self):
        lines = self.roster(30)
        lines[16] = f"t1,a16,graph,not-a-guid,"  # line 17 of the file
        path = self.write_csv(lines)
        result = self.ctl("agents", "import", path)
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"{path}:17: graph_user_id 'not-a-guid' is not a GUID", result.stderr)
        self.assertIn("1 invalid rows, nothing imported", result.stderr)
        self.assertEqual(self.redis.call("DBSIZE"), 0)

    def test_quoted_fields_and_duplicates(self):
        path = self.write_csv(["tenant,agent,source,graph_user_id",
                               '"acme","al,ice",push,', "acme,bob,push,", "acme,bob,push,"])
        result = self.ctl("agents", "import", path)
        self.assertEqual(result.returncode, 1)
        self.assertIn(':2: agent id "al,ice" may only contain', result.stderr)
        self.assertIn(":4: agent acme/bob is already on line 3", result.stderr)


    def test_ids_and_labels_follow_the_apis_rules(self):
        # Regression: presencectl had its own id and label checks, which let in ids made
        # only of dots and labels the API refuses: agents the API could list but never
        # read, change or deregister.
        path = self.write_csv(["tenant,agent,source,graph_user_id",
                               "csvt,.,push,", "csvt,...,push,", "..,a,push,"])
        result = self.ctl("agents", "import", path)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn(":2: agent id \".\" must not be dots only", result.stderr)
        self.assertIn("3 invalid rows, nothing imported", result.stderr)
        for args in (["csvt", ".."], ["csvt", "ok", "--label", "k" * 65 + "=v"],
                     ["csvt", "ok", "--label", "k=" + "v" * 257],
                     ["csvt", "ok"] + [f"--label=k{n}=v" for n in range(65)]):
            with self.subTest(args=args[:3]):
                result = self.ctl("agents", "register", *args, "--push")
                self.assertEqual(result.returncode, 2, result.stderr)
        self.assertEqual(self.redis.call("DBSIZE"), 0)

class ClusterCommandsTest(CtlTestCase):
    def now_ms(self):
        seconds, micros = self.redis.call("TIME")
        return int(seconds) * 1000 + int(micros) // 1000

    def test_partitions_shows_owners_and_agents(self):
        self.init(4)
        now = self.now_ms()
        self.redis.call("HSET", "presence:{p1}:lease", "instance", "a", "epoch", "7",
                        "expires_at", str(now + 60000), "token", "x")
        self.redis.call("HSET", "presence:{p2}:lease", "instance", "b", "epoch", "2",
                        "expires_at", str(now - 1000), "token", "y")
        self.redis.call("HSET", "presence:{p1}:job", "last_poll_at", str(now - 500))
        self.redis.call("HSET", "presence:{ctl}:assignment", "p1", "a", "p2", "a")
        for i in range(10):
            self.ok("-q", "agents", "register", "acme", f"x{i}", "--push")
        self.ok("-q", "agents", "deregister", "acme", "x0")

        out = self.ok("partitions").stdout.splitlines()
        self.assertEqual(out[-1], "owners: a=1, unowned=3")
        data = self.ctl_json("partitions")
        self.assertEqual(len(data["partitions"]), 4)
        self.assertEqual(sum(p["agents"] for p in data["partitions"]), 9)
        p1, p2 = data["partitions"][1], data["partitions"][2]
        self.assertEqual((p1["owner"], p1["epoch"], p1["target"]), ("a", 7, "a"))
        self.assertGreater(p1["lease_expires_in_ms"], 50000)
        self.assertGreaterEqual(p1["last_poll_age_ms"], 500)
        self.assertIsNone(p2["owner"])
        self.assertEqual(data["owners"], {"a": 1})

    def test_members(self):
        self.init(4)
        self.assertEqual(self.ctl_json("members")["members"], [])
        now = self.now_ms()
        self.redis.call("ZADD", "presence:{ctl}:members", str(now + 5000), "a")
        self.redis.call("HSET", "presence:{ctl}:member:a", "id", "a", "token", "t",
                        "addr", "127.0.0.1:8080", "heartbeat_at", str(now - 100),
                        "expires_at", str(now + 5000), "owned", "1")
        self.redis.call("HSET", "presence:{p3}:lease", "instance", "a", "epoch", "1",
                        "expires_at", str(now + 60000), "token", "t")
        members = self.ctl_json("members")["members"]
        self.assertEqual(len(members), 1)
        self.assertEqual((members[0]["id"], members[0]["alive"], members[0]["partitions_owned"]),
                         ("a", True, 1))
        self.assertGreaterEqual(members[0]["heartbeat_age_ms"], 100)
        self.assertNotIn("token", members[0])
        self.assertIn("127.0.0.1:8080", self.ok("members").stdout)


class EventsTest(CtlTestCase):
    def test_tail_shows_registration_events(self):
        self.init(8)
        self.ok("-q", "agents", "register", "acme", "alice", "--push")
        self.ok("-q", "agents", "register", "acme", "bob", "--graph-user-id", GUID)
        self.ok("-q", "agents", "register", "beta", "carol", "--push")
        self.ok("-q", "agents", "deregister", "acme", "alice")

        lines = self.ok("--json", "events", "tail").stdout.splitlines()
        events = [json.loads(line) for line in lines]
        self.assertEqual([(e["type"], e["tenant"], e["agent"]) for e in events], [
            ("agent.registered", "acme", "alice"), ("agent.registered", "acme", "bob"),
            ("agent.registered", "beta", "carol"), ("agent.deregistered", "acme", "alice")])
        self.assertEqual(events[1]["data"]["graph_user_id"], GUID)
        self.assertEqual(events[3]["version"], 2)
        ids = [e["id"] for e in events]
        self.assertEqual(ids, sorted(ids, key=lambda i: tuple(map(int, i.split("-")))))

        last = self.ok("events", "tail", "--count", "1").stdout.splitlines()
        self.assertEqual(len(last), 1)
        self.assertIn("agent.deregistered  acme/alice  v2", last[0])
        beta = self.ok("--json", "events", "tail", "--tenant", "beta").stdout.splitlines()
        self.assertEqual([json.loads(l)["agent"] for l in beta], ["carol"])
        since = self.ok("--json", "events", "tail", "--from", ids[2]).stdout.splitlines()
        self.assertEqual([json.loads(l)["id"] for l in since], ids[2:])

    def test_follow_prints_new_events(self):
        self.init(8)
        self.ok("-q", "agents", "register", "acme", "old", "--push")
        env = dict(os.environ, PRESENCE_REDIS=f"127.0.0.1:{self.server.port}")
        follower = subprocess.Popen([BIN, "--json", "events", "tail", "--follow", "-n", "1"],
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
        try:
            first = json.loads(follower.stdout.readline())
            self.assertEqual(first["agent"], "old")
            time.sleep(0.3)
            self.ok("-q", "agents", "register", "acme", "new", "--push")
            second = json.loads(follower.stdout.readline())
            self.assertEqual((second["type"], second["agent"]), ("agent.registered", "new"))
        finally:
            follower.terminate()
            follower.wait(10)
            follower.stdout.close()
            follower.stderr.close()


class UsageTest(CtlTestCase):
    def test_usage_errors_exit_2(self):
        for args in (["agents", "register", "acme"],
                     ["agents", "register", "acme", "a/b", "--push"],
                     ["agents", "register", "acme", "alice"],
                     ["agents", "register", "acme", "alice", "--push", "--graph-user-id", GUID],
                     ["agents", "register", "acme", "alice", "--graph-user-id", "nope"],
                     ["agents", "register", "acme", "alice", "--push", "--seq", "-1"],
                     ["events", "tail", "--from", "yesterday"],
                     ["--redis", "localhost:99999", "partitions"],
                     ["--bogus"], []):
            result = self.ctl(*args)
            self.assertEqual(result.returncode, 2, f"{args}: {result.stderr}")
            self.assertIn("presencectl: error:", result.stderr)
            self.assertEqual(result.stdout, "")
        self.assertEqual(self.redis.call("DBSIZE"), 0)

    def test_mistyped_command_gets_a_suggestion(self):
        result = self.ctl("agnets", "list", "acme")
        self.assertEqual(result.returncode, 2)
        self.assertIn("unknown command 'agnets' (did you mean 'agents'?)", result.stderr)
        result = self.ctl("--redis", "127.0.0.1:1", "agents", "regster", "acme", "alice")
        self.assertEqual(result.returncode, 2)
        self.assertIn("(did you mean 'agents register'?)", result.stderr)
        result = self.ctl("frobnicate")
        self.assertEqual(result.returncode, 2)
        self.assertIn("unknown command 'frobnicate'; commands: agents", result.stderr)

    def test_global_flags_before_the_command_do_not_garble_usage_errors(self):
        # Regression: --json was taken for an option with a value, so the word after it
        # was skipped and the next one reported as an unknown command.
        result = self.ctl("--json", "agnets")
        self.assertEqual(result.returncode, 2)
        self.assertIn("(did you mean 'agents'?)", result.stderr)
        # With --json a usage failure is also a JSON object on stdout, as for exit 1.
        answer = json.loads(result.stdout)
        self.assertEqual((answer["ok"], answer["code"]), (False, "usage"))
        self.assertIn("agnets", answer["message"])
        result = self.ctl("--json", "agents", "show", "acme", "bad!id")
        self.assertEqual(result.returncode, 2)
        self.assertEqual(json.loads(result.stdout)["code"], "usage")
        result = self.ctl("--json", "agents", "list", "acme", "--limit", "abc")
        self.assertEqual(result.returncode, 2)
        self.assertNotIn("unknown command", result.stderr)
        self.assertIn("--limit", result.stderr)

    def test_help_exits_0(self):
        result = self.ctl("agents", "register", "--help")
        self.assertEqual(result.returncode, 0)
        self.assertIn("--graph-user-id", result.stdout)

    def test_redis_down_exits_1(self):
        port = free_port()
        result = self.ctl("--json", "agents", "show", "acme", "alice",
                          redis=f"127.0.0.1:{port}")
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"presencectl: error: redis 127.0.0.1:{port}: Connection refused",
                      result.stderr)
        self.assertEqual(json.loads(result.stdout)["code"], "redis_unavailable")


class OperationsTest(CtlTestCase):
    """drain, undrain, rebalance --dry-run, status and config check without presenced."""

    def now_ms(self):
        seconds, micros = self.redis.call("TIME")
        return int(seconds) * 1000 + int(micros) // 1000

    def add_member(self, member_id, alive=True):
        now = self.now_ms()
        expiry = now + 60000 if alive else now - 1000
        self.redis.call("ZADD", "presence:{ctl}:members", str(expiry), member_id)
        self.redis.call("HSET", f"presence:{{ctl}}:member:{member_id}", "id", member_id,
                        "token", "t-" + member_id, "heartbeat_at", str(now),
                        "expires_at", str(expiry), "draining", "0")

    def test_drain_and_undrain_mark_the_member(self):
        self.init(4)
        self.add_member("a")
        self.add_member("b")
        out = self.ctl_json("drain", "b", "--no-wait")
        self.assertEqual((out["instance"], out["draining"], out["changed"]), ("b", True, True))
        self.assertEqual(self.redis.call("SMEMBERS", "presence:{ctl}:draining"), ["b"])
        members = {m["id"]: m for m in self.ctl_json("members")["members"]}
        self.assertTrue(members["b"]["draining"])
        self.assertTrue(members["b"]["drain_requested"])
        self.assertFalse(members["a"]["draining"])

        # Nobody would be left, or nobody knows the instance: refused unless --force.
        last = self.ctl("drain", "a", "--no-wait")
        self.assertEqual(last.returncode, 1)
        self.assertIn("would leave no live member", last.stderr)
        unknown = self.ctl("--json", "drain", "zed", "--no-wait")
        self.assertEqual(unknown.returncode, 1)
        self.assertEqual(json.loads(unknown.stdout)["code"], "unknown_instance")
        self.ok("drain", "zed", "--no-wait", "--force")

        out = self.ctl_json("undrain", "b")
        self.assertEqual((out["draining"], out["changed"]), (False, True))
        self.assertEqual(self.redis.call("SMEMBERS", "presence:{ctl}:draining"), ["zed"])

    def test_rebalance_dry_run_shows_the_moves(self):
        self.init(6)
        self.add_member("a")
        self.add_member("b")
        self.add_member("c", alive=False)
        self.redis.call("HSET", "presence:{ctl}:assignment", "generation", "3", "members",
                        "a,c", "p0", "a", "p1", "a", "p2", "a", "p3", "c", "p4", "c", "p5", "c")
        plan = self.ctl_json("rebalance", "--dry-run")
        self.assertTrue(plan["dry_run"])
        self.assertEqual(plan["members"], ["a", "b"])
        self.assertEqual(plan["generation"], 3)
        moves = {m["partition"]: (m["from"], m["to"]) for m in plan["moves"]}
        self.assertEqual(moves, {3: ("c", "b"), 4: ("c", "b"), 5: ("c", "b")})
        text = self.ok("rebalance", "--dry-run").stdout
        self.assertIn("p3: c -> b", text)
        self.assertEqual(self.redis.call("EXISTS", "presence:{ctl}:rebalance"), 0)

    def test_rebalance_without_a_leader_times_out(self):
        self.init(2)
        self.add_member("a")
        result = self.ctl("rebalance", "--timeout", "0.5")
        self.assertEqual(result.returncode, 1)
        self.assertIn("not acknowledged by a leader", result.stderr)

    def test_status(self):
        self.init(4)
        self.add_member("a")
        now = self.now_ms()
        self.redis.call("HSET", "presence:{ctl}:leader", "instance", "a", "token", "t-a",
                        "epoch", "5", "expires_at", str(now + 60000))
        self.redis.call("HSET", "presence:{p1}:lease", "instance", "a", "epoch", "1",
                        "expires_at", str(now + 60000), "token", "t-a")
        status = self.ctl_json("status")
        self.assertEqual(status["partitions"], 4)
        self.assertEqual(status["leader"]["instance"], "a")
        self.assertEqual(status["leader"]["epoch"], 5)
        self.assertEqual(status["unowned"], 3)
        self.assertEqual(status["unowned_partitions"], [0, 2, 3])
        self.assertEqual(status["alive"], 1)
        self.assertIsNone(status["functions"]["loaded"])  # status loads nothing
        self.assertFalse(status["functions"]["current"])
        text = self.ok("status").stdout
        self.assertIn("leader      a (epoch 5)", text)
        self.assertNotIn("error", text)

    def test_config_check(self):
        directory = tempfile.mkdtemp(prefix="presencectl-test-")
        good = os.path.join(directory, "good.toml")
        with open(good, "w") as f:
            f.write('[instance]\nid = "a"\n')
        bad = os.path.join(directory, "bad.toml")
        with open(bad, "w") as f:
            f.write('[partitions]\ncount = 0\n')
        self.assertEqual(self.ok("config", "check", good).stdout.strip(), f"{good}: ok")
        result = self.ctl("config", "check", bad)
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"{bad}:2:", result.stderr)
        self.assertFalse(json.loads(self.ctl("--json", "config", "check", bad).stdout)["ok"])


class ReplayAndRebuildTest(CtlTestCase):
    def register_some(self):
        self.init(4)
        for name in ("alice", "bob", "carol"):
            self.ok("-q", "agents", "register", "acme", name, "--push")
        self.ok("-q", "agents", "register", "beta", "dave", "--graph-user-id", GUID,
                "--label", "team=x")
        self.ok("-q", "agents", "deregister", "acme", "bob")
        return [json.loads(l) for l in self.ok("--json", "events", "tail", "-n", "100")
                .stdout.splitlines()]

    def test_replay_into_a_group_delivers_from_the_position(self):
        events = self.register_some()
        start = events[2]["id"]
        out = self.ctl_json("events", "replay", "--from", start, "--group", "g")
        self.assertEqual((out["created"], out["reset"], out["events"]), (4, 0, 3))
        again = self.ctl_json("events", "replay", "--from", start, "--group", "g")
        self.assertEqual((again["created"], again["reset"]), (0, 4))
        delivered = []
        for p in range(4):
            reply = self.redis.call("XREADGROUP", "GROUP", "g", "c1", "STREAMS",
                                    f"presence:{{p{p}}}:events", ">") or []
            for _, entries in reply:
                delivered += [entry_id for entry_id, _ in entries]
        self.assertEqual(sorted(delivered), sorted(e["id"] for e in events[2:]))

        refused = self.ctl("events", "replay", "--from", start, "--group", "g", "--tenant", "a")
        self.assertEqual(refused.returncode, 2)
        self.assertIn("cannot be enforced by a consumer group", refused.stderr)
        neither = self.ctl("events", "replay", "--from", start)
        self.assertEqual(neither.returncode, 2)

    def test_replay_into_a_stream_copies_the_selection(self):
        events = self.register_some()
        out = self.ctl_json("events", "replay", "--from", events[0]["id"], "--to",
                            events[3]["id"], "--tenant", "acme", "--into", "copy")
        wanted = [e for e in events[:4] if e["tenant"] == "acme"]
        self.assertEqual(out["events"], len(wanted))
        copied = self.redis.call("XRANGE", "copy", "-", "+")
        fields = [dict(zip(f[0::2], f[1::2])) for _, f in copied]
        self.assertEqual([f["source_id"] for f in fields], [e["id"] for e in wanted])
        self.assertEqual([int(f["partition"]) for f in fields], [e["partition"] for e in wanted])
        # Times: RFC 3339 and ms both parse.
        self.ok("events", "replay", "--from", "2020-01-01T00:00:00Z", "--into", "all")
        self.assertEqual(self.redis.call("XLEN", "all"), len(events))
        self.assertEqual(self.ctl("events", "replay", "--from", "soon", "--into", "x").returncode,
                         2)

    def test_replay_refuses_to_copy_into_the_services_own_keys(self):
        # Regression: only the exact names of the partition streams were refused, so
        # "presence:{p0}:tombs" (or a stream name with a trailing space) took the copy and
        # the next deregistration failed half way with WRONGTYPE.
        events = self.register_some()
        before = {key: self.redis.call("TYPE", key) for key in self.redis.call("KEYS", "*")}
        for target in ("presence:{p0}:tombs", "presence:{p0}:events ", "presence:{ctl}:draining",
                       "presence:replay:", "presence:x", "", "a\x1bb", "with space"):
            with self.subTest(target=target):
                result = self.ctl("events", "replay", "--from", events[0]["id"], "--into", target)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn("--into", result.stderr)
        after = {key: self.redis.call("TYPE", key) for key in self.redis.call("KEYS", "*")}
        self.assertEqual(after, before)
        self.ok("events", "replay", "--from", events[0]["id"], "--into", "presence:replay:crm")
        self.assertEqual(self.redis.call("XLEN", "presence:replay:crm"), len(events))

    def test_rebuild_finds_and_repairs_differences(self):
        self.register_some()
        clean = self.ctl_json("rebuild")
        self.assertEqual(clean["differences"], [])
        self.assertEqual(clean["events"], 5)

        p_alice = self.partition_of("acme", "alice")
        # Tampered records are written as JSON, which the library still reads (records of
        # library versions before 6).
        record = self.ctl_json("agents", "show", "acme", "alice")["agent"]
        record["source"] = "graph"
        record["version"] = 7
        self.redis.call("HSET", f"presence:{{p{p_alice}}}:agents", "acme/alice",
                        json.dumps(record))
        p_dave = self.partition_of("beta", "dave")
        self.redis.call("HDEL", f"presence:{{p{p_dave}}}:agents", "beta/dave")
        self.redis.call("HSET", "presence:{p0}:agents", "ghost/x",
                        json.dumps({"tenant": "ghost", "agent": "x", "state": "registered",
                                    "version": 1}))

        found = self.ctl("--json", "rebuild")
        self.assertEqual(found.returncode, 1)
        report = json.loads(found.stdout)
        kinds = {(d["tenant"], d["agent"]): d["kind"] for d in report["differences"]}
        self.assertEqual(kinds, {("acme", "alice"): "mismatch", ("beta", "dave"): "missing",
                                 ("ghost", "x"): "extra"})
        alice = [d for d in report["differences"] if d["agent"] == "alice"][0]
        self.assertEqual({f["field"] for f in alice["fields"]}, {"source", "version"})

        repaired = self.ctl_json("rebuild", "--repair")
        self.assertEqual(repaired["repaired"], 3)
        self.assertEqual(self.ctl_json("rebuild")["differences"], [])
        shown = self.ctl_json("agents", "show", "acme", "alice")["agent"]
        self.assertEqual((shown["source"], shown["version"]), ("push", 1))
        self.assertEqual(self.ctl_json("agents", "show", "beta", "dave")["agent"]["labels"],
                         '{"team":"x"}')
        self.assertIn("dave", [a["agent"] for a in
                               self.ctl_json("agents", "list", "beta")["agents"]])

    def test_rebuild_refuses_a_negative_tombstone_retention(self):
        # Regression: "-5" was taken as a huge unsigned retention.
        self.init()
        result = self.ctl("rebuild", "--tombstone-ms", "-5")
        self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
        self.assertIn("--tombstone-ms", result.stderr)

    def test_rebuild_is_honest_about_a_trimmed_stream(self):
        self.register_some()
        for p in range(4):
            self.redis.call("XTRIM", f"presence:{{p{p}}}:events", "MAXLEN", "0")
        out = self.ctl_json("rebuild")
        self.assertEqual(out["differences"], [])
        self.assertEqual(out["unverifiable"], 3)  # alice, carol, dave: registered, no event left
        self.assertTrue(out["trimmed"])
        self.assertIn("stream trimmed", self.ok("rebuild").stderr)

    def partition_of(self, tenant, agent):
        for p in range(4):
            if self.redis.call("HEXISTS", f"presence:{{p{p}}}:agents", f"{tenant}/{agent}"):
                return p
        return None


if __name__ == "__main__":
    unittest.main()
