"""The fault suite's checks: what Redis holds against what the clients were told.

LeaseMonitor samples every partition's lease and job hash (with Redis TIME) every ~50 ms
from its own thread. check_commands() compares the recorded commands (workload.py) with
the final agent records and the event streams. Ownership helpers measure how long
partitions were without an owner and how many moved after a membership change.
"""

import json
import math
import threading
import time

from records import decode_record
from resp import Redis, RedisError

__all__ = ["LeaseMonitor", "CommandReport", "check_commands", "read_state", "percentile"]


def percentile(values, q):
    """Nearest-rank percentile of values (q in 0..100); 0 for none."""
    if not values:
        return 0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


# ---------------------------------------------------------------------------------------
# Ownership sampling
# ---------------------------------------------------------------------------------------

class Sample:
    __slots__ = ("now", "mono", "leases", "jobs")

    def __init__(self, now, mono, leases, jobs):
        self.now = now            # Redis TIME, ms
        self.mono = mono          # time.monotonic() of the client when it was read
        self.leases = leases      # {p: {"token","instance","epoch","expires_at","acquired_at"}}
        self.jobs = jobs          # {p: {"instance","epoch","last_poll_at",...}}

    def owner(self, p):
        lease = self.leases.get(p) or {}
        if lease.get("token") and int(lease.get("expires_at") or 0) > self.now:
            return lease.get("instance")
        return None

    def owners(self):
        return {p: self.owner(p) for p in self.leases}


class LeaseMonitor:
    """Samples lease and job hashes of every partition until stopped."""

    def __init__(self, host, port, partitions, interval_s=0.05):
        self.host, self.port = host, port
        self.partitions = partitions
        self.interval_s = interval_s
        self.samples = []
        self.failed_reads = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._redis = None

    def start(self):
        self._thread = threading.Thread(target=self._run, name="lease-monitor", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if self._redis is not None:
            self._redis.close()

    def _run(self):
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                sample = self.read_once()
                with self._lock:
                    self.samples.append(sample)
            except (OSError, RedisError, ConnectionError, ValueError):
                self.failed_reads += 1   # Redis restarting: the gap shows in the samples
                if self._redis is not None:
                    self._redis.close()
                    self._redis = None
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))

    def read_once(self):
        if self._redis is None:
            self._redis = Redis(self.host, self.port, timeout=2.0)
        commands = [("TIME",)]
        for p in range(self.partitions):
            commands.append(("HGETALL", f"presence:{{p{p}}}:lease"))
            commands.append(("HGETALL", f"presence:{{p{p}}}:job"))
        replies = self._redis.pipeline(commands)
        mono = time.monotonic()
        for reply in replies:
            if isinstance(reply, RedisError):
                raise reply
        seconds, micros = replies[0]
        now = int(seconds) * 1000 + int(micros) // 1000
        leases, jobs = {}, {}
        for p in range(self.partitions):
            lease = replies[1 + 2 * p] or []
            job = replies[2 + 2 * p] or []
            leases[p] = dict(zip(lease[0::2], lease[1::2]))
            jobs[p] = dict(zip(job[0::2], job[1::2]))
        return Sample(now, mono, leases, jobs)

    def snapshot(self):
        with self._lock:
            return list(self.samples)

    def latest(self):
        with self._lock:
            return self.samples[-1] if self.samples else None


