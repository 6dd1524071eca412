"""A minimal Redis client for tests (RESP2 over a plain socket, stdlib only).

    r = Redis("127.0.0.1", port)
    r.call("SET", "k", "v")          # -> "OK"
    r.call("GET", "k")               # -> "v"
    r.call("INCR", "n")              # -> 1
    r.call("FCALL", "f", 0)          # arguments may be str, bytes, int or float
    r.close()

Replies: simple and bulk strings are returned as str (decoded as UTF-8; bytes
that are not UTF-8, as in binary values, become surrogates with
"surrogateescape", so that sending the str back sends the same bytes),
integers as int, arrays as lists (nested), nil bulk strings and nil arrays as
None. An error reply raises RedisError whose message is the server's text
("ERR unknown command ..."). Not thread-safe: use one client per thread.
"""

import socket

__all__ = ["Redis", "RedisError"]


class RedisError(Exception):
    """An error reply from Redis; str(e) is the server's message."""


class Redis:
    """One connection to a Redis server. Usable as a context manager."""

    def __init__(self, host="127.0.0.1", port=6379, timeout=10.0):
        self.host = host
        self.port = port
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._buf = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Closes the connection; safe to call twice."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def call(self, *args):
        """Sends one command and returns its decoded reply (see module doc)."""
        self.send(*args)
        return self.read_reply()

    def pipeline(self, commands):
        """Sends several commands (each a tuple) at once; returns their replies.

        An error reply is returned as a RedisError instance, not raised.
        """
        self._sock.sendall(b"".join(_encode(c) for c in commands))
        replies = []
        for _ in commands:
            try:
                replies.append(self.read_reply())
            except RedisError as error:
                replies.append(error)
        return replies

    def send(self, *args):
        """Sends one command without reading its reply."""
        if self._sock is None:
            raise ConnectionError(f"redis {self.host}:{self.port}: client is closed")
        self._sock.sendall(_encode(args))

    def read_reply(self):
        """Reads one reply; raises RedisError for an error reply."""
        line = self._read_line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode("utf-8")
        if kind == b"-":
            raise RedisError(rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            length = int(rest)
            if length < 0:
                return None
            data = self._read_exact(length + 2)[:-2]
            return data.decode("utf-8", "surrogateescape")
        if kind == b"*":
            count = int(rest)
            if count < 0:
                return None
            return [self._read_element() for _ in range(count)]
        raise ConnectionError(f"redis {self.host}:{self.port}: bad reply line {line!r}")

    def _read_element(self):
        # An error nested in an array (EXEC, scripts) is returned, not raised.
        try:
            return self.read_reply()
        except RedisError as error:
            return error

    def _fill(self):
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"redis {self.host}:{self.port}: connection closed")
        self._buf += chunk

    def _read_line(self):
        while True:
            end = self._buf.find(b"\r\n")
            if end >= 0:
                line, self._buf = self._buf[:end], self._buf[end + 2:]
                return line
            self._fill()

    def _read_exact(self, size):
        while len(self._buf) < size:
            self._fill()
        data, self._buf = self._buf[:size], self._buf[size:]
        return data


def _encode(args):
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode("utf-8", "surrogateescape")
        elif isinstance(arg, (int, float)) and not isinstance(arg, bool):
            data = str(arg).encode("ascii")
        else:
            raise TypeError(f"redis argument {arg!r} must be str, bytes, int or float")
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)
