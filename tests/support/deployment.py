"""A whole Presence deployment on loopback for end-to-end tests.

    with Deployment(instances=3, partitions=16, poll_interval_ms=300) as d:
        d.request("PUT", "/v1/tenants/acme/agents/ann",
                  {"source": "graph", "graph_user_id": guid})   # through nginx
        d.request("GET", "/readyz", via=1)                      # straight to instance 1
        d.graph.set_presence(guid, "Busy", "InACall")           # the fake Graph
        d.wait_until(lambda: d.events(tenant="acme"), what="an event of acme")
        d.kill(2)                                               # kill -9 instance 2
        d.partition_owners()                                    # {partition: instance id}
        d.ctl("--json", "partitions")                           # runs presencectl

It starts, each on a free port and in one private temporary folder: redis-server
(RedisServer), the fake Graph (FakeGraph, its random walk off unless asked for),
`instances` presenced processes with ids "a", "b", "c", ... each with its own generated
TOML config and its stderr in a log file, and nginx round-robin in front of them
(conf/nginx.conf.in). Entering returns once every instance answers /readyz with 200
and nginx proxies. Options left as None keep presenced's defaults (conf/presenced.toml).

Binaries: $PRESENCED_BIN and $PRESENCECTL_BIN (set by CTest), else build/ of the source
tree; $NGINX_BIN, else nginx on PATH or /usr/sbin/nginx.

API keys: once Redis is up an admin key is stored (`admin_key`, written straight into
presence:{ctl}:keys as `presencectl keys create --admin` would) and request() sends it as
"Authorization: Bearer ..." unless told otherwise (auth=False, or auth="pk_..." for another
key). make_key() stores more keys (tenant ones too).

DeploymentCase is a unittest base class that shares one Deployment per test class and
prints the tail of every log when a test fails.
"""

import base64
import hashlib
import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

from fakegraph_process import FakeGraph
from records import decode_record
from redis_server import RedisServer, free_port

__all__ = ["Deployment", "DeploymentCase", "guid", "new_api_key", "store_api_key"]