def ownership_violations(samples, partitions):
    """Checks over all samples: epochs never go down; no accepted stale job write.

    A job hash write at epoch e at Redis time t is stale when a lease with a greater epoch
    was granted at or before t (the Function must have refused it). Returns a list of
    messages (empty when all is well) and the stale-write count.
    """
    problems = []
    stale = 0
    for p in range(partitions):
        last_epoch = 0
        grants = {}        # epoch -> (acquired_at, instance)
        last_job_epoch = 0
        jobs = set()       # (epoch, last_poll_at, instance)
        for s in samples:
            lease = s.leases.get(p) or {}
            epoch = int(lease.get("epoch") or 0)
            if epoch < last_epoch:
                problems.append(f"partition {p}: lease epoch went down from {last_epoch} to "
                                f"{epoch} (Redis time {s.now})")
            last_epoch = max(last_epoch, epoch)
            if epoch and lease.get("acquired_at"):
                grants.setdefault(epoch, (int(lease["acquired_at"]), lease.get("instance")))
            job = s.jobs.get(p) or {}
            job_epoch = int(job.get("epoch") or 0)
            if job_epoch:
                if job_epoch < last_job_epoch:
                    stale += 1
                    problems.append(f"partition {p}: job hash written at epoch {job_epoch} "
                                    f"after one at epoch {last_job_epoch} (Redis time {s.now})")
                last_job_epoch = max(last_job_epoch, job_epoch)
                jobs.add((job_epoch, int(job.get("last_poll_at") or 0), job.get("instance")))
        for job_epoch, polled_at, instance in sorted(jobs):
            grant = grants.get(job_epoch)
            if grant is not None and grant[1] != instance:
                problems.append(f"partition {p}: job write by {instance} at epoch {job_epoch}, "
                                f"but that epoch was granted to {grant[1]}")
            later = [(e, g) for e, g in grants.items() if e > job_epoch and g[0] <= polled_at]
            if later:
                stale += 1
                e, (acquired_at, holder) = min(later)
                problems.append(f"partition {p}: {instance} wrote its poll at epoch {job_epoch} "
                                f"at {polled_at}, after epoch {e} was granted to {holder} at "
                                f"{acquired_at}: a stale write was accepted")
    return problems, stale


def stable_owners(monitor, alive_ids, partitions, hold_s=1.5, timeout_s=45.0):
    """Waits until every partition is owned by alive_ids, balanced (floor/ceil of P/N), and
    unchanged for hold_s; returns those owners. Raises AssertionError on timeout."""
    ids = set(alive_ids)
    low, high = partitions // len(ids), -(-partitions // len(ids))
    deadline = time.monotonic() + timeout_s
    since, held = None, None
    last = None
    while time.monotonic() < deadline:
        sample = monitor.latest()
        if sample is not None and sample.mono > time.monotonic() - 1.0:
            owners = sample.owners()
            last = owners
            counts = {i: 0 for i in ids}
            for owner in owners.values():
                if owner in counts:
                    counts[owner] += 1
            ok = all(o in ids for o in owners.values()) and \
                all(low <= c <= high for c in counts.values())
            if ok and owners == held:
                if time.monotonic() - since >= hold_s:
                    return owners
            elif ok:
                held, since = owners, time.monotonic()
            else:
                held = None
        time.sleep(0.05)
    raise AssertionError(f"partitions not stably balanced over {sorted(ids)} within "
                         f"{timeout_s:g} s; last owners {last}")


def takeovers(samples, since_mono, partitions_of_interest, old_owner):
    """For each partition, the first lease seen after since_mono that is held by another
    instance than old_owner: {p: (acquired_at, instance)}."""
    found = {}
    for s in samples:
        if s.mono < since_mono:
            continue
        for p in partitions_of_interest:
            if p in found:
                continue
            lease = s.leases.get(p) or {}
            owner = s.owner(p)
            if owner is not None and owner != old_owner:
                found[p] = (int(lease.get("acquired_at") or s.now), owner)
    return found


def unowned_periods(samples, since_mono, until_mono):
    """Per partition, the ms it had no owner between two client times (from the samples:
    the gap between the end of one lease and the acquired_at of the next)."""
    periods = {}
    window = [s for s in samples if since_mono <= s.mono <= until_mono]
    if not window:
        return periods
    for p in window[0].leases:
        gap, gap_start = 0, None
        for s in window:
            owner = s.owner(p)
            lease = s.leases.get(p) or {}
            if owner is None and gap_start is None:
                expires = int(lease.get("expires_at") or 0)
                gap_start = expires if 0 < expires <= s.now else s.now
            elif owner is not None and gap_start is not None:
                gap += max(0, int(lease.get("acquired_at") or s.now) - gap_start)
                gap_start = None
        if gap_start is not None:
            gap += window[-1].now - gap_start
        if gap:
            periods[p] = gap
    return periods


