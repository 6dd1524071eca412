"""End to end: Idempotency-Key, seq, tombstones and If-Match (DESIGN.md invariants 4 and 5).

Requests go to different instances to stand for a load balancer that retries elsewhere.
"""

import json
import unittest

from deployment import DeploymentCase, guid


class IdempotencyTest(DeploymentCase):
    deployment_options = {"instances": 3, "partitions": 16}

    def put(self, agent, body, key=None, via=None, headers=None):
        headers = dict(headers or {})
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.d.request("PUT", f"/v1/tenants/idem/agents/{agent}", body,
                              headers=headers, via=via)

    def test_a_retry_with_the_same_key_replays_the_first_answer_without_a_new_event(self):
        body = {"source": "graph", "graph_user_id": guid("idem", "a1"), "seq": 1}
        first = self.put("a1", body, key="k-1", via=0)
        self.assertEqual(first[0], 201, first)
        second = self.put("a1", body, key="k-1", via=1)
        self.assertEqual(second[0], 201, second)
        self.assertEqual(second[2], first[2])
        self.assertEqual(second[1].get("idempotent-replayed"), "true")
        self.assertNotIn("idempotent-replayed", first[1])
        self.assertEqual(len(self.d.events("idem", "a1")), 1)

    def test_the_same_key_with_another_request_is_refused_with_422(self):
        body = {"source": "graph", "graph_user_id": guid("idem", "a2")}
        self.assertEqual(self.put("a2", body, key="k-2", via=0)[0], 201)
        other = dict(body, labels={"site": "lyon"})
        status, _, answer = self.put("a2", other, key="k-2", via=2)
        self.assertEqual(status, 422, answer)
        self.assertEqual(answer["error"]["code"], "idempotency_key_reused")
        self.assertEqual(len(self.d.events("idem", "a2")), 1)
        self.assertEqual(json.loads(self.d.agent_record("idem", "a2")["labels"]), {})

    def test_a_request_refused_by_validation_stores_nothing_for_its_key(self):
        status, _, _ = self.put("a3", {"source": "graph"}, key="k-3", via=0)
        self.assertEqual(status, 400)
        good = {"source": "graph", "graph_user_id": guid("idem", "a3")}
        status, headers, _ = self.put("a3", good, key="k-3", via=1)
        self.assertEqual(status, 201)
        self.assertNotIn("idempotent-replayed", headers)

    def test_a_stale_seq_is_refused_with_409_and_the_current_version(self):
        body = {"source": "push", "seq": 10}
        self.assertEqual(self.put("a4", body, via=0)[0], 201)
        status, _, answer = self.put("a4", {"source": "push", "seq": 9, "labels": {"x": "y"}},
                                     via=1)
        self.assertEqual(status, 409, answer)
        self.assertEqual(answer["error"]["code"], "stale_seq")
        self.assertEqual(answer["error"]["version"], 1)
        self.assertEqual(answer["error"]["seq"], "10")
        self.assertEqual(len(self.d.events("idem", "a4")), 1)

    def test_a_late_register_after_deregister_cannot_bring_the_agent_back(self):
        self.assertEqual(self.put("a5", {"source": "push", "seq": 1}, via=0)[0], 201)
        status, _, _ = self.d.request("DELETE", "/v1/tenants/idem/agents/a5?seq=3", via=1)
        self.assertEqual(status, 200)
        status, _, answer = self.put("a5", {"source": "push", "seq": 2}, via=2)
        self.assertEqual(status, 409, answer)
        self.assertEqual(answer["error"]["code"], "stale_seq")
        self.assertEqual(self.d.request("GET", "/v1/tenants/idem/agents/a5")[0], 404)
        types = [e["type"] for e in self.d.events("idem", "a5")]
        self.assertEqual(types, ["agent.registered", "agent.deregistered"])

    def test_if_match_refuses_a_write_on_another_version_with_412(self):
        status, headers, _ = self.put("a6", {"source": "push"}, via=0)
        self.assertEqual(status, 201)
        self.assertEqual(headers["etag"], '"1"')
        status, _, answer = self.put("a6", {"source": "push", "labels": {"a": "b"}}, via=1,
                                     headers={"If-Match": '"7"'})
        self.assertEqual(status, 412, answer)
        self.assertEqual(answer["error"]["code"], "version_mismatch")
        status, headers, _ = self.put("a6", {"source": "push", "labels": {"a": "b"}}, via=2,
                                      headers={"If-Match": '"1"'})
        self.assertEqual(status, 200)
        self.assertEqual(headers["etag"], '"2"')

    def test_if_match_on_pushed_presence_refuses_another_version_with_412(self):
        self.assertEqual(self.put("a7", {"source": "push"}, via=0)[0], 201)
        path = "/v1/tenants/idem/agents/a7/presence"
        body = {"availability": "Busy", "activity": "InACall"}
        status, _, answer = self.d.request("PUT", path, body, headers={"If-Match": '"5"'}, via=1)
        self.assertEqual(status, 412, answer)
        self.assertEqual(answer["error"]["code"], "version_mismatch")
        status, headers, answer = self.d.request("PUT", path, body, headers={"If-Match": '"1"'},
                                                 via=2)
        self.assertEqual(status, 200, answer)
        self.assertEqual(headers["etag"], '"2"')
        types = [e["type"] for e in self.d.events("idem", "a7")]
        self.assertEqual(types, ["agent.registered", "presence.changed"])


if __name__ == "__main__":
    unittest.main()
