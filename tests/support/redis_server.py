"""Runs a private redis-server for a test.

    with RedisServer(aof=True) as server:
        r = server.client()            # a resp.Redis connected to it
        r.call("PING")
        server.restart()               # same port, same data dir (AOF replayed)

The server listens on 127.0.0.1 at a free port (`.port`), keeps its files in
a private temporary directory (`.dir`, removed by stop() unless keep_dir),
never saves RDB snapshots (`--save ''`) and writes an append-only file when
aof=True. start() returns once PING answers. The binary is $REDIS_SERVER or
/usr/bin/redis-server. Its log is `.log_path`; start() includes its tail in
the error when the server does not come up.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from resp import Redis, RedisError

__all__ = ["RedisServer", "free_port"]


def free_port():
    """A loopback TCP port that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """One redis-server process; see the module doc."""

    def __init__(self, aof=False, port=None, extra_args=(), binary=None, keep_dir=False):
        self.aof = aof
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.extra_args = list(extra_args)
        self.binary = binary or os.environ.get("REDIS_SERVER", "/usr/bin/redis-server")
        self.keep_dir = keep_dir
        self.dir = tempfile.mkdtemp(prefix="presence-redis-")
        self.log_path = os.path.join(self.dir, "redis.log")
        self.stderr_path = os.path.join(self.dir, "redis.stderr")
        self.process = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self, timeout=10.0):
        """Starts the server and waits until it answers PING."""
        if self.process is not None:
            raise RuntimeError(f"redis-server on port {self.port} is already running")
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", self.host,
            "--dir", self.dir,
            "--save", "",
            "--appendonly", "yes" if self.aof else "no",
            "--appendfsync", "everysec",
            "--daemonize", "no",
            "--logfile", self.log_path,
        ] + self.extra_args
        # Errors before the log file opens (bad arguments) go to stderr: keep them too.
        with open(self.stderr_path, "ab") as stderr:
            self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=stderr)
        self._wait_ready(timeout)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Stops the server (SIGTERM, then SIGKILL) and removes its directory.

        Removal is skipped when keep_dir is set; restart() keeps it anyway.
        """
        self._terminate(sig, timeout)
        if not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def kill(self):
        """Kills the server with SIGKILL, keeping its data dir (for restart())."""
        self._terminate(signal.SIGKILL, 10.0)

    def restart(self, timeout=10.0):
        """Stops the server gracefully and starts it again on the same port and dir."""
        self._terminate(signal.SIGTERM, timeout)
        self.start(timeout)

    def client(self, timeout=10.0):
        """A new resp.Redis connected to this server; the caller closes it."""
        return Redis(self.host, self.port, timeout=timeout)

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def _terminate(self, sig, timeout):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        last_error = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with Redis(self.host, self.port, timeout=1.0) as r:
                    if r.call("PING") == "PONG":
                        return
            except (OSError, RedisError) as error:  # LOADING, refused, ...
                last_error = error
            time.sleep(0.05)
        status = self.process.poll()
        self._terminate(signal.SIGKILL, 5.0)
        raise RuntimeError(
            f"redis-server on port {self.port} did not answer PING within {timeout} s "
            f"(exit status {status}, last error {last_error}); log tail:\n{self._log_tail()}")

    def _log_tail(self, lines=20):
        tail = []
        for path in (self.stderr_path, self.log_path):
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    tail += f.readlines()[-lines:]
            except OSError:
                pass
        return "".join(tail) or "(no log)"
