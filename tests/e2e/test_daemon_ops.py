"""End to end: operating presenced.

- /metrics parses as Prometheus text (a strict parser below) and carries the HTTP latency
  histograms, command, lease, Graph, event and Redis error series;
- /readyz is 503 while Redis is unreachable and 200 again once it is back;
- [log] format = "json" gives one JSON object per line with component and instance;
- SIGHUP applies a new [log] level and reports other changed keys as needing a restart;
- SIGTERM hands the partitions over and exits 0 within the bound, even without Redis;
- under systemd (NOTIFY_SOCKET, WATCHDOG_USEC) it sends READY=1, WATCHDOG=1 and STOPPING=1;
- --check-config applies the environment and the options and exits 0 or 2.
"""

import http.client
import json
import math
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from deployment import SOURCE_DIR, DeploymentCase, guid
from redis_server import RedisServer, free_port

PRESENCED = os.environ.get("PRESENCED_BIN") or os.path.join(SOURCE_DIR, "build", "presenced")

# presenced's SIGTERM handoff bound (kStopBound in presenced/daemon.cc) plus slack for a
# loaded test machine.
STOP_BOUND_S = 5.0
STOP_SLACK_S = 3.0


# ---- a strict parser of the Prometheus text format (version 0.0.4) ----

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class PrometheusError(AssertionError):
    pass


def _parse_value(text, line_number):
    if text in ("+Inf", "Inf"):
        return math.inf
    if text == "-Inf":
        return -math.inf
    if text == "NaN":
        return math.nan
    if not re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?", text):
        raise PrometheusError(f"line {line_number}: value {text!r} is not a number")
    return float(text)


def _parse_labels(text, start, line_number):
    """Parses '{a="x",b="y"}' from text[start] == '{'; returns (labels, index after '}')."""
    labels = {}
    i = start + 1
    while True:
        if i < len(text) and text[i] == "}":
            return labels, i + 1
        match = LABEL_NAME.match(text, i)
        if not match:
            raise PrometheusError(f"line {line_number}: bad label name at column {i + 1}")
        name = match.group(0)
        i = match.end()
        if text[i:i + 2] != '="':
            raise PrometheusError(f"line {line_number}: label {name} without =\"value\"")
        i += 2
        value = []
        while True:
            if i >= len(text):
                raise PrometheusError(f"line {line_number}: unterminated value of label {name}")
            c = text[i]
            if c == "\\":
                escaped = text[i + 1:i + 2]
                if escaped not in ("\\", '"', "n"):
                    raise PrometheusError(f"line {line_number}: bad escape \\{escaped} in "
                                          f"label {name}")
                value.append("\n" if escaped == "n" else escaped)
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise PrometheusError(f"line {line_number}: raw newline in label {name}")
            else:
                value.append(c)
                i += 1
        if name in labels:
            raise PrometheusError(f"line {line_number}: label {name} given twice")
        labels[name] = "".join(value)
        if i < len(text) and text[i] == ",":
            i += 1
        elif i < len(text) and text[i] == "}":
            continue
        else:
            raise PrometheusError(f"line {line_number}: expected ',' or '}}' after label {name}")


def _family_of(name, types):
    """The declared family a sample name belongs to (histogram suffixes included)."""
    if name in types:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)] if name.endswith(suffix) else None
        if base and types.get(base) in ("histogram", "summary"):
            return base
    return name


