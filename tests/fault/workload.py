"""The fault suite's client side: a seeded, concurrent workload that records every answer.

    book = AgentBook(tenants=["t1", "t2"], agents_per_tenant=100, seed=7)
    log = CommandLog()
    targets = Targets(nginx_port, {"a": port_a, ...})
    workload = Workload(book, log, targets, threads=6, seed=7)
    workload.start(); ...; workload.stop()
    log.commands  # every Command with its Attempts

A Command is one logical change the client wants (register, deregister or a pushed
presence) with its own per-agent `seq` (or `observed_at` for pushed presence), drawn from a
lock-protected per-agent counter so that concurrent threads acting on one agent never reuse
one. A command is sent once or more (Attempts): a retry with the same Idempotency-Key to
another instance, or the same request to two instances at once (a load balancer that sends
one request twice). Each Attempt records the target, the times, the status, the
Idempotent-Replayed header, nginx's X-Upstream-Addr and the parsed body, or the error.
"""

import http.client
import json
import random
import threading
import time
import uuid

__all__ = ["AgentBook", "Attempt", "Command", "CommandLog", "Targets", "Workload", "send"]

LABEL_CHOICES = [None, {"team": "red"}, {"team": "blue"}, {"team": "green", "site": "lyon"}]
PRESENCE_CHOICES = [("Available", "Available"), ("Busy", "InACall"), ("Away", "Away"),
                    ("DoNotDisturb", "Presenting"), ("BeRightBack", "BeRightBack"),
                    ("Offline", "OffWork")]
# Pushed observations: ms since the epoch, one per push, strictly increasing per agent.
OBSERVED_BASE_MS = 1_700_000_000_000


class AgentBook:
    """The agents of the workload and their per-agent counters (seq, observed_at)."""

    def __init__(self, tenants, agents_per_tenant, seed, push_fraction=0.4):
        rng = random.Random(seed)
        self.agents = []          # [(tenant, agent, source)]
        for tenant in tenants:
            for n in range(agents_per_tenant):
                source = "push" if rng.random() < push_fraction else "graph"
                self.agents.append((tenant, f"ag-{n:03d}", source))
        self.source = {(t, a): s for t, a, s in self.agents}
        self._lock = threading.Lock()
        self._seq = {}
        self._observed = {}

    def next_seq(self, tenant, agent):
        """The next seq of this agent (1, 2, ...): atomic across threads."""
        with self._lock:
            value = self._seq.get((tenant, agent), 0) + 1
            self._seq[(tenant, agent)] = value
            return value

    def next_observed(self, tenant, agent):
        """The next observed_at (ms) of this agent's pushed presence: atomic across threads."""
        with self._lock:
            value = self._observed.get((tenant, agent), OBSERVED_BASE_MS) + 1000
            self._observed[(tenant, agent)] = value
            return value


class Attempt:
    """One HTTP exchange of a command."""

    __slots__ = ("target", "started", "ended", "status", "replayed", "upstream", "body",
                 "error", "thread")

    def __init__(self, target, thread):
        self.target = target      # "nginx" or an instance id
        self.thread = thread
        self.started = time.monotonic()
        self.ended = None
        self.status = None        # None: connection error or timeout
        self.replayed = False
        self.upstream = None      # nginx's X-Upstream-Addr
        self.body = None
        self.error = None

    @property
    def definitive(self):
        """2xx or 4xx: the service decided; 5xx and errors leave the outcome unknown."""
        return self.status is not None and self.status < 500

    @property
    def not_sent(self):
        """The connection was refused: nothing reached any instance."""
        return self.status is None and (self.error or "").startswith("ConnectionRefusedError")

    @property
    def ok(self):
        return self.status is not None and 200 <= self.status < 300

    @property
    def error_code(self):
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"].get("code")
        return None

    @property
    def nginx_retried(self):
        """nginx tried more than one instance (its $upstream_addr lists several)."""
        return self.upstream is not None and "," in self.upstream

    def describe(self):
        outcome = f"{self.status}" if self.status is not None else f"error {self.error}"
        extra = " replayed" if self.replayed else ""
        extra += f" via {self.upstream}" if self.upstream else ""
        return (f"{self.target}{extra} [{self.started:.3f}-{self.ended or 0:.3f}] {outcome} "
                f"{json.dumps(self.body)[:300] if self.body is not None else ''}")


