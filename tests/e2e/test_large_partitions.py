"""End to end: partitions of tens of thousands of Graph agents keep their owner.

Regression: an owner read a partition's whole roster in one Function call and wrote a
round's changes in one call per partition. Redis runs one call at a time, so with large
partitions each call held Redis for longer than the lease renewals could wait; the owner
lost its leases, took them again, read every roster again, and never polled (found by
bench/run at 1,000,000 agents). Rosters are now read in pages, changes written in chunks,
and leases renewed on a connection of their own.

The Redis command timeout is lowered to 150 ms so that a call of a few hundred ms, which
the old code made, fails the renewals quickly; the test then checks that the instance kept
its leases at the same epochs through two full poll rounds.
"""

import os
import tempfile
import unittest
import uuid

from deployment import DeploymentCase

PARTITIONS = 2
AGENTS = 40000
TENANTS = 4


class LargePartitionsTest(DeploymentCase):
    deployment_options = {"instances": 1, "partitions": PARTITIONS, "poll_interval_ms": 500,
                          "extra_config": {"redis": {"timeout_ms": 150}}}

    def test_owner_keeps_its_leases_while_polling_large_partitions(self):
        d = self.d
        d.wait_until(d.balanced, timeout=60, what="instance a owning both partitions")
        epochs = {p: d.lease(p)["epoch"] for p in range(PARTITIONS)}

        names = [f"big{t}" for t in range(TENANTS)]
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
            f.write("tenant,agent,source,graph_user_id\n")
            for n in range(AGENTS):
                user = uuid.uuid5(uuid.NAMESPACE_URL, f"big/{n}")
                f.write(f"{names[n % TENANTS]},big-{n},graph,{user}\n")
            roster = f.name
        try:
            d.ctl("agents", "import", roster, timeout=600)
        finally:
            os.remove(roster)
        sizes = [d.redis_call("HLEN", f"presence:{{p{p}}}:agents") for p in range(PARTITIONS)]
        self.assertEqual(sum(sizes), AGENTS)
        self.assertGreater(min(sizes), 15000, "each partition is large")

        # Two full rounds after the import: every agent asked for twice.
        d.graph.reset_stats()

        def asked():
            tenants = d.graph.stats()["tenants"]
            return all(tenants.get(t, {}).get("presence_ids_total", 0) >= 2 * AGENTS // TENANTS
                       for t in names)

        d.wait_until(asked, timeout=180, interval=0.5, what="two poll rounds over every agent")

        self.assertEqual({p: d.lease(p)["epoch"] for p in range(PARTITIONS)}, epochs,
                         "a lease was lost and taken again while polling")
        with open(d.instances[0].log_path, encoding="utf-8") as log:
            text = log.read()
        for symptom in ("lease not renewed", "heartbeat failed", "presence not written",
                        "roster not read"):
            self.assertNotIn(symptom, text)
        # Each partition's poll report counts all of its agents.
        for p in range(PARTITIONS):
            job = d.redis_call("HGET", f"presence:{{p{p}}}:job", "last_poll_agents")
            self.assertEqual(int(job), sizes[p], f"partition {p}'s last poll report")

if __name__ == "__main__":
    unittest.main()