def parse_prometheus(text):
    """Parses an exposition; returns {family: {"type", "help", "samples": [(name, labels,
    value)]}}. Raises PrometheusError naming the line for anything not strictly valid."""
    if text and not text.endswith("\n"):
        raise PrometheusError("the exposition does not end with a newline")
    families = {}
    types = {}
    finished = set()  # families whose samples ended (a family must be contiguous)
    current = None
    for number, line in enumerate(text.split("\n")[:-1], start=1):
        if line.startswith("#"):
            match = re.fullmatch(r"# (HELP|TYPE) ([^ ]+) (.*)", line)
            if not match:
                raise PrometheusError(f"line {number}: comment is not # HELP or # TYPE: {line!r}")
            kind, name, rest = match.groups()
            if not METRIC_NAME.fullmatch(name):
                raise PrometheusError(f"line {number}: bad metric name {name!r}")
            family = families.setdefault(name, {"type": "untyped", "help": None, "samples": []})
            if kind == "TYPE":
                if rest not in TYPES:
                    raise PrometheusError(f"line {number}: unknown type {rest!r}")
                if name in types:
                    raise PrometheusError(f"line {number}: second TYPE line for {name}")
                if family["samples"]:
                    raise PrometheusError(f"line {number}: TYPE of {name} after its samples")
                types[name] = rest
                family["type"] = rest
            else:
                if family["help"] is not None:
                    raise PrometheusError(f"line {number}: second HELP line for {name}")
                family["help"] = rest
            continue
        if not line:
            raise PrometheusError(f"line {number}: empty line")
        match = METRIC_NAME.match(line)
        if not match:
            raise PrometheusError(f"line {number}: bad metric name in {line!r}")
        name = match.group(0)
        i = match.end()
        labels = {}
        if i < len(line) and line[i] == "{":
            labels, i = _parse_labels(line, i, number)
        rest = line[i:]
        if not rest.startswith(" "):
            raise PrometheusError(f"line {number}: no space before the value: {line!r}")
        parts = rest.split()
        if len(parts) not in (1, 2):
            raise PrometheusError(f"line {number}: expected 'value [timestamp]': {line!r}")
        value = _parse_value(parts[0], number)
        if len(parts) == 2 and not re.fullmatch(r"-?\d+", parts[1]):
            raise PrometheusError(f"line {number}: bad timestamp {parts[1]!r}")
        family_name = _family_of(name, types)
        if family_name != current:
            if family_name in finished:
                raise PrometheusError(f"line {number}: samples of {family_name} not together")
            if current is not None:
                finished.add(current)
            current = family_name
        family = families.setdefault(family_name,
                                     {"type": "untyped", "help": None, "samples": []})
        if family["type"] == "counter" and not value >= 0:
            raise PrometheusError(f"line {number}: counter {name} is {value}")
        family["samples"].append((name, labels, value))
    for name, family in families.items():
        if family["type"] == "histogram":
            _check_histogram(name, family["samples"])
    return families


def _check_histogram(name, samples):
    """Every series has ascending le buckets ending at +Inf, cumulative counts, _sum and
    a _count equal to the +Inf bucket."""
    series = {}
    for sample_name, labels, value in samples:
        key_labels = {k: v for k, v in labels.items() if k != "le"}
        key = tuple(sorted(key_labels.items()))
        entry = series.setdefault(key, {"buckets": [], "sum": None, "count": None})
        if sample_name == name + "_bucket":
            if "le" not in labels:
                raise PrometheusError(f"{name}{dict(key)}: bucket without le")
            entry["buckets"].append((_parse_value(labels["le"], 0), value))
        elif sample_name == name + "_sum":
            entry["sum"] = value
        elif sample_name == name + "_count":
            entry["count"] = value
        else:
            raise PrometheusError(f"histogram {name}: unexpected sample {sample_name}")
    if not series:
        raise PrometheusError(f"histogram {name} has no series")
    for key, entry in series.items():
        where = f"{name}{dict(key)}"
        buckets = entry["buckets"]
        if not buckets or buckets[-1][0] != math.inf:
            raise PrometheusError(f"{where}: no le=\"+Inf\" bucket last")
        bounds = [b for b, _ in buckets]
        if bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
            raise PrometheusError(f"{where}: le bounds not strictly ascending: {bounds}")
        counts = [c for _, c in buckets]
        if counts != sorted(counts):
            raise PrometheusError(f"{where}: bucket counts not cumulative: {counts}")
        if entry["sum"] is None or entry["count"] is None:
            raise PrometheusError(f"{where}: _sum or _count missing")
        if entry["count"] != counts[-1]:
            raise PrometheusError(f"{where}: _count {entry['count']} != +Inf bucket {counts[-1]}")


def sample(families, name, **labels):
    """The sum of the samples called `name` (a family, or a histogram's name_count, ...)
    whose labels include `labels`."""
    values = [v for family in families.values() for n, l, v in family["samples"]
              if n == name and all(l.get(k) == want for k, want in labels.items())]
    if not values:
        raise AssertionError(f"no series {name}{labels} in the metrics")
    return sum(values)