class Command:
    """One logical change: kind "put", "delete" or "push", with its attempts."""

    _ids = iter(range(1, 1 << 62))
    _ids_lock = threading.Lock()

    def __init__(self, kind, tenant, agent, seq=None, body=None, key=None, note=""):
        with Command._ids_lock:
            self.id = next(Command._ids)
        self.kind = kind
        self.tenant = tenant
        self.agent = agent
        self.seq = seq            # put/delete: the client's seq; push: observed_at (ms)
        self.body = body          # JSON body (put, push) or None (delete)
        self.key = key            # Idempotency-Key or None
        self.note = note          # why it exists ("key-reuse", "dual", "rapid", ...)
        self.attempts = []

    @property
    def method(self):
        return "DELETE" if self.kind == "delete" else "PUT"

    @property
    def path(self):
        base = f"/v1/tenants/{self.tenant}/agents/{self.agent}"
        if self.kind == "delete":
            return f"{base}?seq={self.seq}"
        if self.kind == "push":
            return f"{base}/presence"
        return base

    def describe(self):
        head = (f"command #{self.id} {self.method} {self.path} seq/observed={self.seq} "
                f"key={self.key} {self.note} body={json.dumps(self.body)}")
        return "\n".join([head] + [f"    {a.describe()}" for a in self.attempts])


