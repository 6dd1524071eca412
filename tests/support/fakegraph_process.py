"""Runs tests/fakegraph/fakegraph.py as a subprocess for tests.

    from fakegraph_process import FakeGraph

    with FakeGraph(seed=7, token_ttl=60, change_interval=0) as graph:
        graph.url                      # "http://127.0.0.1:PORT": use as graph_url and login_url
        graph.set_presence(guid, "Busy", "InACall")
        graph.stats()["tenants"]["acme"]["presence_requests"]
        graph.config(rate_limit=10, rate_window=2)
        graph.hostile("acme", presence="garbage")   # hostile answers for one tenant
        graph.normal("acme")

Keyword options become command-line flags (token_ttl=1 -> --token-ttl 1; quiet=True ->
--quiet); see `fakegraph.py --help`. The fake's log (stderr) goes to a file whose path is
`.log_path` and whose text is `.log()`; it is kept in the temp dir given as `log_dir`, or in
a fresh temp dir that is removed at stop() unless `keep_log=True`.
"""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

SCRIPT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                       "..", "fakegraph", "fakegraph.py"))
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
BANNER = "fakegraph listening on "


class FakeGraphError(Exception):
    """The fake did not start, or a control request failed."""


class FakeGraph:
    def __init__(self, log_dir=None, keep_log=False, start_timeout=10.0, **options):
        self.options = options
        self.start_timeout = start_timeout
        self.keep_log = keep_log
        self.own_dir = log_dir is None
        self.log_dir = log_dir
        self.log_path = None  # set by start()
        self.process = None
        self.url = None
        self.port = None

    # ---- lifecycle ----

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()
        return False

    def start(self):
        """Starts the fake and waits for its banner; raises FakeGraphError with its log."""
        command = [sys.executable, SCRIPT] + self.flags()
        if self.log_dir is None:
            self.log_dir = tempfile.mkdtemp(prefix="fakegraph-")
        self.log_path = os.path.join(self.log_dir, "fakegraph.log")
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log_file,
                                            stdin=subprocess.DEVNULL)
        line = self.read_banner()
        if not line.startswith(BANNER):
            self.stop_process()
            log = self.log()
            self.stop()
            raise FakeGraphError(f"fakegraph did not start ({' '.join(command)}): "
                                 f"first line {line!r}; log:\n{log}")
        self.url = line[len(BANNER):].strip()
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def flags(self):
        flags = []
        for name, value in self.options.items():
            flag = "--" + name.replace("_", "-")
            if value is True:
                flags.append(flag)
            elif value is not False and value is not None:
                flags += [flag, str(value)]
        return flags

    def read_banner(self):
        deadline = time.monotonic() + self.start_timeout
        stdout = self.process.stdout
        data = b""
        while not data.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            ready, _, _ = select.select([stdout], [], [], remaining)
            if not ready:
                break
            chunk = os.read(stdout.fileno(), 1)
            if not chunk:  # exited before printing
                break
            data += chunk
        return data.decode("utf-8", "replace")

    def stop(self, timeout=5.0):
        """SIGTERM, then SIGKILL after timeout; returns the exit code. Safe to call twice."""
        code = self.stop_process(timeout)
        if self.own_dir and not self.keep_log and self.log_dir and os.path.isdir(self.log_dir):
            shutil.rmtree(self.log_dir, ignore_errors=True)
            self.log_dir = None
        return code

    def stop_process(self, timeout=5.0):
        code = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            code = self.process.returncode
            self.process.stdout.close()
            self.process = None
        return code

    def log(self):
        """The fake's stderr so far ("" once its own temp dir is removed)."""
        if self.log_path is None:
            return ""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as log_file:
                return log_file.read()
        except OSError:
            return ""

    # ---- control endpoints ----

    def set_presence(self, user_id, availability, activity, pinned=True, allow_unknown=False):
        """Sets a user's presence; pinned users are left alone by the random walk."""
        return self.control("PUT", f"/_fake/presence/{user_id}", {
            "availability": availability, "activity": activity, "pinned": pinned,
            "allow_unknown": allow_unknown})

    def presence(self, user_id):
        """A user's presence as the fake holds it (not counted as a Graph request)."""
        return self.control("GET", f"/_fake/presence/{user_id}")

    def stats(self):
        return self.control("GET", "/_fake/stats")

    def reset_stats(self):
        return self.control("POST", "/_fake/reset-stats", {})

    def config(self, **settings):
        """Changes run-time settings (rate_limit, fail_rate, change_interval, ...)."""
        return self.control("POST", "/_fake/config", settings)

    def step(self, ticks=1):
        """Runs walk ticks now; returns how many user moves they made."""
        return self.control("POST", "/_fake/step", {"ticks": ticks})["changed"]

    def hostile(self, tenant, presence=None, token=None):
        """Makes the fake answer tenant's presence and/or token requests in a hostile mode
        (see GET /_fake/hostile for the modes); None leaves that endpoint normal."""
        return self.control("PUT", f"/_fake/hostile/{tenant}",
                            {"presence": presence, "token": token})["hostile"]

    def normal(self, tenant):
        """Answers tenant normally again (undoes hostile())."""
        return self.control("DELETE", f"/_fake/hostile/{tenant}")["cleared"]

    def hostile_modes(self):
        """{"tenants": {tenant: {endpoint: mode}}, "modes": {endpoint: {mode: what}}}."""
        return self.control("GET", "/_fake/hostile")

    def expire_tokens(self):
        return self.control("POST", "/_fake/expire-tokens", {})["expired"]

    def token(self, tenant, client_id=None, client_secret=None):
        """Gets an access token the way presenced does (with the fake's own id and secret)."""
        client_id = client_id or self.options.get("client_id") or "fake-client"
        client_secret = client_secret or self.options.get("client_secret") or "fake-secret"
        form = urllib.parse.urlencode({
            "client_id": client_id, "client_secret": client_secret, "scope": GRAPH_SCOPE,
            "grant_type": "client_credentials"}).encode()
        request = urllib.request.Request(
            f"{self.url}/{tenant}/oauth2/v2.0/token", data=form, method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)["access_token"]

    def control(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            raise FakeGraphError(f"fakegraph {method} {path}: {error.code} "
                                 f"{error.read().decode('utf-8', 'replace')}") from None
