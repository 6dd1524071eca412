"""Hostile input against a real deployment (DESIGN.md invariant 11, docs/limits.md).

A table of malformed and malicious requests, each with the status (and error code) it must
get, is sent byte for byte over raw sockets, straight to a presenced instance and through
nginx. Then: no `presence:*` key changed (leases, membership, jobs and Graph tokens aside,
which change by themselves), no event was appended, every presenced is still the process it
was, and a valid register still works. Connection-level attacks (slowloris, silent and
half-open connections, more connections than http.max_connections) have tests of their own.

nginx answers some requests itself (its HTML 400 for what it cannot parse, its JSON 413 for
bodies over 1 MiB, 501 for unknown transfer codings); the table says so case by case.

API keys: when lib/auth is in the source tree every request carries an admin key made with
`presencectl keys create`, and the auth cases (no key, a revoked key, another tenant's key)
run; without lib/auth they are skipped, and only then.
"""

import os
import select
import socket
import time
import unittest

from deployment import SOURCE_DIR, DeploymentCase, guid

AUTH_IN_TREE = os.path.isdir(os.path.join(SOURCE_DIR, "lib", "auth"))

READ_TIMEOUT_MS = 2000
MAX_CONNECTIONS = 24
AGENT = "/v1/tenants/acme/agents/zed"
GOOD = '{"source": "graph", "graph_user_id": "%s"}' % guid("acme", "zed")
JSON = "Content-Type: application/json\r\n"


# ---- raw HTTP ----

class Answer:
    """A response read off a raw socket; status None when the server closed without one."""

    def __init__(self, status=None, headers=None, body=b""):
        self.status = status
        self.headers = headers or {}
        self.body = body

    def json(self):
        import json
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError:
            return None

    def code(self):
        body = self.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            return body["error"].get("code")
        return None

    def __repr__(self):
        return f"Answer({self.status}, {self.headers}, {self.body[:300]!r})"


def read_answer(sock, deadline):
    """Reads one HTTP response (Content-Length, chunked or until close)."""
    data = b""

    def more():
        nonlocal data
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        data += chunk
        return bool(chunk)

    while b"\r\n\r\n" not in data:
        if not more():
            return Answer() if not data else Answer(-1, {}, data)
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if status == 100:  # an interim answer: the real one follows
        return read_answer_from(sock, deadline, rest)
    data = rest
    if "content-length" in headers:
        length = int(headers["content-length"])
        while len(data) < length and more():
            pass
        return Answer(status, headers, data[:length])
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while not data.endswith(b"0\r\n\r\n") and more():
            pass
        body, text = b"", data
        while text:
            size_line, _, text = text.partition(b"\r\n")
            size = int(size_line.split(b";")[0] or b"0", 16)
            if size == 0:
                break
            body, text = body + text[:size], text[size + 2:]
        return Answer(status, headers, body)
    while more():
        pass
    return Answer(status, headers, data)


def read_answer_from(sock, deadline, already):
    """read_answer for a socket whose first bytes were already read."""

    class Prefixed:
        def __init__(self):
            self.pending = already

        def settimeout(self, t):
            sock.settimeout(t)

        def recv(self, n):
            if self.pending:
                out, self.pending = self.pending, b""
                return out
            return sock.recv(n)

    return read_answer(Prefixed(), deadline)


def exchange(port, raw, timeout=15.0, chunks=None):
    """Sends raw bytes on a new connection (all at once, or `chunks` pieces) and reads the
    answer. A server that closes early is fine: what it answered is still read."""
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            for piece in chunks or [raw]:
                sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_answer(sock, deadline)


# ---- the table ----

class Case:
    """One hostile request: `build(auth)` gives its bytes for a Host and the auth header.

    direct: (status, code) presenced answers; nginx: what nginx in front answers, when it
    differs (code None: nginx's own page, not JSON).
    """

    def __init__(self, name, build, status, code, nginx=None, allow=None):
        self.name = name
        self.build = build
        self.direct = (status, code)
        self.nginx = nginx or (status, code)
        self.allow = allow