class CommandLog:
    """Every command, thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self.commands = []

    def add(self, command):
        with self._lock:
            self.commands.append(command)
        return command

    def snapshot(self):
        with self._lock:
            return list(self.commands)


class Targets:
    """Where requests go: nginx, or an instance straight (id -> port); updated by the suite.

    api_key, when given, is sent as "Authorization: Bearer ..." with every request."""

    def __init__(self, nginx_port, instance_ports, api_key=None):
        self._lock = threading.Lock()
        self.api_key = api_key
        self.nginx_port = nginx_port
        self._instances = dict(instance_ports)

    def set_instance(self, instance_id, port):
        with self._lock:
            self._instances[instance_id] = port

    def port(self, target):
        if target == "nginx":
            return self.nginx_port
        with self._lock:
            return self._instances[target]

    def instance_ids(self):
        with self._lock:
            return sorted(self._instances)


def send(connections, targets, command, target, thread, timeout):
    """Sends command to target over a kept-alive connection; records and returns the Attempt."""
    attempt = Attempt(target, thread)
    command.attempts.append(attempt)
    headers = {}
    payload = None
    if command.body is not None:
        payload = json.dumps(command.body).encode()
        headers["Content-Type"] = "application/json"
    if command.key is not None:
        headers["Idempotency-Key"] = command.key
    if targets.api_key:
        headers["Authorization"] = f"Bearer {targets.api_key}"
    connection = connections.get(target)
    try:
        if connection is None:
            connection = http.client.HTTPConnection("127.0.0.1", targets.port(target),
                                                    timeout=timeout)
            connections[target] = connection
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        connection.request(command.method, command.path, body=payload, headers=headers)
        response = connection.getresponse()
        data = response.read()
        attempt.status = response.status
        attempt.replayed = (response.getheader("Idempotent-Replayed") or "").lower() == "true"
        attempt.upstream = response.getheader("X-Upstream-Addr")
        try:
            attempt.body = json.loads(data) if data else None
        except ValueError:
            attempt.body = data.decode("utf-8", "replace")
        if (response.getheader("Connection") or "").lower() == "close":
            connection.close()
            connections.pop(target, None)
    except (OSError, http.client.HTTPException) as error:
        attempt.error = f"{type(error).__name__}: {error}"
        if connection is not None:
            connection.close()
        connections.pop(target, None)
    attempt.ended = time.monotonic()
    return attempt


def send_once(targets, command, target, thread, timeout):
    """send() on a fresh connection that is closed afterwards."""
    connections = {}
    try:
        return send(connections, targets, command, target, thread, timeout)
    finally:
        for connection in connections.values():
            connection.close()


class Workload:
    """Client threads that send a seeded random mix of commands until stopped."""

    NGINX_TIMEOUT_S = 15.0   # more than nginx's 5 s read timeout plus its retry
    DIRECT_TIMEOUT_S = 4.0

    def __init__(self, book, log, targets, threads=6, seed=1, pause_s=(0.01, 0.03)):
        self.book = book
        self.log = log
        self.targets = targets
        self.thread_count = threads
        self.seed = seed
        self.pause_s = pause_s
        self._stop = threading.Event()
        self._threads = []
        self.errors = []          # exceptions that escaped a client thread (a suite bug)

    def start(self):
        for n in range(self.thread_count):
            thread = threading.Thread(target=self._run, args=(n,), name=f"client-{n}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    # ---- one client thread ----

    def _run(self, n):
        rng = random.Random(self.seed * 1000 + n)
        connections = {}
        try:
            while not self._stop.is_set():
                self._one_step(rng, connections, n)
                time.sleep(rng.uniform(*self.pause_s))
        except Exception as error:  # a bug of the suite itself: report it, don't hide it
            import traceback
            self.errors.append(f"client-{n}: {traceback.format_exc()}")
            raise error
        finally:
            for connection in connections.values():
                connection.close()

    def _pick_target(self, rng):
        if rng.random() < 0.7:
            return "nginx"
        return rng.choice(self.targets.instance_ids())

    def _other_target(self, rng, first):
        choices = [t for t in ["nginx"] + self.targets.instance_ids() if t != first]
        return rng.choice(choices)

    def _timeout(self, target):
        return self.NGINX_TIMEOUT_S if target == "nginx" else self.DIRECT_TIMEOUT_S

    def _one_step(self, rng, connections, n):
        tenant, agent, source = rng.choice(self.book.agents)
        roll = rng.random()
        if roll < 0.03:
            self.rapid_cycle(tenant, agent, source, rng, connections, n)
            return
        command = self.make_command(tenant, agent, source, rng)
        target = self._pick_target(rng)
        style = rng.random()
        if style < 0.04:
            command.note = "dual"
            self.send_twice_at_once(command, target, self._other_target(rng, target))
            return
        attempt = send(connections, self.targets, command, target, n, self._timeout(target))
        if command.key is not None and (style < 0.14 or not attempt.definitive):
            # A load balancer (or the client) retrying with the same key elsewhere.
            command.note = command.note or "retry"
            other = self._other_target(rng, target)
            send(connections, self.targets, command, other, n, self._timeout(other))
        if command.key is not None and style > 0.99:
            self.reuse_key(command, rng, connections, n)

    def make_command(self, tenant, agent, source, rng, kind=None):
        if kind is None:
            roll = rng.random()
            if source == "push" and roll < 0.45:
                kind = "push"
            elif roll < 0.75:
                kind = "put"
            else:
                kind = "delete"
        key = str(uuid.UUID(int=rng.getrandbits(128))) if rng.random() < 0.6 else None
        if kind == "push":
            availability, activity = rng.choice(PRESENCE_CHOICES)
            observed = self.book.next_observed(tenant, agent)
            body = {"availability": availability, "activity": activity, "observed_at": observed}
            return self.log.add(Command("push", tenant, agent, observed, body, key))
        seq = self.book.next_seq(tenant, agent)
        if kind == "delete":
            return self.log.add(Command("delete", tenant, agent, seq, None, key))
        body = {"source": source, "seq": seq}
        if source == "graph":
            body["graph_user_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}/{agent}"))
        labels = rng.choice(LABEL_CHOICES)
        if labels is not None:
            body["labels"] = labels
        return self.log.add(Command("put", tenant, agent, seq, body, key))

    def send_twice_at_once(self, command, first, second):
        """The same request to two targets at the same moment, on fresh connections."""
        threads = [threading.Thread(target=send_once, args=(self.targets, command, target,
                                                       f"dual-{target}", self._timeout(target)))
                   for target in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def reuse_key(self, command, rng, connections, n):
        """A new request (another seq) under an already used key: 422 expected."""
        other = self.make_command(command.tenant, command.agent,
                                  self.book.source[(command.tenant, command.agent)], rng,
                                  kind=command.kind)
        other.key = command.key
        other.note = f"key-reuse of #{command.id}"
        target = self._pick_target(rng)
        send(connections, self.targets, other, target, n, self._timeout(target))

    def rapid_cycle(self, tenant, agent, source, rng, connections, n):
        """Register, deregister, register of one agent through different targets within ms."""
        instances = self.targets.instance_ids()
        order = rng.sample(["nginx"] + instances, 3)
        kinds = ["put", "delete", "put"]
        commands = [self.make_command(tenant, agent, source, rng, kind) for kind in kinds]
        for command in commands:
            command.note = "rapid"
        if rng.random() < 0.5:
            for command, target in zip(commands, order):
                send(connections, self.targets, command, target, n, self._timeout(target))
        else:  # all three in flight at once: the highest seq must win
            threads = [threading.Thread(target=send_once, args=(self.targets, c, t, f"rapid-{t}",
                                                           self._timeout(t)))
                       for c, t in zip(commands, order)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
