"""The fault suite: a seeded concurrent workload while every failure of DESIGN.md is injected.

Real redis-server (AOF, appendfsync always), nginx that resends a failed or timed-out
request to another instance (proxy_next_upstream error timeout non_idempotent), four
presenced (a fifth joins and leaves), presenced's default lease and membership timings.
Six client threads send registers, deregisters and pushed presence with per-agent `seq`s
(or `observed_at`) and, often, Idempotency-Keys, through nginx and straight to instances,
while this test injects one after another:

  kill -9 of a partition owner (and its restart under the same id), SIGSTOP of an owner
  past its lease then SIGCONT, an instance added then one removed under load, a rolling
  restart (SIGTERM, start again, each in turn), Redis SHUTDOWN and start on the same AOF.

The load balancer sending one request to two instances and register/deregister/register of
one agent through different instances within milliseconds are part of the workload all the
time (workload.py). A monitor samples every lease and job hash every 50 ms. At the end
checker.py compares every recorded answer with Redis. The last line printed is:

  fault suite: lost=0 duplicate=0 stale_accepted=0 failover_p50_ms=.. failover_p99_ms=..
  failover_max_ms=.. handoff_max_ms=.. moved_max=.. requests=.. unknown=..

PRESENCE_FAULT_SEED replays a run (the seed is printed first). PRESENCE_KEEP_TEST_DIR keeps
the logs.
"""

import atexit
import math
import os
import random
import signal
import sys
import time
import unittest

from checker import (LeaseMonitor, check_commands, moved_partitions, ownership_violations,
                     percentile, read_state, stable_owners, takeovers, unowned_periods)
from deployment import Deployment
from workload import AgentBook, CommandLog, Targets, Workload

PARTITIONS = 32
INSTANCES = 4
LEASE_MS = 2000        # presenced's defaults (conf/presenced.toml)
RENEW_MS = 500
SLACK_MS = 500
HANDOFF_LIMIT_MS = 1000
TENANTS = ["acme", "globex", "initech"]
AGENTS_PER_TENANT = 70
CLIENT_THREADS = 6


def say(text):
    print(text, file=sys.stderr, flush=True)