class PrometheusParserTest(unittest.TestCase):
    """The parser itself refuses what is not valid, so that the checks below mean something."""

    def test_accepts_a_valid_exposition(self):
        text = ("# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\\\"\"} 3\n"
                "# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                "h_sum 0.3\nh_count 2\n")
        families = parse_prometheus(text)
        self.assertEqual(families["a_total"]["samples"], [("a_total", {"x": '1"'}, 3.0)])
        self.assertEqual(families["h"]["type"], "histogram")

    def test_refuses_what_is_not_valid(self):
        bad = [
            "a 1",                                               # no final newline
            "# comment\na 1\n",                                  # a free comment
            "1a 1\n",                                            # bad name
            "a{b=1} 1\n",                                        # unquoted label
            "a{b=\"1\"}1\n",                                     # no space
            "a one\n",                                           # not a number
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",  # no +Inf
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
            "h_sum 1\nh_count 1\n",                              # not cumulative
            "# TYPE c counter\nc -1\n",                          # negative counter
            "a 1\nb 1\na 2\n",                                   # family split
        ]
        for text in bad:
            with self.subTest(text=text):
                with self.assertRaises(PrometheusError):
                    parse_prometheus(text)


# ---- /metrics of a running deployment ----

class MetricsTest(DeploymentCase):
    deployment_options = {"instances": 2, "partitions": 8}

    def metrics(self, via):
        status, headers, body = self.d.request("GET", "/metrics", via=via)
        self.assertEqual(status, 200, body)
        self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"),
                        headers)
        return parse_prometheus(body)

    def test_metrics_parse_as_prometheus_text_with_every_family(self):
        self.d.wait_until(self.d.balanced, timeout=60, what="8 partitions split 4/4")
        path = "/v1/tenants/acme/agents/metrics-ann"
        self.assertEqual(self.d.request("PUT", path, {"source": "push"}, via=0)[0], 201)
        self.assertEqual(self.d.request("PUT", path, {"source": "push"}, via=0)[0], 200)
        self.assertEqual(self.d.request("PUT", path, {"source": "nope"}, via=0)[0], 400)
        self.assertEqual(self.d.register("acme", "metrics-bob", via=0)[0], 201)
        self.d.graph.set_presence(guid("acme", "metrics-bob"), "Busy", "InACall")
        self.d.wait_until(lambda: self.d.events(tenant="acme", agent="metrics-bob",
                                                type="presence.changed"),
                          what="a presence change of metrics-bob read from Graph")

        families = [self.metrics(0), self.metrics(1)]
        m = families[0]
        for name, kind in [
            ("presence_http_requests_total", "counter"),
            ("presence_http_request_duration_seconds", "histogram"),
            ("presence_commands_applied_total", "counter"),
            ("presence_commands_refused_total", "counter"),
            ("presence_events_appended_total", "counter"),
            ("presence_partitions_owned", "gauge"),
            ("presence_lease_acquisitions_total", "counter"),
            ("presence_lease_renewals_total", "counter"),
            ("presence_lease_losses_total", "counter"),
            ("presence_graph_requests_total", "counter"),
            ("presence_graph_throttle_waits_total", "counter"),
            ("presence_redis_errors_total", "counter"),
        ]:
            with self.subTest(family=name):
                self.assertIn(name, m)
                self.assertEqual(m[name]["type"], kind)
                self.assertTrue(m[name]["help"], f"{name} has no HELP")

        route = "/v1/tenants/{tenant}/agents/{agent}"
        self.assertEqual(sample(m, "presence_http_request_duration_seconds_count",
                                method="PUT", route=route), 4)
        self.assertEqual(sample(m, "presence_commands_applied_total",
                                command="register", changed="true"), 2)
        self.assertEqual(sample(m, "presence_commands_applied_total",
                                command="register", changed="false"), 1)
        self.assertEqual(sample(m, "presence_commands_refused_total",
                                command="register"), 1)
        self.assertEqual(sample(m, "presence_events_appended_total", origin="api"), 2)
        self.assertEqual(sum(sample(f, "presence_partitions_owned") for f in families), 8)
        self.assertGreaterEqual(sum(sample(f, "presence_lease_acquisitions_total")
                                    for f in families), 8)
        self.assertGreaterEqual(sum(sample(f, "presence_events_appended_total",
                                           origin="graph_poll") for f in families), 1)
        self.assertGreaterEqual(sum(sample(f, "presence_graph_requests_total", outcome="ok")
                                    for f in families), 1)
        self.assertEqual(sample(m, "presence_redis_errors_total"), 0)

    def test_readyz_is_ready_with_partitions_running(self):
        self.d.wait_until(self.d.balanced, timeout=60, what="8 partitions split 4/4")
        for via in (0, 1):
            status, _, body = self.d.request("GET", "/readyz", via=via)
            self.assertEqual(status, 200, body)
            self.assertEqual(sample(self.metrics(via), "presence_ready"), 1)