def moved_partitions(samples, since_mono, until_mono, before):
    """Partitions whose owner changed at least once in the window (owner != before[p] at
    some owned sample), and the number of owner transitions."""
    moved, transitions = set(), 0
    last = dict(before)
    for s in samples:
        if not since_mono <= s.mono <= until_mono:
            continue
        for p, owner in s.owners().items():
            if owner is None:
                continue
            if owner != before.get(p):
                moved.add(p)
            if owner != last.get(p):
                transitions += 1
                last[p] = owner
    return moved, transitions


# ---------------------------------------------------------------------------------------
# Final state
# ---------------------------------------------------------------------------------------

def read_state(redis, partitions):
    """{(tenant, agent): record} and {(tenant, agent): [event...]} (stream order)."""
    records, events = {}, {}
    for p in range(partitions):
        # One transaction per partition: poll jobs keep writing while the checker reads,
        # and the records must be compared with the events of the same moment.
        replies = redis.pipeline([("MULTI",), ("HGETALL", f"presence:{{p{p}}}:agents"),
                                  ("XRANGE", f"presence:{{p{p}}}:events", "-", "+"),
                                  ("EXEC",)])
        if any(isinstance(r, Exception) for r in replies) or not isinstance(replies[3], list):
            raise RuntimeError(f"reading partition {p} in a transaction failed: {replies}")
        flat, entries = replies[3][0] or [], replies[3][1] or []
        for field, raw in zip(flat[0::2], flat[1::2]):
            tenant, agent = field.split("/", 1)
            records[(tenant, agent)] = decode_record(tenant, agent, raw)
        for entry_id, fields in entries:
            event = dict(zip(fields[0::2], fields[1::2]))
            event["id"] = entry_id
            event["partition"] = p
            try:
                event["data"] = json.loads(event.get("data") or "null")
            except ValueError:
                pass
            events.setdefault((event.get("tenant"), event.get("agent")), []).append(event)
    return records, events


class CommandReport:
    """What check_commands found; `problems` holds a readable line per finding."""

    def __init__(self):
        self.lost = 0
        self.duplicate = 0
        self.unknown = 0
        self.acked = 0
        self.refused = 0
        self.replays = 0
        self.replay_mismatch = 0
        self.nginx_retries = 0
        self.applied_by_retry = 0
        self.problems = []

    def problem(self, kind, text):
        if kind == "lost":
            self.lost += 1
        elif kind == "duplicate":
            self.duplicate += 1
        elif kind == "replay":
            self.replay_mismatch += 1
        self.problems.append(f"[{kind}] {text}")


REGISTRATION_TYPES = {"put": ("agent.registered", "agent.updated"),
                      "delete": ("agent.deregistered",)}


def _classify(command):
    """(acked_changed_versions, acked_unchanged, applied_for_sure, refused, unknown)."""
    changed_versions = set()
    unchanged = False
    applied = False
    refused = False
    unknown = False
    for a in command.attempts:
        if a.not_sent:
            refused = True
        elif a.status is None or a.status >= 500:
            unknown = True
        elif a.ok and isinstance(a.body, dict):
            applied = True
            if a.body.get("changed"):
                changed_versions.add(int(a.body.get("version") or 0))
            else:
                unchanged = True
        elif a.status == 409 and a.error_code == "stale_seq" and command.kind != "push" and \
                str((a.body.get("error") or {}).get("seq")) == str(command.seq):
            applied = True       # this very seq was applied by another send of the command
        else:
            refused = True
    return changed_versions, unchanged, applied, refused, unknown


