"""End to end: POST /v1/tenants/T/presence, pushed presence for many agents at once.

Real presenced processes behind nginx and a real redis-server. The batch spreads over
partitions, so one request becomes several Function calls; these tests check that every
item gets its own outcome, in order, and that each change appends exactly one event.
"""

import unittest

from deployment import DeploymentCase


class PresenceBatchTest(DeploymentCase):
    deployment_options = {"instances": 2, "partitions": 16}

    def push_batch(self, tenant, items, via=None, headers=None):
        return self.d.request("POST", f"/v1/tenants/{tenant}/presence", {"items": items},
                              via=via, headers=headers)

    def test_batch_applies_each_item_once_in_order(self):
        agents = [f"b{n}" for n in range(40)]
        for agent in agents:
            status, _, body = self.d.register("batch", agent, source="push")
            self.assertEqual(status, 201, body)
        self.d.register("batch", "graphy")  # source graph: pushes are refused for it
        items = [{"agent": a, "availability": "Busy", "activity": "InACall"} for a in agents]
        items += [{"agent": "nobody", "availability": "Away", "activity": "Away"},
                  {"agent": "graphy", "availability": "Away", "activity": "Away"}]
        before = self.d.event_count()

        status, _, body = self.push_batch("batch", items)
        self.assertEqual(status, 200, body)
        self.assertEqual([r["agent"] for r in body["results"]], agents + ["nobody", "graphy"])
        self.assertEqual([r["outcome"] for r in body["results"]],
                         ["changed"] * 40 + ["not_found", "wrong_source"])
        self.assertEqual((body["changed"], body["not_found"], body["wrong_source"]), (40, 1, 1))
        self.assertEqual(self.d.event_count() - before, 40)
        for agent in ("b0", "b39"):
            _, _, record = self.d.request("GET", f"/v1/tenants/batch/agents/{agent}")
            presence = record["presence"]
            self.assertEqual((presence["availability"], presence["activity"]), ("Busy", "InACall"))

        # Resending the same batch (a retry through another instance) changes nothing more.
        status, _, again = self.push_batch("batch", items, via=1)
        self.assertEqual(status, 200, again)
        self.assertEqual(again["changed"], 0, again)
        self.assertEqual(again["unchanged"], 40, again)
        self.assertEqual(self.d.event_count() - before, 40)

    def test_bad_batch_changes_nothing(self):
        self.d.register("bad", "x1", source="push")
        before = self.d.event_count()
        cases = [
            ({"items": [{"agent": "x1", "availability": "Away", "activity": "Away"},
                        {"agent": "x1", "availability": "Nope", "activity": "Away"}]},
             400, "bad_availability"),
            ({"items": []}, 400, "bad_items"),
            ({"items": [{"agent": "x1", "availability": "Away", "activity": "Away"}] * 1001},
             None, None),  # over the item limit or over the body limit: refused either way
            ({"things": []}, 400, "unknown_field"),
        ]
        for body, want_status, want_code in cases:
            status, _, answer = self.d.request("POST", "/v1/tenants/bad/presence", body)
            if want_status is None:
                self.assertIn(status, (400, 413), answer)
            else:
                self.assertEqual(status, want_status, answer)
                self.assertEqual(answer["error"]["code"], want_code, answer)
        status, _, answer = self.push_batch(
            "bad", [{"agent": "x1", "availability": "Away", "activity": "Away"}],
            headers={"Idempotency-Key": "k1"})
        self.assertEqual((status, answer["error"]["code"]), (400, "idempotency_unsupported"))
        self.assertEqual(self.d.event_count(), before)
        _, _, record = self.d.request("GET", "/v1/tenants/bad/agents/x1")
        self.assertEqual(record["presence"]["availability"], "PresenceUnknown")


if __name__ == "__main__":
    unittest.main()