SOURCE_DIR = os.environ.get(
    "PRESENCE_SOURCE_DIR",
    os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
GRAPH_SECRET_ENV = "PRESENCE_TEST_GRAPH_SECRET"
GUID_NAMESPACE = uuid.UUID("6f1c1d0e-8a53-4c8e-9d1e-2f4b7c0a9e11")
START_TIMEOUT_S = 60.0


def guid(tenant, agent):
    """A stable Graph user id (GUID) for a test agent."""
    return str(uuid.uuid5(GUID_NAMESPACE, f"{tenant}/{agent}"))


def new_api_key(scope="admin", tenant=None, name="tests"):
    """A new API key "pk_<id>_<secret>" and its record, as presencectl keys create makes them.

    Returns (key, record); store the record with store_api_key()."""
    key_id = secrets.token_hex(6)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    key = f"pk_{key_id}_{secret}"
    record = {"id": key_id, "scope": scope, "sha256": hashlib.sha256(key.encode()).hexdigest(),
              "name": name, "created_at": int(time.time() * 1000)}
    if scope == "tenant":
        record["tenant"] = tenant
    return key, record


def store_api_key(redis_call, record):
    """HSETs a record of new_api_key() into presence:{ctl}:keys with a redis_call(*args)."""
    redis_call("HSET", "presence:{ctl}:keys", record["id"], json.dumps(record))


def _binary(variable, name):
    return os.environ.get(variable) or os.path.join(SOURCE_DIR, "build", name)


def _nginx_binary():
    return os.environ.get("NGINX_BIN") or shutil.which("nginx") or "/usr/sbin/nginx"


def _tail(path, lines):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as error:
        return f"(cannot read {path}: {error.strerror})\n"


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


class Instance:
    """One presenced process: its id, port, config file and log."""

    def __init__(self, index, folder):
        self.index = index
        self.id = chr(ord("a") + index)
        self.port = free_port()
        self.config_path = os.path.join(folder, f"presenced-{self.id}.toml")
        self.overrides = {}  # {table: {key: value}} on top of the deployment's config
        self.log_path = os.path.join(folder, f"presenced-{self.id}.log")
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def state(self):
        if self.process is None:
            return f"{self.id}: not started"
        code = self.process.poll()
        return f"{self.id}: running (pid {self.process.pid})" if code is None else \
            f"{self.id}: exited with {code}"


class Deployment:
    """Redis, the fake Graph, N presenced and nginx; see the module doc."""

    def __init__(self, instances=3, partitions=16, lease_ms=None, renew_ms=None,
                 heartbeat_ms=None, member_ttl_ms=None, stabilization_ms=None,
                 poll_interval_ms=300, batch_size=None, max_body_bytes=None,
                 log_level="info", graph_options=None, extra_config=None, redis_args=(),
                 upstream_header=False):
        self.partitions = partitions
        # [table] -> {key: value}; None values are left out (presenced's default).
        self.config = {
            "partitions": {"count": partitions, "lease_ms": lease_ms, "renew_ms": renew_ms},
            "membership": {"heartbeat_ms": heartbeat_ms, "ttl_ms": member_ttl_ms,
                           "stabilization_ms": stabilization_ms},
            "presence": {"poll_interval_ms": poll_interval_ms, "batch_size": batch_size},
            "http": {"max_body_bytes": max_body_bytes},
            "log": {"level": log_level, "format": "text"},
        }
        for table, values in (extra_config or {}).items():
            self.config.setdefault(table, {}).update(values)
        self.graph_options = {"change_interval": 0, "quiet": True, **(graph_options or {})}
        self.instance_count = instances
        self.folder = None
        self.redis_server = None
        self.graph = None
        self.instances = []
        self.nginx = None
        self.nginx_port = None
        self._redis = None
        self.admin_key = None  # set once Redis is up; sent by request()
        self.failed = False
        # Extra redis-server arguments (later ones win, e.g. "--appendfsync", "always").
        self.redis_args = list(redis_args)
        # When set, nginx adds X-Upstream-Addr ($upstream_addr: every instance it tried,
        # comma separated) to each answer, so a test can see nginx's retries.
        self.upstream_header = upstream_header

    # ---- lifecycle ----

    def __enter__(self):
        try:
            self.start_all()
        except BaseException:
            self.failed = True
            self.dump_logs()
            self.stop_all()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.failed = True
            self.dump_logs()
        self.stop_all()
        return False

    def start_all(self):
        self.folder = tempfile.mkdtemp(prefix="presence-e2e-")
        self.redis_server = RedisServer(aof=True, extra_args=self.redis_args)
        self.redis_server.start()
        self.admin_key = self.make_key("admin", name="deployment.py")
        self.graph = FakeGraph(log_dir=self.folder, **self.graph_options)
        self.graph.start()

        self.instances = [Instance(i, self.folder) for i in range(self.instance_count)]
        for instance in self.instances:
            self._write_config(instance)
            self._spawn(instance)
        for instance in self.instances:
            self._wait_ready(instance)
        self._start_nginx()

    def stop_all(self):
        """Stops nginx, then every instance (SIGTERM together), the fake Graph and Redis."""
        if self.nginx is not None:
            self._stop_processes([self.nginx], signal.SIGQUIT)
            self.nginx = None
        self._stop_processes([i.process for i in self.instances if i.process], signal.SIGTERM)
        if self._redis is not None:
            self._redis.close()
            self._redis = None
        if self.graph is not None:
            self.graph.stop()
            self.graph = None
        if self.redis_server is not None:
            self.redis_server.stop()
            self.redis_server = None
        if self.folder and not (self.failed or os.environ.get("PRESENCE_KEEP_TEST_DIR")):
            shutil.rmtree(self.folder, ignore_errors=True)
        elif self.folder:
            print(f"deployment: logs and configs kept in {self.folder}", file=sys.stderr)

    @staticmethod
    def _stop_processes(processes, sig, timeout=20.0):
        for process in processes:
            if process.poll() is None:
                process.send_signal(sig)
        deadline = time.monotonic() + timeout
        for process in processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"deployment: pid {process.pid} ignored signal {sig.name} for "
                      f"{timeout:g} s; killing it", file=sys.stderr)
                process.kill()
                process.wait()

    # ---- instances ----

    def instance(self, i):
        return self.instances[i]

    def instance_url(self, i):
        return self.instances[i].url

    @property
    def instance_ids(self):
        return [instance.id for instance in self.instances]

    def alive_ids(self):
        return [instance.id for instance in self.instances if instance.running]

    def kill(self, i, sig=signal.SIGKILL, timeout=30.0):
        """Sends sig to instance i; for SIGKILL, SIGTERM and SIGINT waits until it exited."""
        instance = self.instances[i]
        if not instance.running:
            raise AssertionError(f"instance {instance.id} is not running: {instance.state()}")
        instance.process.send_signal(sig)
        if sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
            try:
                instance.process.wait(timeout)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"instance {instance.id} still running {timeout:g} s "
                                     f"after {sig.name}") from None

    def start(self, i):
        """Starts instance i again (same id, port and config) and waits for /readyz."""
        instance = self.instances[i]
        if instance.running:
            raise AssertionError(f"instance {instance.id} is already running")
        self._spawn(instance)
        self._wait_ready(instance)

    def add_instance(self):
        """Starts one more instance (the next id), waits for /readyz and adds it to nginx.

        Returns its index."""
        instance = Instance(len(self.instances), self.folder)
        self.instances.append(instance)
        self._write_config(instance)
        self._spawn(instance)
        self._wait_ready(instance)
        if self.nginx is not None:
            self.reload_nginx()
        return instance.index

    def add_instance_unready(self, overrides=None):
        """Starts one more instance with `overrides` ({table: {key: value}}) on top of the
        deployment's config, without waiting for /readyz nor adding it to nginx (for an
        instance that is meant not to become ready). Returns its index."""
        instance = Instance(len(self.instances), self.folder)
        instance.overrides = dict(overrides or {})
        self.instances.append(instance)
        self._write_config(instance)
        self._spawn(instance)
        return instance.index

    def reload_nginx(self):
        """Rewrites nginx.conf with every instance as an upstream and reloads nginx (SIGHUP).

        Stopped instances stay listed: nginx skips them after a refused connection."""
        self._write_nginx_config()
        self.nginx.send_signal(signal.SIGHUP)
        # The old worker finishes its requests; new connections get the new config. A
        # short pause lets the new worker start before the caller relies on it.
        time.sleep(0.3)

    def restart_redis(self, timeout=30.0):
        """SHUTDOWN of Redis (it writes and fsyncs its AOF), then a start on the same port
        and data dir; returns once it answers PING again."""
        server = self.redis_server
        if self._redis is not None:
            self._redis.close()
            self._redis = None
        client = server.client()
        try:
            client.call("SHUTDOWN")
        except (OSError, ConnectionError):
            pass  # SHUTDOWN closes the connection instead of answering
        finally:
            client.close()
        try:
            server.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"redis-server on port {server.port} still running "
                                 f"{timeout:g} s after SHUTDOWN") from None
        server.process = None
        server.start(timeout)

    def _write_config(self, instance):
        tables = {
            "instance": {"id": instance.id, "listen": f"127.0.0.1:{instance.port}"},
            "redis": {"address": f"127.0.0.1:{self.redis_server.port}"},
            "graph": {"graph_url": self.graph.url, "login_url": self.graph.url,
                      "client_id": "presence-tests", "client_secret_env": GRAPH_SECRET_ENV},
        }
        # Options of a table given above (extra_config's "graph") add to it, not replace it.
        for table, values in self.config.items():
            tables[table] = {**tables.get(table, {}), **values}
        for table, values in instance.overrides.items():
            tables[table] = {**tables.get(table, {}), **values}
        lines = [f"# Generated by tests/support/deployment.py for instance {instance.id}."]
        for table, values in tables.items():
            values = {k: v for k, v in values.items() if v is not None}
            if values:
                lines.append(f"\n[{table}]")
                lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
        with open(instance.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def _spawn(self, instance):
        env = dict(os.environ, **{GRAPH_SECRET_ENV: "test-secret"})
        with open(instance.log_path, "ab") as log:
            log.write(f"---- starting presenced {instance.id} ----\n".encode())
            log.flush()
            instance.process = subprocess.Popen(
                [_binary("PRESENCED_BIN", "presenced"), "-c", instance.config_path],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)

    def _wait_ready(self, instance):
        deadline = time.monotonic() + START_TIMEOUT_S
        last = None
        while time.monotonic() < deadline:
            if not instance.running:
                raise RuntimeError(f"presenced {instance.id} exited during start-up "
                                   f"({instance.state()}); log tail:\n"
                                   f"{_tail(instance.log_path, 30)}")
            try:
                last = self.request("GET", "/readyz", via=instance.index, timeout=2)[0]
                if last == 200:
                    return
            except OSError as error:
                last = error
            time.sleep(0.05)
        raise RuntimeError(f"presenced {instance.id} not ready after {START_TIMEOUT_S:g} s "
                           f"(last /readyz: {last}); log tail:\n{_tail(instance.log_path, 30)}")

    # ---- nginx ----

    def _start_nginx(self):
        prefix = os.path.join(self.folder, "nginx")
        os.makedirs(os.path.join(prefix, "tmp"), exist_ok=True)
        self.nginx_port = free_port()
        config = self._write_nginx_config()
        self.nginx_error_log = os.path.join(prefix, "error.log")
        with open(os.path.join(prefix, "stderr.log"), "ab") as log:
            self.nginx = subprocess.Popen(
                [_nginx_binary(), "-p", prefix, "-c", config, "-e", self.nginx_error_log],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)

        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.nginx.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.nginx.returncode}:\n"
                                   f"{_tail(os.path.join(prefix, 'stderr.log'), 20)}"
                                   f"{_tail(self.nginx_error_log, 20)}")
            try:
                if self.request("GET", "/readyz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"nginx on port {self.nginx_port} did not proxy /readyz within "
                           f"{START_TIMEOUT_S:g} s:\n{_tail(self.nginx_error_log, 20)}")

    def _write_nginx_config(self):
        """Writes PREFIX/nginx.conf from conf/nginx.conf.in; returns its path."""
        prefix = os.path.join(self.folder, "nginx")
        servers = "\n".join(f"    server 127.0.0.1:{i.port} max_fails=1 fail_timeout=2s;"
                            for i in self.instances)
        with open(os.path.join(SOURCE_DIR, "conf", "nginx.conf.in")) as f:
            text = f.read()
        text = (text.replace("@USER_DIRECTIVE@", "user root;" if os.geteuid() == 0 else "")
                .replace("@PREFIX@", prefix)
                .replace("@LISTEN@", f"127.0.0.1:{self.nginx_port}")
                .replace("@UPSTREAM_SERVERS@", servers))
        if self.upstream_header:
            proxy_pass = "proxy_pass http://presenced;"
            if proxy_pass not in text:
                raise RuntimeError(f"conf/nginx.conf.in has no '{proxy_pass}' line to add "
                                   f"the X-Upstream-Addr header after")
            text = text.replace(proxy_pass, proxy_pass +
                                "\n      add_header X-Upstream-Addr $upstream_addr always;", 1)
        config = os.path.join(prefix, "nginx.conf")
        with open(config, "w") as f:
            f.write(text)
        return config

    @property
    def api_url(self):
        return f"http://127.0.0.1:{self.nginx_port}"

    # ---- HTTP ----

    def make_key(self, scope="admin", tenant=None, name="tests"):
        """Stores a new API key (scope "admin" or "tenant") in Redis and returns it."""
        key, record = new_api_key(scope, tenant, name)
        store_api_key(self.redis_call, record)
        return key

    def request(self, method, path, body=None, headers=None, via=None, timeout=15, auth=True):
        """Sends one request through nginx (via=None) or to instance `via`.

        body: a dict or list is sent as JSON (Content-Type application/json unless headers
        say otherwise), str or bytes as they are. auth: True sends the admin key, a string
        that key, False none (an Authorization in headers wins). Returns (status, headers
        with lower-case names, body parsed as JSON, or the text when it is not JSON, or None
        when empty).
        """
        port = self.nginx_port if via is None else self.instances[via].port
        headers = dict(headers or {})
        key = self.admin_key if auth is True else auth
        if key and not any(name.lower() == "authorization" for name in headers):
            headers["Authorization"] = f"Bearer {key}"
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode("utf-8")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            answer_headers = {name.lower(): value for name, value in response.getheaders()}
            return response.status, answer_headers, self._parse(payload)
        finally:
            connection.close()

    @staticmethod
    def _parse(payload):
        if not payload:
            return None
        text = payload.decode("utf-8", "replace")
        try:
            return json.loads(text)
        except ValueError:
            return text

    def register(self, tenant, agent, source="graph", graph_user_id=None, via=None, **extra):
        """PUTs an agent (graph_user_id defaults to guid(tenant, agent) for source graph)."""
        body = {"source": source, **extra}
        if source == "graph":
            body["graph_user_id"] = graph_user_id or guid(tenant, agent)
        return self.request("PUT", f"/v1/tenants/{tenant}/agents/{agent}", body, via=via)

    # ---- waiting ----

    def wait_until(self, predicate, timeout=30.0, what="the condition", interval=0.05):
        """Calls predicate until it returns something true and returns that.

        Raises AssertionError naming `what`, the last value and each instance's state.
        """
        deadline = time.monotonic() + timeout
        value = None
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                break
            time.sleep(interval)
        states = "; ".join(i.state() for i in self.instances)
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; "
                             f"last value {value!r}; instances: {states}")

    # ---- Redis ----

    @property
    def redis(self):
        """A shared resp.Redis client of the deployment's Redis (reconnects when closed)."""
        if self._redis is None:
            self._redis = self.redis_server.client()
        return self._redis

    @property
    def redis_address(self):
        return f"127.0.0.1:{self.redis_server.port}"

    def redis_call(self, *args):
        try:
            return self.redis.call(*args)
        except OSError:
            # The connection broke (e.g. after a Redis restart): one new attempt.
            self._redis.close()
            self._redis = None
            return self.redis.call(*args)

    def redis_time_ms(self):
        seconds, micros = self.redis_call("TIME")
        return int(seconds) * 1000 + int(micros) // 1000

    def _hash(self, key):
        flat = self.redis_call("HGETALL", key) or []
        return dict(zip(flat[0::2], flat[1::2]))

    def lease(self, partition):
        return self._hash(f"presence:{{p{partition}}}:lease")

    def partition_owners(self):
        """{partition: instance id, or None} from the lease hashes, against Redis TIME."""
        now = self.redis_time_ms()
        owners = {}
        for p in range(self.partitions):
            lease = self.lease(p)
            alive = lease.get("instance") and int(lease.get("expires_at") or 0) > now
            owners[p] = lease["instance"] if alive else None
        return owners

    def owned_counts(self, owners=None):
        """{instance id: number of partitions it owns}."""
        counts = {}
        for owner in (owners or self.partition_owners()).values():
            if owner is not None:
                counts[owner] = counts.get(owner, 0) + 1
        return counts

    def balanced(self, ids=None):
        """The owners when every partition is owned, only by `ids` (default: the running
        instances), each owning floor(P/N) or ceil(P/N); else None."""
        ids = set(ids or self.alive_ids())
        owners = self.partition_owners()
        if any(owner not in ids for owner in owners.values()):
            return None
        counts = [self.owned_counts(owners).get(i, 0) for i in ids]
        low, high = self.partitions // len(ids), -(-self.partitions // len(ids))
        return owners if all(low <= c <= high for c in counts) else None

    def partition_of(self, tenant, agent):
        """The partition whose agents hash holds tenant/agent (records and tombstones)."""
        for p in range(self.partitions):
            if self.redis_call("HEXISTS", f"presence:{{p{p}}}:agents", f"{tenant}/{agent}"):
                return p
        return None

    def agent_record(self, tenant, agent):
        """The stored agent record (dict), tombstones included, or None."""
        for p in range(self.partitions):
            raw = self.redis_call("HGET", f"presence:{{p{p}}}:agents", f"{tenant}/{agent}")
            if raw is not None:
                return decode_record(tenant, agent, raw)
        return None

    def agents_snapshot(self):
        """Every partition's agents hash, for before/after comparisons."""
        return {p: self._hash(f"presence:{{p{p}}}:agents") for p in range(self.partitions)}

    def event_count(self):
        return sum(self.redis_call("XLEN", f"presence:{{p{p}}}:events")
                   for p in range(self.partitions))

    def events(self, tenant=None, agent=None, type=None):
        """Events of every partition stream, ordered by `at` then stream id.

        Each is a dict of the entry's fields plus "id" and "partition"; "data" is parsed.
        """
        events = []
        for p in range(self.partitions):
            for entry_id, fields in self.redis_call("XRANGE", f"presence:{{p{p}}}:events",
                                                    "-", "+") or []:
                event = dict(zip(fields[0::2], fields[1::2]))
                if tenant is not None and event.get("tenant") != tenant:
                    continue
                if agent is not None and event.get("agent") != agent:
                    continue
                if type is not None and event.get("type") != type:
                    continue
                event["id"] = entry_id
                event["partition"] = p
                try:
                    event["data"] = json.loads(event.get("data") or "null")
                except ValueError:
                    pass
                events.append(event)
        events.sort(key=lambda e: (int(e.get("at") or 0), tuple(map(int, e["id"].split("-")))))
        return events

    # ---- presencectl ----

    def ctl(self, *args, check=True, timeout=60):
        """Runs presencectl against the deployment's Redis; returns the CompletedProcess.

        With check, a non-zero exit raises AssertionError with its output.
        """
        command = [_binary("PRESENCECTL_BIN", "presencectl"), "--redis", self.redis_address,
                   *map(str, args)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} exited with {result.returncode}:\n"
                                 f"stdout: {result.stdout}\nstderr: {result.stderr}")
        return result

    # ---- failure output ----

    def dump_logs(self, lines=40):
        """Prints the end of every log to stderr."""
        out = [f"==== deployment logs (folder {self.folder}) ===="]
        for instance in self.instances:
            out.append(f"---- presenced {instance.state()}: {instance.log_path} ----")
            out.append(_tail(instance.log_path, lines))
        if self.nginx_port is not None:
            out.append(f"---- nginx error log ----\n{_tail(self.nginx_error_log, lines // 2)}")
        if self.graph is not None:
            out.append(f"---- fake Graph ----\n{_tail(self.graph.log_path, lines // 2)}")
        if self.redis_server is not None:
            out.append(f"---- redis ----\n{_tail(self.redis_server.log_path, lines // 4)}")
        print("\n".join(out), file=sys.stderr, flush=True)


class DeploymentCase(unittest.TestCase):
    """Shares one Deployment per test class; prints the logs when a test fails.

    Subclasses set `deployment_options` (keyword arguments of Deployment) and use
    `self.d`.
    """

    deployment_options = {}
    d = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.d = Deployment(**cls.deployment_options).__enter__()

    @classmethod
    def tearDownClass(cls):
        if cls.d is not None:
            cls.d.__exit__(None, None, None)
            cls.d = None
        super().tearDownClass()

    def run(self, result=None):
        problems = (lambda r: len(r.failures) + len(r.errors)) if result is not None else None
        before = problems(result) if problems else 0
        outcome = super().run(result)
        if problems and problems(result) > before and self.d is not None:
            self.d.failed = True
            print(f"\n{self.id()} failed; the deployment's logs follow", file=sys.stderr)
            self.d.dump_logs()
        return outcome