def request(method, target, body=b"", headers="", length=True, version="HTTP/1.1"):
    """A request builder: Host, the auth header, `headers` (each ending in CRLF), and
    Content-Length unless length is False."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    if isinstance(target, str):
        target = target.encode("latin-1")

    def build(auth):
        head = method.encode() + b" " + target + b" " + version.encode() + b"\r\n"
        head += b"Host: presence.test\r\n" + auth.encode() + headers.encode("latin-1")
        if length and (body or method in ("PUT", "POST", "PATCH")):
            head += b"Content-Length: %d\r\n" % len(body)
        return head + b"\r\n" + body

    return build


def raw(data):
    """A request given byte for byte, with the auth header after the request line."""
    if isinstance(data, str):
        data = data.encode("latin-1")

    def build(auth):
        line, _, rest = data.partition(b"\r\n")
        return line + b"\r\n" + auth.encode() + rest if rest else data

    return build


def nested(depth):
    return '{"source": "push", "labels": ' + "[" * depth + "]" * depth + "}"


def cases():
    chunked = "Transfer-Encoding: chunked\r\n"
    many_headers = "".join(f"X-H{i}: v\r\n" for i in range(150))
    big_headers = "".join(f"X-B{i}: {'b' * 200}\r\n" for i in range(90))
    labels_65 = "{" + ", ".join(f'"k{i}": "v"' for i in range(65)) + "}"
    labels_big = "{" + ", ".join(f'"k{i}": "{"v" * 250}"' for i in range(20)) + "}"
    push = '{"source": "push"%s}'
    agents = "/v1/tenants/acme/agents"
    html = None  # nginx's own answer, an HTML page
    return [
        # Methods the path does not offer: 405 with Allow.
        Case("POST on an agent", request("POST", AGENT, GOOD, JSON), 405,
             "method_not_allowed", allow="PUT, DELETE, GET"),
        Case("PATCH on an agent", request("PATCH", AGENT, GOOD, JSON), 405,
             "method_not_allowed", allow="PUT, DELETE, GET"),
        Case("TRACE on an agent", request("TRACE", AGENT), 405, "method_not_allowed",
             # nginx refuses TRACE itself.
             nginx=(405, html)),
        Case("an unknown method", request("BREW", AGENT), 405, "method_not_allowed"),
        Case("POST on the agent list", request("POST", agents, GOOD, JSON), 405,
             "method_not_allowed", allow="GET"),
        Case("DELETE on the agent list", request("DELETE", agents), 405, "method_not_allowed",
             allow="GET"),
        Case("GET on presence", request("GET", AGENT + "/presence"), 405, "method_not_allowed",
             allow="PUT"),
        Case("PUT on /healthz", request("PUT", "/healthz", "{}", JSON), 405,
             "method_not_allowed", allow="GET"),
        # Bad JSON.
        Case("truncated JSON", request("PUT", AGENT, '{"source": "graph",', JSON), 400,
             "bad_json"),
        Case("JSON array", request("PUT", AGENT, "[1, 2]", JSON), 400, "bad_json"),
        Case("JSON null", request("PUT", AGENT, "null", JSON), 400, "bad_json"),
        Case("empty body", request("PUT", AGENT, "", JSON), 400, "bad_json"),
        Case("invalid UTF-8 in JSON", request("PUT", AGENT, b'{"source": "\xff\xfe"}', JSON),
             400, "bad_json"),
        Case("NUL byte in JSON", request("PUT", AGENT, b'{"source": "pu\x00sh"}', JSON), 400,
             "bad_json"),
        Case("trailing garbage after JSON", request("PUT", AGENT, push % "" + "}}}", JSON),
             400, "bad_json"),
        # Deep nesting: refused before parsing, whatever the depth.
        Case("60000 nested arrays", request("PUT", AGENT, "[" * 60000, JSON), 400,
             "json_too_deep"),
        Case("12000 nested objects", request("PUT", AGENT, '{"a":' * 12000, JSON), 400,
             "json_too_deep"),
        Case("labels nested 17 deep", request("PUT", AGENT, nested(16), JSON), 400,
             "json_too_deep"),
        # Sizes.
        Case("body over max_body_bytes", request("PUT", AGENT, "x" * 70000, JSON), 413,
             "payload_too_large"),
        Case("2 MiB body", request("PUT", AGENT, "x" * (2 << 20), JSON), 413,
             "payload_too_large"),
        Case("huge Content-Length, no body",
             raw(f"PUT {AGENT} HTTP/1.1\r\nHost: h\r\n{JSON}Content-Length: 99999999999\r\n\r\n"),
             413, "payload_too_large"),
        Case("chunked body over max_body_bytes",
             raw(f"PUT {AGENT} HTTP/1.1\r\nHost: h\r\n{JSON}{chunked}\r\n" +
                 "8000\r\n" + "x" * 0x8000 + "\r\n" + "8000\r\n" + "x" * 0x8000 + "\r\n" +
                 "10\r\n" + "x" * 16 + "\r\n0\r\n\r\n"), 413, "payload_too_large"),
        Case("one huge header", request("GET", AGENT, headers=f"X-Big: {'a' * 20000}\r\n"),
             431, "headers_too_large",
             # nginx's large_client_header_buffers (8k lines) refuse it first.
             nginx=(400, html)),
        Case("too many headers", request("GET", AGENT, headers=many_headers), 431,
             "too_many_headers"),
        Case("headers over max_header_bytes", request("GET", AGENT, headers=big_headers), 431,
             "headers_too_large"),
        Case("labels with 65 entries", request("PUT", AGENT, push % f', "labels": {labels_65}',
                                               JSON), 400, "bad_labels"),
        Case("labels over max_labels_bytes",
             request("PUT", AGENT, push % f', "labels": {labels_big}', JSON), 400, "bad_labels"),
        # Ids: only letters, digits and -_.@, 1 to 128, not dots only.
        Case("control character in an id", request("GET", agents + "/a%01b"), 400, "bad_id"),
        Case("CRLF in an id (header injection)",
             request("PUT", agents + "/a%0d%0aSet-Cookie:%20x=1", push % "", JSON), 400,
             "bad_id"),
        Case("raw UTF-8 in an id", request("GET", agents.encode() + b"/\xc3\xa4gent"), 400,
             "bad_id"),
        Case("percent-encoded UTF-8 in an id", request("GET", agents + "/%C3%A4gent"), 400,
             "bad_id"),
        Case("id of 129 characters", request("PUT", agents + "/" + "x" * 129, push % "", JSON),
             400, "bad_id"),
        Case("tenant id of 129 characters", request("GET", "/v1/tenants/" + "t" * 129 +
                                                    "/agents"), 400, "bad_id"),
        Case("agent id '..' encoded", request("PUT", agents + "/%2e%2e", push % "", JSON), 400,
             "bad_id"),
        Case("agent id '.' encoded", request("GET", agents + "/%2E"), 400, "bad_id"),
        Case("agent id '...'", request("PUT", agents + "/...", push % "", JSON), 400, "bad_id"),
        # nginx matches locations on the resolved path but proxies the URI as sent (no URI
        # part in proxy_pass), so presenced sees the dots and refuses them.
        Case("tenant '..' raw", request("GET", "/v1/tenants/../agents/zed"), 400, "bad_id"),
        Case("agent '..' raw", request("PUT", agents + "/..", push % "", JSON), 400, "bad_id"),
        Case("traversal to /etc/passwd", request("GET", AGENT + "/../../../../../etc/passwd"),
             404, "not_found",
             # Proxied as sent: no route has that many segments. Above the root nginx
             # refuses itself (next case).
             nginx=(404, "not_found")),
        Case("traversal above the root", request("GET", "/v1/../../../etc/passwd"), 404,
             "not_found", nginx=(400, html)),
        Case("encoded traversal in a tenant id",
             request("GET", "/v1/tenants/..%2f..%2fetc/agents/zed"), 400, "bad_id"),
        Case("encoded slash in an agent id", request("GET", agents + "/a%2Fb"), 400, "bad_id"),
        Case("encoded NUL in an agent id", request("GET", agents + "/a%00b"), 400, "bad_id",
             # nginx refuses %00 in a path with its own page.
             nginx=(400, html)),
        # nginx refuses a bad escape in the path itself.
        Case("bad percent-encoding", request("GET", agents + "/a%zzb"), 400, "bad_path",
             nginx=(400, html)),
        Case("truncated percent-encoding", request("GET", agents + "/ab%4"), 400, "bad_path",
             nginx=(400, html)),
        Case("space in the request line", raw("GET /v1/tenants/a b/agents HTTP/1.1\r\n"
                                              "Host: h\r\n\r\n"), 400, "bad_request",
             nginx=(400, html)),
        Case("empty path segment", request("GET", "/v1/tenants//agents"), 404, "not_found"),
        Case("absolute-form target", request("GET", "http://evil.example" + AGENT), 400,
             "bad_path",
             # nginx takes the path of an absolute URI: the agent does not exist.
             nginx=(404, "not_found")),
        Case("asterisk target", request("OPTIONS", "*"), 400, "bad_path", nginx=(400, html)),
        # Header injection and malformed header lines.
        Case("bare LF inside a header", raw(f"GET {AGENT} HTTP/1.1\r\nHost: h\r\n"
                                            "X-A: a\nX-Injected: 1\r\n\r\n"), 400,
             "bad_request",
             # nginx takes a bare LF as a line end: two harmless headers, the agent is unknown.
             nginx=(404, "not_found")),
        Case("control character in a header value",
             request("PUT", AGENT, push % "", JSON + "Idempotency-Key: a\x01b\r\n"), 400,
             "bad_request"),
        # presenced (Beast) unfolds it into one value, as RFC 7230 3.2.4 allows: a plain GET
        # of an unknown agent. nginx refuses it.
        Case("obsolete line folding", raw(f"GET {AGENT} HTTP/1.1\r\nHost: h\r\nX-A: a\r\n"
                                          " folded\r\n\r\n"), 404, "not_found",
             nginx=(400, html)),
        Case("space before the colon", raw(f"PUT {AGENT} HTTP/1.1\r\nHost: h\r\n"
                                           "Content-Type : application/json\r\n"
                                           "Content-Length: 2\r\n\r\n{{}}"), 400,
             "bad_request", nginx=(400, html)),
        Case("header line without a colon", raw(f"GET {AGENT} HTTP/1.1\r\nHost: h\r\n"
                                                "NoColonHere\r\n\r\n"), 400, "bad_request",
             # nginx drops invalid header lines (ignore_invalid_headers): a plain GET.
             nginx=(404, "not_found")),
        Case("Idempotency-Key too long",
             request("PUT", AGENT, push % "", JSON + f"Idempotency-Key: {'k' * 300}\r\n"), 400,
             "bad_idempotency_key"),
        Case("weak If-Match", request("PUT", AGENT, push % "", JSON + 'If-Match: W/"1"\r\n'),
             400, "bad_if_match"),
        # Content types.
        Case("text/plain body", request("PUT", AGENT, push % "", "Content-Type: text/plain\r\n"),
             415, "unsupported_media_type"),
        Case("no Content-Type", request("PUT", AGENT, push % ""), 415,
             "unsupported_media_type"),
        Case("application/jsonx", request("PUT", AGENT, push % "",
                                          "Content-Type: application/jsonx\r\n"), 415,
             "unsupported_media_type"),
        Case("form encoding", request("PUT", AGENT, "source=push",
                                      "Content-Type: application/x-www-form-urlencoded\r\n"),
             415, "unsupported_media_type"),
        # Framing: Content-Length and Transfer-Encoding tricks, smuggling.
        Case("Content-Length twice, equal",
             raw(f"PUT {AGENT} HTTP/1.1\r\nHost: h\r\n{JSON}Content-Length: 18\r\n"
                 'Content-Length: 18\r\n\r\n{"source": "push"}'), 400, "bad_request",
             nginx=(400, html)),
        Case("Content-Length twice, different",
             raw(f"PUT {AGENT} HTTP/1.1\r\nHost: h\r\n{JSON}Content-Length: 18\r\n"
                 'Content-Length: 5\r\n\r\n{"source": "push"}'), 400, "bad_request",
             nginx=(400, html)),
        Case("negative Content-Length", raw(f"PUT {AGENT} HTTP/1.1\r\nHost: h\r\n{JSON}"
                                            "Content-Length: -1\r\n\r\n"), 400, "bad_request",
             nginx=(400, html)),
        Case("non-numeric Content-Length", raw(f"PUT {AGENT} HTTP/1.1\r\nHost: h\r\n{JSON}"
                                               "Content-Length: 1x\r\n\r\n"), 400,
             "bad_request", nginx=(400, html)),
        Case("CL.TE smuggling", raw(f"PUT {AGENT} HTTP/1.1\r\nHost: h\r\n{JSON}"
                                    f"Content-Length: 6\r\n{chunked}\r\n0\r\n\r\n"
                                    "DELETE /v1/tenants/acme/agents/existing HTTP/1.1\r\n"
                                    "Host: h\r\n\r\n"), 400, "bad_request",
             # nginx refuses Content-Length with Transfer-Encoding itself and closes the
             # connection, so the smuggled DELETE is never read.
             nginx=(400, html)),
        Case("TE.CL smuggling", raw(f"PUT {AGENT} HTTP/1.1\r\nHost: h\r\n{JSON}{chunked}"
                                    "Content-Length: 3\r\n\r\n1\r\nx\r\n0\r\n\r\n"), 400,
             "bad_request", nginx=(400, html)),
        Case("Transfer-Encoding gzip", raw(f"PUT {AGENT} HTTP/1.1\r\nHost: h\r\n{JSON}"
                                           "Transfer-Encoding: gzip\r\n\r\nxx"), 400,
             "bad_request", nginx=(501, html)),
        Case("Transfer-Encoding gzip, chunked", raw(f"PUT {AGENT} HTTP/1.1\r\nHost: h\r\n"
                                                    f"{JSON}Transfer-Encoding: gzip, chunked"
                                                    "\r\n\r\n0\r\n\r\n"), 400, "bad_request",
             nginx=(501, html)),
        Case("Transfer-Encoding twice", raw(f"PUT {AGENT} HTTP/1.1\r\nHost: h\r\n{JSON}"
                                            f"{chunked}{chunked}\r\n0\r\n\r\n"), 400,
             "bad_request", nginx=(400, html)),
        Case("bad chunk size", raw(f"PUT {AGENT} HTTP/1.1\r\nHost: h\r\n{JSON}{chunked}\r\n"
                                   "zz\r\nxx\r\n0\r\n\r\n"), 400, "bad_request",
             nginx=(400, html)),
        Case("Host twice", raw(f"GET {AGENT} HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400,
             "bad_request", nginx=(400, html)),
        Case("HTTP/1.1 without Host", raw(f"GET {AGENT} HTTP/1.1\r\nX-A: 1\r\n\r\n"), 400,
             "bad_request", nginx=(400, html)),
        Case("unknown HTTP version", raw(f"GET {AGENT} HTTP/9.9\r\nHost: h\r\n\r\n"), 400,
             "bad_request", nginx=(505, html)),
        Case("TLS handshake on the plain port",
             raw(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40), 400,
             "bad_request", nginx=(400, html)),
        # Query strings.
        Case("seq twice", request("DELETE", AGENT + "?seq=1&seq=2"), 400, "bad_query"),
        Case("unknown query parameter", request("GET", AGENT + "?debug=1"), 400,
             "unknown_parameter"),
        Case("limit too large", request("GET", agents + "?limit=99999"), 400, "bad_limit"),
        Case("cursor too long", request("GET", agents + "?cursor=" + "c" * 300), 400,
             "bad_cursor"),
        Case("bad encoding in the query", request("GET", agents + "?cursor=%zz"), 400,
             "bad_query"),
        # Regression: a scan position past what the Functions take was a 500.
        Case("tampered cursor: huge scan position",
             request("GET", agents + "?limit=1&cursor=0:1000000000000000:"), 400, "bad_cursor"),
        Case("tampered cursor: partition out of range",
             request("GET", agents + "?cursor=99999:0:"), 400, "bad_cursor"),
        # Regression: a DELETE body was ignored, so a seq given there left no tombstone.
        Case("DELETE with its seq in a body", request("DELETE", AGENT, '{"seq": 20}', JSON), 400,
             "unexpected_body"),
        Case("seq beyond 2^64", request("PUT", AGENT, push % ', "seq": 18446744073709551616',
                                        JSON), 400, "bad_seq"),
        Case("negative seq", request("PUT", AGENT, push % ', "seq": -5', JSON), 400,
             "bad_seq"),
        Case("100-continue with a huge body",
             raw(f"PUT {AGENT} HTTP/1.1\r\nHost: h\r\n{JSON}Expect: 100-continue\r\n"
                 "Content-Length: 5000000\r\n\r\n"), 413, "payload_too_large"),
    ]


# ---- state ----

# Keys that change by themselves: leases, membership, leadership, the poll job, Graph tokens.
VOLATILE = (":lease", ":member", ":leader", ":assignment", ":job", ":token", ":budget")


def snapshot(d):
    """Every presence:* key's content (streams: length and last id), volatile keys aside."""
    keys, cursor = [], "0"
    while True:
        cursor, batch = d.redis_call("SCAN", cursor, "MATCH", "presence:*", "COUNT", "1000")
        keys += batch
        if cursor == "0":
            break
    state = {}
    for key in sorted(set(keys)):
        if any(part in key for part in VOLATILE):
            continue
        kind = d.redis_call("TYPE", key)
        if kind == "hash":
            flat = d.redis_call("HGETALL", key)
            state[key] = sorted(zip(flat[0::2], flat[1::2]))
        elif kind == "zset":
            state[key] = d.redis_call("ZRANGE", key, "0", "-1", "WITHSCORES")
        elif kind == "set":
            state[key] = sorted(d.redis_call("SMEMBERS", key))
        elif kind == "string":
            state[key] = d.redis_call("GET", key)
        elif kind == "stream":
            last = d.redis_call("XREVRANGE", key, "+", "-", "COUNT", "1")
            state[key] = (d.redis_call("XLEN", key), last[0][0] if last else None)
        else:
            state[key] = kind
    return state


