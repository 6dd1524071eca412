"""End to end: partitions are split evenly over the instances and presencectl shows them."""

import json
import unittest

from deployment import DeploymentCase


class PartitionSplitTest(DeploymentCase):
    deployment_options = {"instances": 3, "partitions": 16}

    def test_partitions_are_split_evenly_over_three_instances(self):
        owners = self.d.wait_until(self.d.balanced, timeout=60,
                                   what="16 partitions owned 5/5/6 by a, b and c")
        counts = self.d.owned_counts(owners)
        self.assertEqual(sorted(counts), ["a", "b", "c"])
        self.assertEqual(sorted(counts.values()), [5, 5, 6])

    def test_presencectl_partitions_shows_the_owners(self):
        owners = self.d.wait_until(self.d.balanced, timeout=60, what="a balanced split")

        listed = json.loads(self.d.ctl("--json", "partitions").stdout)
        rows = listed["partitions"] if isinstance(listed, dict) else listed
        self.assertEqual(len(rows), 16, listed)
        shown = {row["partition"]: row["owner"] for row in rows}
        # Leases may be renewed or (rarely) move between the two reads; compare with a
        # fresh view when they differ.
        if shown != owners:
            owners = self.d.partition_owners()
        self.assertEqual(shown, owners)

        # The table ends with the owner summary.
        text = self.d.ctl("partitions").stdout
        self.assertRegex(text, r"owners: a=[56] b=[56] c=[56], unowned=0")

    def test_presencectl_members_lists_the_live_instances(self):
        self.d.wait_until(self.d.balanced, timeout=60, what="a balanced split")
        listed = json.loads(self.d.ctl("--json", "members").stdout)
        members = listed["members"] if isinstance(listed, dict) else listed
        alive = sorted(m["id"] for m in members if m.get("alive", True))
        self.assertEqual(alive, ["a", "b", "c"], listed)


if __name__ == "__main__":
    unittest.main()