def _command_event_key(event):
    """(kind, seq or observed_at) that identifies which command wrote an event, or None for
    events the clients did not cause (presence read from Graph)."""
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    kind = event.get("type")
    if kind in ("agent.registered", "agent.updated"):
        return ("put", str(data.get("seq")))
    if kind == "agent.deregistered":
        return ("delete", str(data.get("seq")))
    if kind == "presence.changed" and data.get("source") == "push":
        return ("push", str(data.get("observed_at")))
    return None


def _record_matches(command, record):
    if command.kind == "delete":
        return record.get("state") == "deregistered"
    if record.get("state") != "registered" or record.get("source") != command.body["source"]:
        return False
    labels = json.loads(record.get("labels") or "{}")
    return labels == (command.body.get("labels") or {})


def check_commands(commands, records, events):
    """Checks every command against the final records and the events; returns a report."""
    report = CommandReport()
    by_agent = {}
    for command in commands:
        by_agent.setdefault((command.tenant, command.agent), []).append(command)
    check_replays(commands, report)

    for name in sorted(set(by_agent) | set(events)):
        agent_commands = by_agent.get(name, [])
        agent_events = events.get(name, [])
        check_event_order(name, agent_events, records.get(name), report)
        check_agent_events(name, agent_commands, agent_events, report)
        check_final_state(name, agent_commands, records.get(name), report)
    for command in commands:
        changed, unchanged, applied, refused, unknown = _classify(command)
        report.nginx_retries += sum(1 for a in command.attempts if a.nginx_retried)
        if applied:
            report.acked += 1
        elif unknown:
            report.unknown += 1
        else:
            report.refused += 1
    return report


def check_replays(commands, report):
    """An answer marked Idempotent-Replayed equals the first (non-replayed, definitive)
    answer given for its key; a key is answered 422 only when it was really reused."""
    first_by_key = {}
    for command in commands:
        if command.key is None:
            continue
        for a in command.attempts:
            if a.definitive and not a.replayed and a.error_code != "idempotency_key_reused":
                first_by_key.setdefault((command.tenant, command.agent, command.key),
                                        (command, a))
    for command in commands:
        for a in command.attempts:
            if a.error_code == "idempotency_key_reused" and \
                    not command.note.startswith("key-reuse"):
                report.problem("replay", f"422 idempotency_key_reused for a key used once:\n"
                                         f"{command.describe()}")
            if not a.replayed:
                continue
            report.replays += 1
            first = first_by_key.get((command.tenant, command.agent, command.key))
            if first is None:
                continue   # the first answer never reached a client (timeout, error)
            first_command, first_attempt = first
            if first_command is not command:
                report.problem("replay", f"replayed the answer of another request:\n"
                                         f"{command.describe()}\n{first_command.describe()}")
            elif (a.status, a.body) != (first_attempt.status, first_attempt.body):
                report.problem("replay", f"replayed answer differs from the first:\n"
                                         f"{command.describe()}")


def check_event_order(name, agent_events, record, report):
    """Versions strictly increase per agent, without gaps, up to the record's version."""
    versions = [int(e.get("version") or 0) for e in agent_events]
    for before, after in zip(versions, versions[1:]):
        if after <= before:
            report.problem("duplicate", f"{name}: event versions not increasing: {versions}")
            break
    else:
        if versions and versions != list(range(versions[0], versions[0] + len(versions))):
            report.problem("lost", f"{name}: gap in event versions (a change without an "
                                   f"event): {versions}")
    final = int(record.get("version") or 0) if record else 0
    if record and versions and versions[-1] != final:
        tail = [(e.get("type"), e.get("version"), e.get("id"), e.get("data"))
                for e in agent_events[-4:]]
        report.problem("lost", f"{name}: record version {final} but last event version "
                               f"{versions[-1]}; record {json.dumps(record)}; last events "
                               f"{tail}")