class HostileTest(DeploymentCase):
    deployment_options = {
        "instances": 2, "partitions": 8,
        "extra_config": {"http": {"read_timeout_ms": READ_TIMEOUT_MS,
                                  "max_connections": MAX_CONNECTIONS}},
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.auth = ""
        cls.keys = {}
        if AUTH_IN_TREE:
            cls.keys["admin"] = cls.make_key("--admin")
            cls.keys["other"] = cls.make_key("--tenant", "globex")
            cls.keys["revoked"] = cls.make_key("--admin")
            cls.d.ctl("keys", "revoke", cls.keys["revoked"]["id"])
            cls.auth = f"Authorization: Bearer {cls.keys['admin']['key']}\r\n"
        cls.pids = [i.process.pid for i in cls.d.instances]

    @classmethod
    def make_key(cls, *args):
        import json
        out = cls.d.ctl("--json", "keys", "create", "--name", "hostile", *args).stdout
        return json.loads(out)

    def headers(self):
        return {"Authorization": f"Bearer {self.keys['admin']['key']}"} if self.keys else {}

    def register(self, agent, via=None):
        status, _, body = self.d.request("PUT", f"/v1/tenants/acme/agents/{agent}",
                                         {"source": "push"}, headers=self.headers(), via=via)
        self.assertIn(status, (200, 201), body)

    def check_alive(self):
        for instance, pid in zip(self.d.instances, self.pids):
            self.assertTrue(instance.running, instance.state())
            self.assertEqual(instance.process.pid, pid, f"{instance.id} was restarted")

    def assert_answer(self, answer, status, code, where):
        self.assertEqual(answer.status, status, f"{where}: {answer!r}")
        if code is not None:
            self.assertTrue(answer.headers.get("content-type", "").startswith(
                "application/json"), f"{where}: {answer!r}")
            self.assertEqual(answer.code(), code, f"{where}: {answer!r}")
            message = answer.json()["error"].get("message")
            self.assertTrue(message, f"{where}: {answer!r}")

    def test_1_the_table(self):
        self.register("existing")
        before = snapshot(self.d)
        table = cases()
        self.assertGreaterEqual(len(table), 50)
        ports = [("instance a", self.d.instances[0].port),
                 ("instance b", self.d.instances[1].port),
                 ("nginx", self.d.nginx_port)]
        for n, case in enumerate(table):
            direct_name, direct_port = ports[n % 2]
            for where, port, (status, code) in ((direct_name, direct_port, case.direct),
                                                ("nginx", self.d.nginx_port, case.nginx)):
                with self.subTest(case.name, via=where):
                    answer = exchange(port, case.build(self.auth))
                    self.assert_answer(answer, status, code, f"{case.name} via {where}")
                    if case.allow and answer.status == 405:
                        self.assertEqual(answer.headers.get("allow"), case.allow)
        self.assertEqual(snapshot(self.d), before, "a hostile request changed the state")
        self.check_alive()
        # Still serving: a valid register works on every instance and through nginx.
        for via in (0, 1, None):
            self.register(f"after-{via}", via=via)

    def test_2_slowloris_is_cut_while_others_are_served(self):
        port = self.d.instances[0].port
        sock = socket.create_connection(("127.0.0.1", port))
        request_bytes = (f"GET {AGENT} HTTP/1.1\r\nHost: h\r\n{self.auth}"
                         + "".join(f"X-S{i}: s\r\n" for i in range(20)) + "\r\n").encode()
        started = time.monotonic()
        sent, cut = 0, False
        while not cut and sent < len(request_bytes) and time.monotonic() - started < 15:
            try:
                sock.sendall(request_bytes[sent:sent + 1])
                sent += 1
            except (BrokenPipeError, ConnectionResetError):
                cut = True
                break
            # Meanwhile others are answered at once, directly and through nginx.
            for via in (0, None):
                t0 = time.monotonic()
                self.assertEqual(self.d.request("GET", "/healthz", via=via, timeout=5)[0], 200)
                self.assertLess(time.monotonic() - t0, 1.0)
            # A byte a second; a closed connection shows up as readable with no data.
            readable, _, _ = select.select([sock], [], [], 1.0)
            if readable:
                try:
                    cut = sock.recv(4096) == b""
                except ConnectionResetError:
                    cut = True
                self.assertTrue(cut, "the slow connection got an answer")
        sock.close()
        elapsed = time.monotonic() - started
        self.assertTrue(cut, "the slow connection was not cut")
        self.assertLess(sent, len(request_bytes))
        self.assertGreater(elapsed, READ_TIMEOUT_MS / 1000 - 0.5)
        self.assertLess(elapsed, READ_TIMEOUT_MS / 1000 + 3)
        self.check_alive()

    def test_3_silent_and_half_open_connections_are_closed(self):
        port = self.d.instances[1].port
        silent = socket.create_connection(("127.0.0.1", port))
        half = socket.create_connection(("127.0.0.1", port))
        half.sendall(f"PUT {AGENT} HTTP/1.1\r\nHost: h\r\n{self.auth}{JSON}"
                     "Content-Length: 100\r\n\r\n{\"sou".encode())
        half.shutdown(socket.SHUT_WR)  # half-open: the rest never comes
        started = time.monotonic()
        for sock in (silent, half):
            sock.settimeout(READ_TIMEOUT_MS / 1000 + 5)
            try:
                data = sock.recv(4096)
            except ConnectionResetError:
                data = b""
            self.assertEqual(data, b"", "a cut connection got an answer")
            sock.close()
        self.assertLess(time.monotonic() - started, READ_TIMEOUT_MS / 1000 + 3)
        self.check_alive()
        self.assertEqual(self.d.request("GET", "/healthz", via=1)[0], 200)

    def test_4_connections_beyond_max_connections_get_503(self):
        port = self.d.instances[0].port
        opened, refused = [], None
        try:
            # nginx may hold a few keep-alive connections too: one of these must be refused.
            for _ in range(MAX_CONNECTIONS + 1):
                sock = socket.create_connection(("127.0.0.1", port))
                opened.append(sock)
            sock = opened[-1]
            answer = read_answer(sock, time.monotonic() + 5)
            refused = answer
        finally:
            for sock in opened:
                sock.close()
        self.assertEqual(refused.status, 503, refused)
        self.assertEqual(refused.code(), "too_many_connections", refused)
        self.assertEqual(refused.headers.get("retry-after"), "1")
        # Once they are gone, the instance serves again.
        self.d.wait_until(lambda: self.d.request("GET", "/healthz", via=0)[0] == 200,
                          timeout=10, what="instance a to serve again")
        self.check_alive()

    @unittest.skipUnless(AUTH_IN_TREE, "lib/auth is not in the source tree (no API keys)")
    def test_5_keys(self):
        before = snapshot(self.d)
        body = '{"source": "push"}'
        put = lambda auth, tenant="acme": request(  # noqa: E731
            "PUT", f"/v1/tenants/{tenant}/agents/k", body, JSON)(auth)
        other = f"Authorization: Bearer {self.keys['other']['key']}\r\n"
        revoked = f"Authorization: Bearer {self.keys['revoked']['key']}\r\n"
        forged = "Authorization: Bearer pk_000000000000_" + "A" * 43 + "\r\n"
        table = [
            ("no key", put(""), 401, "unauthorized"),
            ("revoked key", put(revoked), 401, "unauthorized"),
            ("unknown key", put(forged), 401, "unauthorized"),
            ("malformed key", put("Authorization: Bearer x\r\n"), 401, "unauthorized"),
            ("Basic scheme", put("Authorization: Basic YTpi\r\n"), 401, "unauthorized"),
            ("another tenant's key", put(other), 403, "forbidden"),
        ]
        for name, raw_bytes, status, code in table:
            for where, port in (("instance a", self.d.instances[0].port),
                                ("nginx", self.d.nginx_port)):
                with self.subTest(name, via=where):
                    self.assert_answer(exchange(port, raw_bytes), status, code,
                                       f"{name} via {where}")
        self.assertEqual(snapshot(self.d), before)
        # The tenant key works on its own tenant.
        answer = exchange(self.d.nginx_port, put(other, "globex"))
        self.assertIn(answer.status, (200, 201), answer)
        self.check_alive()


if __name__ == "__main__":
    unittest.main()
