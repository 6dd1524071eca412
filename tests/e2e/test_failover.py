"""End to end: kill -9 of an instance; its partitions are owned again and events continue.

Uses presenced's default lease and membership timings (conf/presenced.toml), so the
measured time is the one a default deployment gives. It is printed as a line starting
with "MEASURED" (see it with `ctest --test-dir build -R e2e.test_failover -V`).
"""

import signal
import sys
import time
import unittest

from deployment import DeploymentCase, guid

PARTITIONS = 16


class FailoverTest(DeploymentCase):
    deployment_options = {"instances": 3, "partitions": PARTITIONS, "poll_interval_ms": 300}

    def test_kill_9_then_partitions_are_owned_again_and_events_continue(self):
        d = self.d
        before = d.wait_until(d.balanced, timeout=60, what="a balanced split over a, b, c")
        epochs = {p: int(d.lease(p).get("epoch") or 0) for p in range(PARTITIONS)}

        # Agents in every partition, so that the victim's partitions have work.
        agents = [f"agent-{n}" for n in range(64)]
        for agent in agents:
            self.assertEqual(d.register("omega", agent)[0], 201)
        partition_of = {agent: d.partition_of("omega", agent) for agent in agents}

        # Kill c and time how long until every partition has a live owner again.
        victim = "c"
        moved = sorted(p for p, owner in before.items() if owner == victim)
        killed_at = time.monotonic()
        d.kill(2, signal.SIGKILL)
        d.wait_until(lambda: all(o in ("a", "b") for o in d.partition_owners().values()),
                     timeout=60, interval=0.02, what="every partition owned by a or b")
        elapsed = time.monotonic() - killed_at
        print(f"\nMEASURED kill -9 of instance {victim}: {len(moved)} of {PARTITIONS} partitions "
              f"moved; every partition owned again {elapsed:.2f} s after the kill "
              f"(presenced default lease and membership timings)", file=sys.stderr, flush=True)

        after = d.wait_until(lambda: d.balanced(["a", "b"]), timeout=60,
                             what="an 8/8 split over a and b")
        for p in range(PARTITIONS):
            if p not in moved:
                self.assertEqual(after[p], before[p], f"partition {p} moved needlessly")
            else:
                self.assertGreater(int(d.lease(p)["epoch"]), epochs[p],
                                   f"partition {p}: a new owner has a greater epoch")

        # Events continue for agents of the partitions that moved.
        movers = [a for a in agents if partition_of[a] in moved][:5]
        self.assertTrue(movers, f"no agent in the moved partitions {moved}")
        for agent in movers:
            d.graph.set_presence(guid("omega", agent), "Busy", "InAMeeting")
        for agent in movers:
            events = d.wait_until(
                lambda: d.events("omega", agent, type="presence.changed"), timeout=30,
                what=f"a presence.changed event of omega/{agent} after the takeover")
            self.assertEqual(events[-1]["data"]["after"]["activity"], "InAMeeting")

        # The API keeps answering through nginx while c is gone.
        for _ in range(6):
            status, _, body = d.request("GET", "/v1/tenants/omega/agents/agent-1")
            self.assertEqual(status, 200, body)

        # c comes back under the same id and gets its share again.
        d.start(2)
        d.wait_until(d.balanced, timeout=60, what="a balanced split after c restarted")


if __name__ == "__main__":
    unittest.main()
