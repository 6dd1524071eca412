"""End to end: bad requests get a 4xx JSON error and write nothing (DESIGN.md invariant 11).

Each request is sent through nginx and straight to an instance; before and after, the
event streams and every agent record are compared.
"""

import unittest

from deployment import DeploymentCase, guid

GOOD = {"source": "graph", "graph_user_id": guid("acme", "zed")}
AGENT = "/v1/tenants/acme/agents/zed"
JSON = {"Content-Type": "application/json"}


def cases():
    """(name, method, path, body, headers, expected status, expected error code or None)."""
    return [
        ("bad JSON", "PUT", AGENT, '{"source": "graph",', JSON, 400, "bad_json"),
        ("JSON not an object", "PUT", AGENT, "[1, 2]", JSON, 400, "bad_json"),
        ("unknown field", "PUT", AGENT, {**GOOD, "colour": "red"}, None, 400, "unknown_field"),
        ("bad source", "PUT", AGENT, {"source": "fax"}, None, 400, "bad_source"),
        ("bad graph_user_id", "PUT", AGENT, {"source": "graph", "graph_user_id": "not-a-guid"},
         None, 400, "bad_graph_user_id"),
        ("graph without graph_user_id", "PUT", AGENT, {"source": "graph"}, None, 400,
         "bad_graph_user_id"),
        ("bad seq", "PUT", AGENT, {**GOOD, "seq": -1}, None, 400, "bad_seq"),
        ("bad labels", "PUT", AGENT, {**GOOD, "labels": {"team": 7}}, None, 400, "bad_labels"),
        ("bad agent id", "PUT", "/v1/tenants/acme/agents/bad!id", GOOD, None, 400, "bad_id"),
        ("agent id too long", "PUT", "/v1/tenants/acme/agents/" + "x" * 129, GOOD, None, 400,
         "bad_id"),
        ("bad tenant id", "PUT", "/v1/tenants/ac%20me/agents/zed", GOOD, None, 400, "bad_id"),
        ("wrong content type", "PUT", AGENT, '{"source": "push"}',
         {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        ("oversized body", "PUT", AGENT,
         {**GOOD, "labels": {"padding": "x" * 200}, "pad": "y" * 100_000}, None, 413,
         "payload_too_large"),
        ("bad seq on delete", "DELETE", AGENT + "?seq=abc", None, None, 400, "bad_seq"),
        ("bad pushed availability", "PUT", AGENT + "/presence",
         {"availability": "Sleeping", "activity": "Away"}, None, 400, "bad_availability"),
        ("bad observed_at", "PUT", AGENT + "/presence",
         {"availability": "Busy", "activity": "Busy", "observed_at": "yesterday"}, None, 400,
         "bad_observed_at"),
        ("bad list limit", "GET", "/v1/tenants/acme/agents?limit=0", None, None, 400,
         "bad_limit"),
        ("agent id of dots only", "PUT", "/v1/tenants/acme/agents/%2e%2e", GOOD, None, 400,
         "bad_id"),
        ("deeply nested JSON", "PUT", AGENT, "[" * 60000, JSON, 400, "json_too_deep"),
    ]


class BadRequestTest(DeploymentCase):
    deployment_options = {"instances": 3, "partitions": 16}

    def snapshot(self):
        return self.d.event_count(), self.d.agents_snapshot()

    def test_bad_requests_get_a_json_error_and_write_nothing(self):
        # Something to compare against: a registered agent in the same tenant.
        self.assertEqual(self.d.register("acme", "existing")[0], 201)
        before = self.snapshot()

        for name, method, path, body, headers, status, code in cases():
            for via in (None, 1):
                with self.subTest(name, via="nginx" if via is None else "instance b"):
                    answer_status, answer_headers, answer = self.d.request(
                        method, path, body, headers=headers, via=via)
                    self.assertEqual(answer_status, status, answer)
                    self.assertTrue(answer_headers.get("content-type", "").startswith(
                        "application/json"), answer_headers)
                    self.assertIsInstance(answer, dict, answer)
                    error = answer.get("error", {})
                    self.assertTrue(error.get("code"), answer)
                    self.assertTrue(error.get("message"), answer)
                    if code is not None:
                        self.assertEqual(error["code"], code, answer)
                    self.assertEqual(self.snapshot(), before, "a bad request wrote something")

        # Nothing was registered, and every instance is still serving.
        status, _, body = self.d.request("GET", AGENT)
        self.assertEqual(status, 404, body)
        for i in range(3):
            self.assertEqual(self.d.request("GET", "/healthz", via=i)[0], 200)

    def test_push_to_a_graph_agent_is_refused_and_writes_nothing(self):
        self.assertEqual(self.d.register("acme", "graphy")[0], 201)
        before = self.snapshot()
        status, _, body = self.d.request("PUT", "/v1/tenants/acme/agents/graphy/presence",
                                         {"availability": "Busy", "activity": "Busy"})
        self.assertGreaterEqual(status, 400, body)
        self.assertLess(status, 500, body)
        self.assertTrue(body["error"]["code"], body)
        self.assertEqual(self.snapshot(), before)

    def test_unknown_agent_push_is_404(self):
        status, _, body = self.d.request("PUT", "/v1/tenants/acme/agents/ghost/presence",
                                         {"availability": "Busy", "activity": "Busy"})
        self.assertEqual(status, 404, body)
        self.assertEqual(body["error"]["code"], "not_found")


if __name__ == "__main__":
    unittest.main()