class FaultSuite(unittest.TestCase):

    def setUp(self):
        self.seed = int(os.environ.get("PRESENCE_FAULT_SEED") or random.SystemRandom().
                        randrange(1, 1 << 31))
        say(f"\nfault suite: seed {self.seed} (replay with PRESENCE_FAULT_SEED={self.seed})")
        self.rng = random.Random(self.seed)
        self.changes = []        # one dict per membership change
        self.failovers = []      # ms from kill -9 to the new owner's acquired_at
        self.handoffs = []       # ms from SIGTERM to the new owner's acquired_at

    def test_fault_suite(self):
        d = Deployment(
            instances=INSTANCES, partitions=PARTITIONS, poll_interval_ms=1000,
            redis_args=["--appendfsync", "always"], upstream_header=True,
            graph_options={"change_interval": 1, "change_fraction": 0.2, "seed": self.seed,
                           "rate_limit": 1_000_000},
            extra_config={"graph": {"requests_per_window": 1_000_000}})
        with d:
            try:
                self.run_suite(d)
            except BaseException:
                d.failed = True
                d.redis_server.keep_dir = True   # the AOF, to look at what happened
                say(f"fault: Redis data kept in {d.redis_server.dir}")
                raise

    # ---- the run ----

    def run_suite(self, d):
        monitor = LeaseMonitor("127.0.0.1", d.redis_server.port, PARTITIONS)
        monitor.start()
        self.addCleanup(monitor.stop)
        stable_owners(monitor, d.alive_ids(), PARTITIONS, timeout_s=60)

        book = AgentBook(TENANTS, AGENTS_PER_TENANT, self.seed)
        log = CommandLog()
        targets = Targets(d.nginx_port, {i.id: i.port for i in d.instances},
                          api_key=d.admin_key)
        workload = Workload(book, log, targets, threads=CLIENT_THREADS, seed=self.seed)
        workload.start()
        started = time.monotonic()
        try:
            time.sleep(3)
            self.inject_faults(d, monitor, targets)
            time.sleep(2)
        finally:
            workload.stop()
        say(f"fault suite: workload ran {time.monotonic() - started:.0f} s, "
            f"{len(log.commands)} commands")
        self.assertEqual(workload.errors, [], "a client thread failed")
        time.sleep(1)   # the last poll writes land in the monitor
        monitor.stop()
        self.check(d, monitor, log)

    def inject_faults(self, d, monitor, targets):
        # 1. kill -9 of a partition owner, then its restart under the same id.
        owners = stable_owners(monitor, d.alive_ids(), PARTITIONS)
        victim = self.rng.choice(sorted({o for o in owners.values()}))
        self.membership_change(d, monitor, "kill -9 " + victim, owners,
                               lambda: d.kill(self.index_of(d, victim), signal.SIGKILL),
                               leaving=victim, measure="failover")
        time.sleep(1)
        owners = stable_owners(monitor, d.alive_ids(), PARTITIONS)
        self.membership_change(d, monitor, "restart " + victim, owners,
                               lambda: d.start(self.index_of(d, victim)))
        time.sleep(1)

        # 2. SIGSTOP of an owner past its lease (and past nginx's 5 s read timeout), SIGCONT.
        owners = stable_owners(monitor, d.alive_ids(), PARTITIONS)
        paused = self.rng.choice(sorted(set(owners.values()) - {victim}))

        paused_at = {}

        def pause():
            paused_at["t"] = time.monotonic()
            d.kill(self.index_of(d, paused), signal.SIGSTOP)
        others = [i for i in d.alive_ids() if i != paused]
        self.membership_change(d, monitor, f"SIGSTOP {paused} (lease runs out)", owners, pause,
                               leaving=paused, measure="failover", alive=others)
        # Stopped past its lease and past nginx's 5 s read timeout, so that nginx resends
        # the requests it had sent to it; they are still queued in its sockets.
        time.sleep(max(0.0, 6.0 - (time.monotonic() - paused_at["t"])))
        owners = stable_owners(monitor, others, PARTITIONS)
        self.membership_change(d, monitor, f"SIGCONT {paused}", owners,
                               lambda: d.kill(self.index_of(d, paused), signal.SIGCONT))
        time.sleep(1)

        # 3. An instance added under load, then one removed (SIGTERM).
        owners = stable_owners(monitor, d.alive_ids(), PARTITIONS)
        added = {}

        def add():
            index = d.add_instance()
            added["id"] = d.instances[index].id
            targets.set_instance(d.instances[index].id, d.instances[index].port)
        self.membership_change(d, monitor, "add an instance", owners, add)
        time.sleep(1)
        owners = stable_owners(monitor, d.alive_ids(), PARTITIONS)
        removed = self.rng.choice(sorted(d.alive_ids()))
        self.membership_change(d, monitor, "remove " + removed + " (SIGTERM)", owners,
                               lambda: d.kill(self.index_of(d, removed), signal.SIGTERM),
                               leaving=removed, measure="handoff")
        time.sleep(1)

        # 4. A rolling restart: SIGTERM each running instance in turn, start it again.
        for instance_id in sorted(d.alive_ids()):
            owners = stable_owners(monitor, d.alive_ids(), PARTITIONS)
            self.membership_change(d, monitor, f"rolling: SIGTERM {instance_id}", owners,
                                   lambda: d.kill(self.index_of(d, instance_id),
                                                  signal.SIGTERM),
                                   leaving=instance_id, measure="handoff")
            owners = stable_owners(monitor, d.alive_ids(), PARTITIONS)
            self.membership_change(d, monitor, f"rolling: start {instance_id}", owners,
                                   lambda: d.start(self.index_of(d, instance_id)))

        # 5. Redis SHUTDOWN (AOF fsynced) and start on the same port and data dir.
        stable_owners(monitor, d.alive_ids(), PARTITIONS)
        say("fault: Redis SHUTDOWN and restart")
        d.restart_redis()
        owners = stable_owners(monitor, d.alive_ids(), PARTITIONS, timeout_s=60)
        say(f"fault: after the Redis restart every partition is owned again "
            f"({self.counts(owners)})")

    @staticmethod
    def index_of(d, instance_id):
        return next(i.index for i in d.instances if i.id == instance_id)

    @staticmethod
    def counts(owners):
        counts = {}
        for owner in owners.values():
            counts[owner] = counts.get(owner, 0) + 1
        return " ".join(f"{k}={v}" for k, v in sorted(counts.items(), key=str))

    def membership_change(self, d, monitor, what, before, action, leaving=None, measure=None,
                          alive=None):
        """Runs action, waits for a stable balanced split, records how it went."""
        victims = sorted(p for p, o in before.items() if o == leaving)
        at = d.redis_time_ms()
        since = time.monotonic()
        action()
        alive = alive or d.alive_ids()
        after = stable_owners(monitor, alive, PARTITIONS, timeout_s=60)
        until = time.monotonic()
        samples = monitor.snapshot()
        moved, transitions = moved_partitions(samples, since, until, before)
        n_after = len(alive)
        change = {"what": what, "moved": len(moved), "transitions": transitions,
                  "bound": math.ceil(PARTITIONS / n_after), "unowned": {}, "times": []}
        unowned = unowned_periods(samples, since, until)
        change["unowned"] = unowned
        if measure:
            taken = takeovers(samples, since, victims, leaving)
            times = [taken[p][0] - at for p in victims if p in taken]
            missing = [p for p in victims if p not in taken]
            change["times"] = times
            change["missing"] = missing
            (self.failovers if measure == "failover" else self.handoffs).extend(times)
        self.changes.append(change)
        unowned_values = list(unowned.values())
        say(f"fault: {what}: moved {len(moved)} partitions ({transitions} owner changes, "
            f"bound {change['bound']}); unowned p50/p99/max "
            f"{percentile(unowned_values, 50)}/{percentile(unowned_values, 99)}/"
            f"{max(unowned_values, default=0)} ms over {len(unowned_values)} partitions"
            + (f"; {measure} of {len(victims)} partitions: max "
               f"{max(change['times'], default=0)} ms" if measure else "")
            + f"; now {self.counts(after)}")

    # ---- the checks ----

    def check(self, d, monitor, log):
        records, events = read_state(d.redis, PARTITIONS)
        commands = log.snapshot()
        report = check_commands(commands, records, events)
        samples = monitor.snapshot()
        ownership_problems, stale = ownership_violations(samples, PARTITIONS)
        stale_refusals = sum(self.count_lines(i.log_path, "refused a write as stale")
                             for i in d.instances)
        requests = sum(len(c.attempts) for c in commands)
        statuses = {}
        for c in commands:
            for a in c.attempts:
                key = a.status if a.status is not None else "error"
                statuses[key] = statuses.get(key, 0) + 1

        for problem in (report.problems + ownership_problems)[:40]:
            say(problem)
        if len(report.problems) + len(ownership_problems) > 40:
            say(f"... and {len(report.problems) + len(ownership_problems) - 40} more")

        moved_max = max((c["moved"] for c in self.changes), default=0)
        failover = self.failovers
        handoff_max = max(self.handoffs, default=0)
        say(f"fault: {requests} requests in {len(commands)} commands; answers "
            f"{dict(sorted(statuses.items(), key=str))}; acknowledged {report.acked}, "
            f"refused {report.refused}, unknown {report.unknown}; replays "
            f"{report.replays} ({report.replay_mismatch} differing); nginx retried "
            f"{report.nginx_retries} requests on another instance")
        say(f"fault: {len(samples)} lease samples ({monitor.failed_reads} failed reads while "
            f"Redis restarted); stale_epoch refusals logged by instances: {stale_refusals}; "
            f"stale writes accepted (job hash vs lease grants): {stale}")
        summary = (f"fault suite: lost={report.lost} duplicate={report.duplicate} "
                   f"stale_accepted={stale} failover_p50_ms={percentile(failover, 50)} "
                   f"failover_p99_ms={percentile(failover, 99)} "
                   f"failover_max_ms={max(failover, default=0)} handoff_max_ms={handoff_max} "
                   f"moved_max={moved_max} requests={requests} unknown={report.unknown}")
        say(summary)
        # unittest prints its verdict after the test: repeat the summary as the very last
        # line of the run, for scripts.
        atexit.register(say, summary)

        self.assertEqual(report.lost, 0, "acknowledged commands lost (see above)")
        self.assertEqual(report.duplicate, 0, "duplicate or unexplained effects (see above)")
        self.assertEqual(report.replay_mismatch, 0, "replayed answers differ (see above)")
        self.assertEqual(stale, 0, "stale writes accepted (see above)")
        self.assertEqual(ownership_problems, [], "ownership problems (see above)")
        self.assertTrue(failover, "no failover was measured")
        self.assertLessEqual(max(failover), LEASE_MS + RENEW_MS + SLACK_MS,
                             f"a partition was re-owned too late after a kill: {failover}")
        self.assertTrue(self.handoffs, "no SIGTERM handoff was measured")
        self.assertLess(handoff_max, HANDOFF_LIMIT_MS,
                        f"a SIGTERM handoff took too long: {self.handoffs}")
        for change in self.changes:
            self.assertFalse(change.get("missing"),
                             f"{change['what']}: partitions never taken over: {change}")
            self.assertLessEqual(change["moved"], change["bound"],
                                 f"{change['what']}: too many partitions moved")

    @staticmethod
    def count_lines(path, text):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return sum(1 for line in f if text in line)
        except OSError:
            return 0


if __name__ == "__main__":
    unittest.main()
