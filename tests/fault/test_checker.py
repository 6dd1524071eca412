"""The fault suite's checker finds what it must: a self-test on made-up answers and state.

No servers: commands, records and events are built by hand, so a checker that sees
nothing wrong whatever happens cannot pass the fault suite unnoticed.
"""

import json
import unittest

from checker import check_commands, ownership_violations, Sample
from workload import Attempt, Command


def command(kind, seq, answers, agent="ann", body=None, key=None):
    """A command whose attempts got `answers`: (status, body) or (None, error text)."""
    if body is None and kind == "put":
        body = {"source": "push", "seq": seq}
    c = Command(kind, "acme", agent, seq, body, key)
    for status, answer in answers:
        a = Attempt("nginx", 0)
        a.status = status if isinstance(status, int) else None
        a.replayed = status == "replayed"
        if status == "replayed":
            a.status = 200
        a.body = answer if a.status is not None else None
        a.error = None if a.status is not None else answer
        a.ended = a.started
        c.attempts.append(a)
    return c


def event(kind, version, seq, agent="ann"):
    return {"type": kind, "tenant": "acme", "agent": agent, "version": str(version),
            "id": f"{version}-0", "data": {"seq": str(seq)}}


def record(state, version, seq, agent="ann"):
    return {("acme", agent): {"tenant": "acme", "agent": agent, "state": state,
                              "version": version, "seq": str(seq), "source": "push",
                              "labels": "{}"}}


class CheckerTest(unittest.TestCase):

    def test_a_consistent_history_passes(self):
        commands = [command("put", 1, [(201, {"changed": True, "version": 1})]),
                    command("delete", 2, [(200, {"changed": True, "version": 2})]),
                    command("put", 3, [(None, "TimeoutError: timed out")]),
                    command("put", 4, [(409, {"error": {"code": "stale_seq", "seq": "5"}})]),
                    command("delete", 5, [(503, {"error": {"code": "redis_unavailable"}})])]
        events = {("acme", "ann"): [event("agent.registered", 1, 1),
                                    event("agent.deregistered", 2, 2),
                                    event("agent.registered", 3, 3),
                                    event("agent.deregistered", 4, 5)]}
        report = check_commands(commands, record("deregistered", 4, 5), events)
        self.assertEqual((report.lost, report.duplicate), (0, 0), report.problems)
        self.assertEqual(report.unknown, 2)

    def test_an_acknowledged_change_without_event_is_lost(self):
        commands = [command("put", 1, [(201, {"changed": True, "version": 1})]),
                    command("delete", 2, [(200, {"changed": True, "version": 2})])]
        events = {("acme", "ann"): [event("agent.registered", 1, 1)]}
        report = check_commands(commands, record("registered", 1, 1), events)
        self.assertGreaterEqual(report.lost, 1, report.problems)

    def test_a_final_state_older_than_an_accepted_seq_is_lost(self):
        commands = [command("put", 1, [(201, {"changed": True, "version": 1})]),
                    command("put", 2, [(200, {"changed": False, "version": 1})])]
        events = {("acme", "ann"): [event("agent.registered", 1, 1)]}
        report = check_commands(commands, record("registered", 1, 1), events)
        self.assertEqual(report.lost, 1, report.problems)

    def test_two_events_for_one_command_are_a_duplicate(self):
        commands = [command("put", 1, [(201, {"changed": True, "version": 1})])]
        events = {("acme", "ann"): [event("agent.registered", 1, 1),
                                    event("agent.updated", 2, 1)]}
        report = check_commands(commands, record("registered", 2, 1), events)
        self.assertGreaterEqual(report.duplicate, 1, report.problems)

    def test_an_event_of_a_refused_command_is_a_duplicate(self):
        commands = [command("put", 1, [(201, {"changed": True, "version": 1})]),
                    command("delete", 2, [(412, {"error": {"code": "version_mismatch"}})])]
        events = {("acme", "ann"): [event("agent.registered", 1, 1),
                                    event("agent.deregistered", 2, 2)]}
        report = check_commands(commands, record("deregistered", 2, 2), events)
        self.assertGreaterEqual(report.duplicate, 1, report.problems)

    def test_an_event_of_an_unchanged_command_is_a_duplicate(self):
        commands = [command("put", 1, [(201, {"changed": True, "version": 1})]),
                    command("put", 2, [(200, {"changed": False, "version": 1})])]
        events = {("acme", "ann"): [event("agent.registered", 1, 1),
                                    event("agent.updated", 2, 2)]}
        report = check_commands(commands, record("registered", 2, 2), events)
        self.assertGreaterEqual(report.duplicate, 1, report.problems)

    def test_a_replay_that_differs_from_the_first_answer_is_reported(self):
        first = {"changed": True, "version": 1}
        commands = [command("put", 1, [(201, first), ("replayed", {"changed": False,
                                                                   "version": 1})],
                            key="k-1")]
        events = {("acme", "ann"): [event("agent.registered", 1, 1)]}
        report = check_commands(commands, record("registered", 1, 1), events)
        self.assertEqual(report.replay_mismatch, 1, report.problems)

    def test_a_poll_write_after_a_newer_grant_is_stale(self):
        def sample(now, epoch, acquired, job_epoch, polled):
            lease = {"token": "t", "instance": "b" if epoch > 1 else "a", "epoch": str(epoch),
                     "expires_at": str(now + 2000), "acquired_at": str(acquired)}
            job = {"instance": "a", "epoch": str(job_epoch), "last_poll_at": str(polled)}
            return Sample(now, now / 1000.0, {0: lease}, {0: job})
        samples = [sample(1000, 1, 900, 1, 950), sample(1100, 2, 1050, 1, 950),
                   sample(1200, 2, 1050, 1, 1150)]
        problems, stale = ownership_violations(samples, 1)
        self.assertGreaterEqual(stale, 1, problems)
        clean, none = ownership_violations(samples[:2], 1)
        self.assertEqual((clean, none), ([], 0))


if __name__ == "__main__":
    unittest.main()
