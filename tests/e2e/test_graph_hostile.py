"""Graph answers are input too (issue 6): hostile answers change nothing and crash nothing.

One presenced polls two tenants of the fake Graph: "evil", switched to one hostile mode
after another, and "good", answered normally. For each mode: evil's agents keep their last
presence (records unchanged, no event appended), good's changes still arrive, the
presence_graph_bad_responses_total series of the mode's reason grows, presenced stays alive
and /readyz stays 200. Switched back to normal, evil's presence flows again.

Run from this folder: PYTHONPATH=../support python3 -m unittest -v test_graph_hostile
"""

import re
import unittest

from deployment import DeploymentCase, guid

EVIL_AGENTS = ("eve", "mallory")
# Hostile presence answers and the reason each is counted under.
PRESENCE_MODES = {
    "garbage": "not_json",
    "not_object": "bad_shape",
    "no_value": "bad_shape",
    "value_not_array": "bad_shape",
    "bad_items": "bad_item",
    "overlong": "bad_item",
    "extra_items": "too_many_items",
    "unknown_ids": "unknown_id",
    "duplicate_ids": "duplicate_id",
    "wrong_content_type": "content_type",
    "status_500": "http_5xx",
    "status_502": "http_5xx",
    "huge": "too_large",
    "large": "too_large",
    "deep": "too_deep",
    "drip": "timeout",
    "hang": "timeout",
}
TOKEN_MODES = {
    "garbage": "not_json",
    "no_access_token": "bad_access_token",
    "access_token_number": "bad_access_token",
    "expires_in_mistyped": "bad_expires_in",
    "expires_in_negative": "bad_expires_in",
    "expires_in_huge": "bad_expires_in",
    "access_token_crlf": "bad_access_token",
    "large": "too_large",
    "deep": "too_deep",
    "status_400": "http_4xx",
    "status_401": "http_4xx",
    "hang": "timeout",
}
PAIRS = [("Busy", "InACall"), ("Away", "Away"), ("DoNotDisturb", "Presenting"),
         ("Available", "Available"), ("BeRightBack", "BeRightBack"), ("Offline", "OffWork")]
SAMPLE = re.compile(r'^presence_graph_bad_responses_total\{endpoint="(\w+)",reason="(\w+)"\} '
                    r'([0-9.e+]+)$', re.M)


class GraphHostileTest(DeploymentCase):
    deployment_options = dict(instances=1, partitions=4, poll_interval_ms=200,
                              extra_config={"graph": {"timeout_ms": 1500}})

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.turn = 0
        for agent in EVIL_AGENTS:
            assert cls.d.register("evil", agent)[0] == 201
        assert cls.d.register("good", "gus")[0] == 201

    def tearDown(self):
        if self.d is not None and self.d.graph is not None:
            self.d.graph.normal("evil")

    # ---- helpers ----

    def bad_counts(self):
        status, _, body = self.d.request("GET", "/metrics", via=0)
        self.assertEqual(status, 200, body)
        return {(m[0], m[1]): float(m[2]) for m in SAMPLE.findall(body)}

    def presence(self, tenant, agent):
        record = self.d.agent_record(tenant, agent) or {}
        return record.get("availability"), record.get("activity")

    def next_pair(self):
        GraphHostileTest.turn += 1
        return PAIRS[self.turn % len(PAIRS)]

    def set_everyone(self, pair):
        """Gives every user of both tenants a new presence in the fake."""
        for agent in EVIL_AGENTS:
            self.d.graph.set_presence(guid("evil", agent), *pair)
        self.d.graph.set_presence(guid("good", "gus"), *pair)

    def flow(self, pair, what):
        """Waits until both tenants' agents show pair (the normal state)."""
        self.set_everyone(pair)
        self.d.wait_until(lambda: all(self.presence("evil", a) == pair for a in EVIL_AGENTS) and
                          self.presence("good", "gus") == pair, timeout=30, what=what)

    def assert_hostile_changes_nothing(self, endpoint, mode, reason, before_token=None):
        evil_before = {a: self.d.agent_record("evil", a) for a in EVIL_AGENTS}
        evil_events = len(self.d.events(tenant="evil"))
        counts = self.bad_counts()
        pair = self.next_pair()
        self.set_everyone(pair)

        # good's change arrives and the reason is counted, while evil stays put.
        self.d.wait_until(lambda: self.presence("good", "gus") == pair, timeout=30,
                          what=f"good's presence {pair} while evil's {endpoint} is {mode}")
        key = (endpoint, reason)
        self.d.wait_until(lambda: self.bad_counts().get(key, 0) >= counts.get(key, 0) + 1,
                          timeout=30, what=f"{key} counted for {endpoint} mode {mode}")
        self.assertEqual({a: self.d.agent_record("evil", a) for a in EVIL_AGENTS}, evil_before)
        self.assertEqual(len(self.d.events(tenant="evil")), evil_events)
        self.assertTrue(self.d.instance(0).running, self.d.instance(0).state())
        self.assertEqual(self.d.request("GET", "/readyz", via=0)[0], 200)

    # ---- tests ----

    def test_1_each_hostile_presence_answer_changes_nothing(self):
        self.flow(self.next_pair(), "both tenants' presence before the hostile answers")
        for mode, reason in PRESENCE_MODES.items():
            with self.subTest(mode=mode):
                self.d.graph.hostile("evil", presence=mode)
                self.assert_hostile_changes_nothing("presence", mode, reason)
        self.d.graph.normal("evil")
        self.flow(self.next_pair(), "evil's presence flowing again after the hostile answers")

    def test_2_each_hostile_token_answer_changes_nothing(self):
        self.flow(self.next_pair(), "both tenants' presence before the hostile token answers")
        for mode, reason in TOKEN_MODES.items():
            with self.subTest(mode=mode):
                self.d.graph.hostile("evil", token=mode)
                self.d.graph.expire_tokens()  # so that presenced must ask for a new one
                self.assert_hostile_changes_nothing("token", mode, reason)
        self.d.graph.normal("evil")
        self.flow(self.next_pair(), "evil's presence flowing again after the token answers")

    def test_3_unknown_values_become_presence_unknown_as_design_says(self):
        self.flow(self.next_pair(), "both tenants' presence before unknown values")
        counts = self.bad_counts()
        self.d.graph.hostile("evil", presence="unknown_values")
        unknown = ("PresenceUnknown", "PresenceUnknown")
        self.d.wait_until(lambda: all(self.presence("evil", a) == unknown for a in EVIL_AGENTS),
                          timeout=30, what="evil's agents PresenceUnknown")
        key = ("presence", "unknown_value")
        self.assertGreaterEqual(self.bad_counts().get(key, 0), counts.get(key, 0) + 4)
        self.d.graph.normal("evil")
        self.flow(self.next_pair(), "evil's presence flowing again after unknown values")


if __name__ == "__main__":
    unittest.main()
