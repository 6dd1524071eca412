"""End to end: registration, presence from the fake Graph, pushed presence, reads.

Real presenced processes behind nginx, real redis-server, the fake Graph with its
random walk off (presence changes only when a test sets it).
"""

import time
import urllib.parse
import unittest

from deployment import DeploymentCase, guid


def record_of(body):
    """The agent view of an API answer (the answer itself, "changed" aside)."""
    return body


class AgentLifecycleTest(DeploymentCase):
    deployment_options = {"instances": 3, "partitions": 16, "poll_interval_ms": 300}

    def presence_events(self, tenant, agent):
        return self.d.events(tenant=tenant, agent=agent, type="presence.changed")

    def wait_presence_events(self, tenant, agent, count):
        def enough():
            events = self.presence_events(tenant, agent)
            return events if len(events) >= count else None
        return self.d.wait_until(enough, timeout=30,
                                 what=f"{count} presence.changed event(s) of {tenant}/{agent}")

    def test_register_then_presence_events_appear(self):
        status, _, body = self.d.register("acme", "ann")
        self.assertEqual(status, 201, body)
        self.assertTrue(body["changed"], body)
        self.assertEqual([e["type"] for e in self.d.events("acme", "ann")], ["agent.registered"])

        self.d.graph.set_presence(guid("acme", "ann"), "Busy", "InACall")
        first = self.wait_presence_events("acme", "ann", 1)
        self.assertEqual(first[0]["data"]["after"],
                         {"availability": "Busy", "activity": "InACall"})
        self.assertEqual(first[0]["data"]["before"]["availability"], "PresenceUnknown")
        self.assertEqual(first[0]["data"]["source"], "graph")

        self.d.graph.set_presence(guid("acme", "ann"), "Away", "Away")
        events = self.wait_presence_events("acme", "ann", 2)
        self.assertEqual(len(events), 2, events)
        self.assertEqual(events[1]["data"]["before"], events[0]["data"]["after"])
        self.assertEqual(events[1]["data"]["after"], {"availability": "Away", "activity": "Away"})
        versions = [int(e["version"]) for e in self.d.events("acme", "ann")]
        self.assertEqual(versions, sorted(versions), "events of one agent in version order")

        # The read API (through nginx) shows the current presence.
        status, _, body = self.d.request("GET", "/v1/tenants/acme/agents/ann")
        self.assertEqual(status, 200, body)
        self.assertEqual(record_of(body)["presence"]["availability"], "Away")
        self.assertEqual(record_of(body)["presence"]["activity"], "Away")
        self.assertEqual(record_of(body)["presence"]["source"], "graph")
        self.assertEqual(int(record_of(body)["version"]), versions[-1])

    def test_deregister_then_no_events_for_that_agent(self):
        # Control agents of the same tenant; one of them shares bob's partition, so
        # its event proves that the partition was polled after bob's presence changed.
        self.assertEqual(self.d.register("beta", "bob")[0], 201)
        controls = [f"ctl-{n}" for n in range(48)]
        for agent in controls:
            self.assertEqual(self.d.register("beta", agent)[0], 201)
        partition = self.d.partition_of("beta", "bob")
        control = next((a for a in controls if self.d.partition_of("beta", a) == partition), None)
        self.assertIsNotNone(control, f"no control agent in bob's partition {partition}")

        status, _, body = self.d.request("DELETE", "/v1/tenants/beta/agents/bob")
        self.assertEqual(status, 200, body)
        self.assertTrue(body["changed"], body)
        self.assertEqual(self.d.events("beta", "bob")[-1]["type"], "agent.deregistered")
        status, _, body = self.d.request("GET", "/v1/tenants/beta/agents/bob")
        self.assertEqual(status, 404, body)

        self.d.graph.set_presence(guid("beta", "bob"), "Busy", "InACall")
        self.d.graph.set_presence(guid("beta", control), "Busy", "InACall")
        self.wait_presence_events("beta", control, 1)
        self.assertEqual(self.presence_events("beta", "bob"), [])

        # Deregistering again (through each instance) changes nothing.
        for via in range(3):
            status, _, body = self.d.request("DELETE", "/v1/tenants/beta/agents/bob", via=via)
            self.assertEqual(status, 200, body)
            self.assertFalse(body["changed"], body)
        self.assertEqual([e["type"] for e in self.d.events("beta", "bob")],
                         ["agent.registered", "agent.deregistered"])

    def test_same_put_through_other_instances_gives_one_event(self):
        first = self.d.register("gamma", "cat", via=0)
        self.assertEqual(first[0], 201, first)
        self.assertTrue(first[2]["changed"])
        for via in (1, 2, None):
            status, _, body = self.d.register("gamma", "cat", via=via)
            self.assertEqual(status, 200, body)
            self.assertFalse(body["changed"], body)
            self.assertEqual(record_of(body)["version"], record_of(first[2])["version"])
        events = self.d.events("gamma", "cat")
        self.assertEqual([e["type"] for e in events], ["agent.registered"])

        # A real change (labels) is one agent.updated event, however often it is sent.
        for via in (2, 0):
            self.d.register("gamma", "cat", via=via, labels={"team": "blue"})
        self.assertEqual([e["type"] for e in self.d.events("gamma", "cat")],
                         ["agent.registered", "agent.updated"])

    def test_pushed_presence_gives_an_event(self):
        status, _, body = self.d.register("delta", "desk-1", source="push")
        self.assertEqual(status, 201, body)
        observed = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        push = {"availability": "Busy", "activity": "InACall", "observed_at": observed}
        status, _, body = self.d.request("PUT", "/v1/tenants/delta/agents/desk-1/presence", push)
        self.assertEqual(status, 200, body)

        events = self.presence_events("delta", "desk-1")
        self.assertEqual(len(events), 1, events)
        self.assertEqual(events[0]["data"]["source"], "push")
        self.assertEqual(events[0]["data"]["after"],
                         {"availability": "Busy", "activity": "InACall"})

        # The same presence pushed again through another instance is no new event.
        status, _, body = self.d.request("PUT", "/v1/tenants/delta/agents/desk-1/presence", push,
                                         via=1)
        self.assertEqual(status, 200, body)
        self.assertEqual(len(self.presence_events("delta", "desk-1")), 1)

    def test_read_and_list_agents_through_nginx(self):
        agents = ["a-1", "a-2", "a-3", "a-4", "a-5"]
        for agent in agents:
            self.assertEqual(self.d.register("epsilon", agent)[0], 201)

        status, _, body = self.d.request("GET", "/v1/tenants/epsilon/agents/a-3")
        self.assertEqual(status, 200, body)
        self.assertEqual(record_of(body)["agent"], "a-3")
        self.assertEqual(record_of(body)["graph_user_id"], guid("epsilon", "a-3"))

        # Page through with limit 2: every agent exactly once (pages follow partitions, so
        # the order is not the id order).
        seen, cursor = [], ""
        for _ in range(10):
            query = urllib.parse.urlencode({"limit": 2, "cursor": cursor})
            status, _, body = self.d.request("GET", f"/v1/tenants/epsilon/agents?{query}")
            self.assertEqual(status, 200, body)
            self.assertLessEqual(len(body["agents"]), 2)
            seen += [a["agent"] for a in body["agents"]]
            cursor = body.get("next_cursor") or ""
            if not cursor:
                break
        self.assertEqual(sorted(seen), agents, f"pages gave {seen}")

        status, _, body = self.d.request("GET", "/v1/tenants/epsilon/agents/nobody")
        self.assertEqual(status, 404, body)
        self.assertEqual(body["error"]["code"], "not_found")


if __name__ == "__main__":
    unittest.main()