# ---- one presenced process driven directly ----

class Daemon:
    """One presenced on a private Redis, with its config file and stderr captured."""

    def __init__(self, folder, redis_port, instance_id="solo", log_format="json",
                 log_level="info", redis_timeout_ms=500, env=None):
        self.folder = folder
        self.id = instance_id
        self.port = free_port()
        self.config_path = os.path.join(folder, f"presenced-{instance_id}.toml")
        self.log_path = os.path.join(folder, f"presenced-{instance_id}.log")
        self.redis_port = redis_port
        self.env = env or {}
        self.redis_timeout_ms = redis_timeout_ms
        self.write_config(log_level=log_level, log_format=log_format)
        self.process = None

    def write_config(self, log_level="info", log_format="json", poll_interval_ms=300):
        with open(self.config_path, "w") as f:
            f.write(f'[instance]\nid = "{self.id}"\nlisten = "127.0.0.1:{self.port}"\n'
                    f'[redis]\naddress = "127.0.0.1:{self.redis_port}"\ntimeout_ms = {self.redis_timeout_ms}\n'
                    f'[partitions]\ncount = 4\n'
                    f'[membership]\nstabilization_ms = 0\n'
                    f'[presence]\npoll_interval_ms = {poll_interval_ms}\n'
                    f'[auth]\nmetrics = "open"\n'
                    f'[log]\nlevel = "{log_level}"\nformat = "{log_format}"\n')

    def start(self):
        env = dict(os.environ, **self.env)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([PRESENCED, "-c", self.config_path],
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                            env=env)
        return self

    def request(self, path, timeout=5):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        finally:
            connection.close()

    def ready(self):
        try:
            return self.request("/readyz", timeout=2)[0] == 200
        except OSError:
            return False

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_for(self, predicate, what, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"presenced exited with {self.process.returncode} while "
                                     f"waiting for {what}; log:\n{self.log()[-4000:]}")
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; "
                             f"log:\n{self.log()[-4000:]}")

    def stop(self):
        """SIGTERM; returns (exit code, seconds it took)."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(STOP_BOUND_S + STOP_SLACK_S + 10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"presenced ignored SIGTERM; log:\n{self.log()[-4000:]}")
        return code, time.monotonic() - started

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class DaemonTestCase(unittest.TestCase):
    """A private Redis per class, emptied for every test; self.daemon() starts presenced."""

    @classmethod
    def setUpClass(cls):
        cls.redis_server = RedisServer(aof=True, keep_dir=True)
        cls.redis_server.start()

    @classmethod
    def tearDownClass(cls):
        cls.redis_server.keep_dir = False
        cls.redis_server.stop()

    def setUp(self):
        if not self.redis_server.running:
            self.redis_server.start()
        with self.redis_server.client() as r:
            r.call("FLUSHALL")
            r.call("FUNCTION", "FLUSH")
        self.folder = tempfile.mkdtemp(prefix="presence-ops-")
        self.daemons = []

    def tearDown(self):
        for daemon in self.daemons:
            daemon.kill()

    def daemon(self, **options):
        daemon = Daemon(self.folder, self.redis_server.port, **options).start()
        self.daemons.append(daemon)
        daemon.wait_for(daemon.ready, what="/readyz 200")
        return daemon


class LogAndSignalTest(DaemonTestCase):
    def test_json_logs_are_one_object_per_line_with_component_and_instance(self):
        daemon = self.daemon(instance_id="json-1")
        daemon.request("/healthz")
        code, _ = daemon.stop()
        self.assertEqual(code, 0)
        components = set()
        lines = daemon.log().splitlines()
        self.assertGreater(len(lines), 3, lines)
        for number, line in enumerate(lines, start=1):
            with self.subTest(line=number):
                entry = json.loads(line)
                self.assertIsInstance(entry, dict)
                self.assertEqual(list(entry), ["ts", "level", "component", "instance", "msg"])
                self.assertEqual(entry["instance"], "json-1")
                self.assertRegex(entry["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
                self.assertIn(entry["level"], ["trace", "debug", "info", "warn", "error"])
                self.assertTrue(entry["component"])
                components.add(entry["component"])
        self.assertTrue({"main", "http", "lease"} <= components, components)

    def test_sighup_applies_the_log_level_and_reports_other_changes(self):
        daemon = self.daemon(instance_id="hup-1", log_format="text")
        daemon.request("/healthz")
        self.assertNotIn(" debug ", daemon.log())

        daemon.write_config(log_level="debug", log_format="text")
        daemon.process.send_signal(signal.SIGHUP)
        daemon.wait_for(lambda: "log level changed from info to debug" in daemon.log(),
                        what="the log level change")
        daemon.request("/healthz")
        daemon.wait_for(lambda: re.search(r" debug +hup-1 http: .*GET /healthz", daemon.log()),
                        what="a debug line of the http component")

        daemon.write_config(log_level="debug", log_format="json", poll_interval_ms=900)
        daemon.process.send_signal(signal.SIGHUP)
        line = daemon.wait_for(
            lambda: re.search(r".* warn .*needs a restart.*", daemon.log()),
            what="the needs-a-restart warning").group(0)
        self.assertIn("presence.poll_interval_ms", line)
        self.assertIn("log.format", line)
        self.assertTrue(daemon.ready())

        with open(daemon.config_path, "a") as f:
            f.write("[bogus]\n")
        daemon.process.send_signal(signal.SIGHUP)
        daemon.wait_for(lambda: "keeping the running settings" in daemon.log(),
                        what="the refused reload")
        self.assertTrue(daemon.ready())
        self.assertEqual(daemon.stop()[0], 0)

    def test_sigterm_hands_the_partitions_over_and_exits_zero(self):
        first = self.daemon(instance_id="term-1")
        second = self.daemon(instance_id="term-2")
        with self.redis_server.client() as r:
            def owners():
                now = int(r.call("TIME")[0]) * 1000
                found = []
                for p in range(4):
                    lease = r.call("HGETALL", f"presence:{{p{p}}}:lease") or []
                    lease = dict(zip(lease[0::2], lease[1::2]))
                    alive = int(lease.get("expires_at") or 0) > now
                    found.append(lease.get("instance") if alive else None)
                return found
            first.wait_for(lambda: set(owners()) == {"term-1", "term-2"},
                           what="both instances owning partitions")
            code, took = second.stop()
            self.assertEqual(code, 0, second.log()[-3000:])
            self.assertLess(took, STOP_BOUND_S + STOP_SLACK_S)
            self.assertNotIn("term-2", owners(), "the leases were not released")
            # Released, not expired: the survivor takes them well before lease_ms (2 s) ends.
            first.wait_for(lambda: owners() == ["term-1"] * 4, timeout=10,
                           what="term-1 owning every partition")
        self.assertIn("handing over", second.log())
        self.assertEqual(first.stop()[0], 0)

    def test_readyz_follows_redis_and_sigterm_is_bounded_without_it(self):
        daemon = self.daemon(instance_id="redis-1")
        self.redis_server.kill()
        try:
            daemon.wait_for(
                lambda: (lambda s: s[0] == 503 and "redis" in s[1])(daemon.request("/readyz")),
                what="/readyz 503 naming redis while Redis is down")
            metrics = parse_prometheus(daemon.request("/metrics")[1])
            self.assertEqual(sample(metrics, "presence_ready"), 0)
        finally:
            self.redis_server.start()
        daemon.wait_for(daemon.ready, what="/readyz 200 once Redis is back")
        metrics = parse_prometheus(daemon.request("/metrics")[1])
        self.assertGreater(sample(metrics, "presence_redis_errors_total"), 0)

        self.redis_server.kill()
        daemon.wait_for(lambda: not daemon.ready(), what="/readyz failing again")
        code, took = daemon.stop()  # refused connections: the handoff fails at once
        self.assertEqual(code, 0, daemon.log()[-3000:])
        self.assertLess(took, STOP_BOUND_S + STOP_SLACK_S)

    def test_sigterm_exits_zero_at_the_bound_when_redis_hangs(self):
        # Every Redis call of the handoff waits for its 10 s timeout: the bound cuts it.
        daemon = self.daemon(instance_id="hang-1", redis_timeout_ms=10000)
        self.redis_server.process.send_signal(signal.SIGSTOP)
        try:
            code, took = daemon.stop()
        finally:
            self.redis_server.process.send_signal(signal.SIGCONT)
        self.assertEqual(code, 0, daemon.log()[-3000:])
        self.assertGreaterEqual(took, STOP_BOUND_S - 0.5)
        self.assertLess(took, STOP_BOUND_S + STOP_SLACK_S)
        self.assertIn("handoff took longer than 5 s", daemon.log())


class SystemdNotifyTest(DaemonTestCase):
    def test_ready_watchdog_and_stopping_are_sent(self):
        path = os.path.join(self.folder, "notify.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        listener.bind(path)
        listener.settimeout(0.2)
        messages = []  # (monotonic time, message), read at once so sd_notify never blocks
        done = threading.Event()

        def receive():
            while not done.is_set():
                try:
                    data = listener.recv(4096).decode()
                except socket.timeout:
                    continue
                messages.extend((time.monotonic(), m) for m in data.split("\n") if m)

        reader = threading.Thread(target=receive, daemon=True)
        reader.start()

        def stop_reader():
            done.set()
            reader.join()
            listener.close()
        self.addCleanup(stop_reader)

        daemon = self.daemon(instance_id="notify-1",
                             env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
        daemon.wait_for(lambda: any(m == "READY=1" for _, m in messages), what="READY=1")
        ready_at = time.monotonic()
        time.sleep(1.5)
        pings = [t for t, m in list(messages) if m == "WATCHDOG=1" and t >= ready_at]
        # One every 200 ms: at least 4 in 1.5 s even on a loaded machine.
        self.assertGreaterEqual(len(pings), 4, messages)
        daemon.process.send_signal(signal.SIGTERM)
        self.assertEqual(daemon.process.wait(STOP_BOUND_S + STOP_SLACK_S), 0)
        time.sleep(0.3)
        self.assertIn("STOPPING=1", [m for _, m in messages])


class CheckConfigTest(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="presence-check-")
        self.path = os.path.join(self.folder, "presenced.toml")
        with open(self.path, "w") as f:
            f.write('[instance]\nid = "x"\n[redis]\naddress = "127.0.0.1:6379"\n')

    def check(self, *args, env=None, path=None):
        environment = {k: v for k, v in os.environ.items() if not k.startswith("PRESENCE_")}
        environment.update(env or {})
        return subprocess.run([PRESENCED, "--check-config", "-c", path or self.path, *args],
                              capture_output=True, text=True, env=environment, timeout=30)

    def test_a_valid_file_exits_zero_without_contacting_anything(self):
        result = self.check()  # nothing listens on 6379 for this to matter
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, f"{self.path}: ok\n")

    def test_the_environment_is_applied(self):
        result = self.check(env={"PRESENCE_LISTEN": "no-port"})
        self.assertEqual(result.returncode, 2)
        self.assertIn("no-port", result.stderr)
        result = self.check(env={"PRESENCE_INSTANCE_ID": "bad id!"})
        self.assertEqual(result.returncode, 2)

    def test_the_options_are_applied_over_the_environment(self):
        result = self.check("--redis", "127.0.0.1:99999", env={"PRESENCE_REDIS": "127.0.0.1:1"})
        self.assertEqual(result.returncode, 2)
        self.assertIn("99999", result.stderr)
        result = self.check("--listen", "127.0.0.1:0", env={"PRESENCE_LISTEN": "no-port"})
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_a_bad_file_exits_two_naming_the_line(self):
        with open(self.path, "a") as f:
            f.write("[partitions]\ncount = 0\n")
        result = self.check()
        self.assertEqual(result.returncode, 2)
        self.assertRegex(result.stderr, re.escape(self.path) + r":\d+: partitions.count")
        missing = self.check(path=os.path.join(self.folder, "missing.toml"))
        self.assertEqual(missing.returncode, 2)
        self.assertIn("missing.toml", missing.stderr)

    def test_an_unknown_option_exits_two(self):
        result = subprocess.run([PRESENCED, "--no-such-option"], capture_output=True, text=True,
                                timeout=30)
        self.assertEqual(result.returncode, 2)


if __name__ == "__main__":
    unittest.main()