def check_agent_events(name, agent_commands, agent_events, report):
    """Every client-caused event belongs to exactly one command that may have applied; every
    command acknowledged with changed:true has exactly one event with its version."""
    by_key = {}
    for event in agent_events:
        key = _command_event_key(event)
        if key is not None:
            by_key.setdefault(key, []).append(event)
    commands_by_key = {}
    for command in agent_commands:
        commands_by_key.setdefault((command.kind, str(command.seq)), []).append(command)

    for key, found in by_key.items():
        owners = commands_by_key.get(key, [])
        if len(found) > 1:
            report.problem("duplicate", f"{name}: {len(found)} events for {key}: "
                                        f"{[(e['type'], e['version'], e['id']) for e in found]}\n"
                           + "\n".join(c.describe() for c in owners))
        if not owners:
            report.problem("duplicate", f"{name}: event {found[0]['type']} v{found[0]['version']} "
                                        f"for {key} that no client command sent")
            continue
        command = owners[0]
        changed, unchanged, applied, refused, unknown = _classify(command)
        if not (changed or applied or unknown or _maybe_applied_through_nginx(command)):
            report.problem("duplicate", f"{name}: an event v{found[0]['version']} for a "
                                        f"command that got only refusals:\n{command.describe()}")
        elif not changed and not unknown and not _maybe_applied_through_nginx(command) and \
                not _has_refusal_with_own_seq(command):
            report.problem("duplicate", f"{name}: an event v{found[0]['version']} for a "
                                        f"command answered changed:false:\n{command.describe()}")

    for command in agent_commands:
        changed, _, _, _, _ = _classify(command)
        if len(changed) > 1:
            report.problem("duplicate", f"{name}: one command acknowledged as changed with "
                                        f"versions {sorted(changed)}:\n{command.describe()}")
        for version in changed:
            found = by_key.get((command.kind, str(command.seq)), [])
            if not found:
                report.problem("lost", f"{name}: acknowledged change v{version} has no event:\n"
                                       f"{command.describe()}")
            elif int(found[0].get("version") or 0) != version:
                report.problem("lost", f"{name}: acknowledged change v{version} but its event "
                                       f"has version {found[0].get('version')}:\n"
                                       f"{command.describe()}")


def _maybe_applied_through_nginx(command):
    """nginx sent one of the attempts to more than one instance: an earlier instance may
    have applied it although the answer the client saw came from a later one."""
    return any(a.nginx_retried for a in command.attempts)


def _has_refusal_with_own_seq(command):
    return any(a.status == 409 and str((a.body or {}).get("error", {}).get("seq")) ==
               str(command.seq) for a in command.attempts if isinstance(a.body, dict))


def check_final_state(name, agent_commands, record, report):
    """The record is the effect of the accepted command with the highest seq."""
    registrations = [c for c in agent_commands if c.kind in ("put", "delete")]
    if not registrations:
        return
    sure, maybe = [], []
    for command in registrations:
        changed, unchanged, applied, refused, unknown = _classify(command)
        if applied:
            sure.append(command)
        elif unknown or _maybe_applied_through_nginx(command):
            maybe.append(command)
    if not sure and not maybe:
        if record is not None and record.get("seq") is not None:
            report.problem("duplicate", f"{name}: every command was refused but the record "
                                        f"has seq {record.get('seq')}: {record}")
        return
    highest_sure = max((c.seq for c in sure), default=0)
    if record is None:
        if sure:
            report.problem("lost", f"{name}: no record, but seq {highest_sure} was accepted")
        return
    record_seq = int(record.get("seq") or 0)
    if record_seq < highest_sure:
        winner = next(c for c in sure if c.seq == highest_sure)
        report.problem("lost", f"{name}: record has seq {record_seq} but seq {highest_sure} was "
                               f"accepted:\n{winner.describe()}\nrecord: {record}")
        return
    candidates = [c for c in sure + maybe if c.seq == record_seq]
    if not candidates:
        report.problem("duplicate", f"{name}: record has seq {record_seq}, which no accepted or "
                                    f"unknown command carried: {record}")
        return
    if not _record_matches(candidates[0], record):
        report.problem("lost", f"{name}: record does not match its seq {record_seq} command:\n"
                               f"{candidates[0].describe()}\nrecord: {record}")
