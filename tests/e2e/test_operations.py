"""End to end: presencectl steering a running deployment.

drain/undrain move an instance's partitions away and back, rebalance shows and makes its
moves, events replay feeds a new consumer group exactly the selected events, rebuild finds
and repairs a damaged registration, and status shows the deployment; --json is parsed.
"""

import json
import unittest

from deployment import DeploymentCase


class OperationsTest(DeploymentCase):
    deployment_options = {"instances": 3, "partitions": 12}

    def ctl_json(self, *args):
        return json.loads(self.d.ctl("--json", *args).stdout)

    def setUp(self):
        self.d.wait_until(self.d.balanced, timeout=60, what="a balanced split over a, b, c")

    def test_drain_moves_everything_away_and_undrain_takes_some_back(self):
        drained = self.ctl_json("drain", "c", "--timeout", "30")
        self.assertEqual((drained["instance"], drained["partitions_owned"]), ("c", 0))
        # drain returns once the hand-off is complete: nothing is left without an owner.
        owners = self.d.partition_owners()
        self.assertNotIn(None, owners.values(), owners)
        owners = self.d.wait_until(lambda: self.d.balanced(["a", "b"]), timeout=30,
                                   what="12 partitions owned 6/6 by a and b")
        self.assertNotIn("c", owners.values())
        members = {m["id"]: m for m in self.ctl_json("members")["members"]}
        self.assertTrue(members["c"]["draining"])
        self.assertTrue(members["c"]["alive"])
        status = self.ctl_json("status")
        self.assertEqual(status["draining"], 1)

        self.ctl_json("undrain", "c")
        self.d.wait_until(lambda: self.d.balanced(["a", "b", "c"]), timeout=30,
                          what="c owning its share again")

    def test_rebalance_dry_run_then_for_real(self):
        plan = self.ctl_json("rebalance", "--dry-run")
        self.assertTrue(plan["dry_run"])
        self.assertEqual(plan["members"], ["a", "b", "c"])
        self.assertEqual(plan["moves"], [])  # already balanced
        before = plan["generation"]

        done = self.ctl_json("rebalance", "--timeout", "30")
        self.assertFalse(done["dry_run"])
        self.assertGreater(done["generation"], before)
        self.assertEqual(done["moves"], [])
        self.assertTrue(self.d.balanced())

    def test_replay_into_a_new_group_delivers_exactly_the_selected_events(self):
        for i in range(6):
            status, _, body = self.d.register("replay", f"r{i}", source="push")
            self.assertIn(status, (200, 201), body)
        events = self.d.events(tenant="replay")
        events.sort(key=lambda e: tuple(map(int, e["id"].split("-"))))
        start = events[3]["id"]
        out = self.ctl_json("events", "replay", "--from", start, "--group", "replayers")
        self.assertEqual(out["created"], 12)

        # Stream ids are per partition: two partitions may hold the same id.
        def key(entry_id):
            return tuple(map(int, entry_id.split("-")))
        later = {(p, e["id"]) for p in range(12) for e in self._stream(p)
                 if key(e["id"]) >= key(start)}
        self.assertEqual(out["events"], len(later))
        delivered = set()
        for p in range(12):
            reply = self.d.redis_call("XREADGROUP", "GROUP", "replayers", "me", "STREAMS",
                                      f"presence:{{p{p}}}:events", ">") or []
            for _, entries in reply:
                delivered |= {(p, entry_id) for entry_id, _ in entries}
        self.assertEqual(delivered, later)
        # The registrations from the position on, and none before it (another partition
        # may hold an event with the very same id as the position: it is selected too).
        mine = {(e["partition"], e["id"]): key(e["id"]) >= key(start) for e in events}
        self.assertEqual({k for k, selected in mine.items() if selected} & delivered,
                         {k for k, selected in mine.items() if selected})
        self.assertFalse({k for k, selected in mine.items() if not selected} & delivered)
        self.assertGreaterEqual(sum(mine.values()), 3)

    def test_rebuild_finds_and_repairs_a_damaged_registration(self):
        status, _, body = self.d.register("fix", "victim", source="push")
        self.assertIn(status, (200, 201), body)
        p = self.d.partition_of("fix", "victim")
        record = self.d.agent_record("fix", "victim")
        record["source"] = "graph"
        record["graph_user_id"] = "00000000-0000-0000-0000-000000000000"
        self.d.redis_call("HSET", f"presence:{{p{p}}}:agents", "fix/victim", json.dumps(record))

        found = self.d.ctl("--json", "rebuild", check=False)
        self.assertEqual(found.returncode, 1, found.stderr)
        report = json.loads(found.stdout)
        damaged = [d for d in report["differences"] if d["tenant"] == "fix"]
        self.assertEqual(len(damaged), 1, report)
        self.assertEqual(damaged[0]["kind"], "mismatch")
        self.assertEqual({f["field"] for f in damaged[0]["fields"]}, {"source", "graph_user_id"})

        self.ctl_json("rebuild", "--repair")
        self.assertEqual(self.d.agent_record("fix", "victim")["source"], "push")
        self.assertEqual(self.d.agent_record("fix", "victim")["graph_user_id"], "")
        self.assertEqual(self.ctl_json("rebuild")["differences"], [])

    def test_rebuild_repairs_a_record_replaced_by_garbage(self):
        # Regression: the repaired record was built on top of the stored one, so a
        # record without tenant and agent stayed unrepairable.
        status, _, body = self.d.register("fix", "garbled", source="push")
        self.assertIn(status, (200, 201), body)
        p = self.d.partition_of("fix", "garbled")
        self.d.redis_call("HSET", f"presence:{{p{p}}}:agents", "fix/garbled",
                          json.dumps({"broken": True}))
        # An unreadable record is the service's fault, not a missing agent: a logged 500.
        status, _, body = self.d.request("GET", "/v1/tenants/fix/agents/garbled")
        self.assertEqual((status, body["error"]["code"]), (500, "internal_error"), body)
        # Pushed presence says the same, not "unexpected outcome".
        status, _, body = self.d.request("PUT", "/v1/tenants/fix/agents/garbled/presence",
                                         {"availability": "Away", "activity": "Away"})
        self.assertEqual(status, 500, body)
        self.assertIn("rebuild --repair", body["error"]["message"])

        repaired = self.d.ctl("--json", "rebuild", "--repair", check=False)
        self.assertEqual(repaired.returncode, 0, repaired.stdout + repaired.stderr)
        record = self.d.agent_record("fix", "garbled")
        self.assertNotIn("broken", record)
        self.assertEqual((record["tenant"], record["agent"], record["state"]),
                         ("fix", "garbled", "registered"))
        self.assertEqual(self.d.request("GET", "/v1/tenants/fix/agents/garbled")[0], 200)

    def test_status(self):
        status = self.ctl_json("status")
        self.assertEqual(status["partitions"], 12)
        self.assertEqual(status["alive"], 3)
        self.assertIn(status["leader"]["instance"], ["a", "b", "c"])
        self.assertTrue(status["functions"]["current"])
        self.assertGreater(status["assignment_generation"], 0)
        self.assertEqual(status["unowned"], 0)
        self.assertIn("unowned     0 partitions", self.d.ctl("status").stdout)

    def _stream(self, p):
        return [{"id": entry_id} for entry_id, _ in
                self.d.redis_call("XRANGE", f"presence:{{p{p}}}:events", "-", "+") or []]


if __name__ == "__main__":
    unittest.main()
