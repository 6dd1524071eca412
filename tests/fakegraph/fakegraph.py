#!/usr/bin/env python3
"""A local fake of Microsoft Graph presence and the Microsoft identity platform.

It follows the rules in DESIGN.md ("Presence from Microsoft Graph") so that
presenced can be tested with its base URLs (graph_url and login_url) pointed
here. One process serves both:

  POST /{tenant}/oauth2/v2.0/token                  app-only token (client credentials)
  POST /v1.0/communications/getPresencesByUserId    batch presence, at most 650 ids
  GET  /v1.0/users/{id}/presence                    one presence

and, for tests only, control endpoints under /_fake/ (see CONTROL_HELP below).

Behaviour worth knowing:
  - Tokens are opaque, bound to the tenant of the token URL and expire after
    --token-ttl seconds. Graph requests are throttled per tenant of the token:
    more than --rate-limit requests in a sliding --rate-window answer 429 with
    Retry-After. --fail-rate injects 503 with Retry-After.
  - Every well-formed GUID is answered. A GUID seen for the first time starts
    as PresenceUnknown/PresenceUnknown and then joins the random walk: on each
    tick (every --change-interval s) each user moves, with probability
    --change-fraction, to another valid (availability, activity) pair. Each
    user draws from its own random stream seeded with (--seed, id), so the
    sequence of states a user goes through is the same in every run.
  - Ids are answered in lower case (as Graph does); compare case-insensitively.
  - A presence set through PUT /_fake/presence/{id} is pinned (the walk leaves
    it alone) unless the body says "pinned": false.

Stdlib only. The first line on stdout is "fakegraph listening on URL"; logs go
to stderr. SIGTERM and SIGINT stop it cleanly with exit code 0.
"""

import argparse
import collections
import datetime
import json
import math
import random
import re
import secrets
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_IDS_PER_BATCH = 650
MAX_BODY_BYTES = 4 * 1024 * 1024
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
GRAPH_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;charset=utf-8"
LOGIN_JSON = "application/json; charset=utf-8"
BATCH_CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.presence)"
UNKNOWN = "PresenceUnknown"

AVAILABILITIES = (
    "Available", "AvailableIdle", "Away", "BeRightBack", "Busy", "BusyIdle", "DoNotDisturb",
    "Offline", "PresenceUnknown",
)
ACTIVITIES = (
    "Available", "Away", "BeRightBack", "Busy", "DoNotDisturb", "InACall", "InAConferenceCall",
    "Inactive", "InAMeeting", "Offline", "OffWork", "OutOfOffice", "PresenceUnknown",
    "Presenting", "UrgentInterruptionsOnly",
)
# The (availability, activity) pairs Teams reports; the walk moves between these.
WALK_PAIRS = (
    ("Available", "Available"),
    ("Available", "OutOfOffice"),
    ("AvailableIdle", "Available"),
    ("Away", "Away"),
    ("Away", "OutOfOffice"),
    ("BeRightBack", "BeRightBack"),
    ("Busy", "Busy"),
    ("Busy", "InACall"),
    ("Busy", "InAConferenceCall"),
    ("Busy", "InAMeeting"),
    ("BusyIdle", "Busy"),
    ("DoNotDisturb", "DoNotDisturb"),
    ("DoNotDisturb", "Presenting"),
    ("DoNotDisturb", "UrgentInterruptionsOnly"),
    ("Offline", "Offline"),
    ("Offline", "OffWork"),
    ("Offline", "OutOfOffice"),
)

GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
                     re.IGNORECASE)
TENANT_RE = re.compile(r"^[A-Za-z0-9._@-]{1,128}$")
MULTI_TENANT_ALIASES = ("common", "organizations", "consumers")
TOKEN_PATH_RE = re.compile(r"^/([^/]+)/oauth2/v2\.0/token$")
USER_PRESENCE_RE = re.compile(r"^/v1\.0/users/([^/]+)/presence$")
FAKE_PRESENCE_RE = re.compile(r"^/_fake/presence/([^/]+)$")
FAKE_HOSTILE_RE = re.compile(r"^/_fake/hostile/([^/]+)$")

# Hostile answers a tenant can be switched to (PUT /_fake/hostile/{tenant}), per endpoint.
# Each answers every request of that tenant's endpoint until switched back.
HOSTILE_PRESENCE_MODES = {
    "garbage": "200, application/json, a body that is not JSON",
    "not_object": "200, a JSON array instead of an object",
    "no_value": "200, an object without 'value'",
    "value_not_array": "200, 'value' is an object",
    "bad_items": "200, every item with a missing or mistyped id/availability/activity",
    "extra_items": "200, more items than ids asked for",
    "unknown_ids": "200, as many items as asked, for ids not asked for",
    "duplicate_ids": "200, the first id asked answered once per id asked",
    "unknown_values": "200, availability and activity strings Graph does not have",
    "overlong": "200, availability and activity strings of 100 KB (the answer under 1 MiB)",
    "huge": "200, a 50 MB body (Content-Length says so)",
    "large": "200, a correct answer padded with spaces to 2 MiB",
    "deep": "200, a JSON body of 50000 '[' (nesting far deeper than Graph's)",
    "drip": "200, Content-Length 1000, then one byte every 0.2 s",
    "hang": "no answer at all until switched back (or 300 s)",
    "wrong_content_type": "200, a correct body as text/html",
    "status_500": "500 with a Graph error body",
    "status_502": "502 with an HTML body",
}
HOSTILE_TOKEN_MODES = {
    "garbage": "200, a body that is not JSON",
    "no_access_token": "200, expires_in but no access_token",
    "access_token_number": "200, access_token is a number",
    "expires_in_mistyped": "200, expires_in is \"soon\"",
    "expires_in_negative": "200, expires_in is -60",
    "expires_in_huge": "200, expires_in is 1e300",
    "access_token_crlf": "200, an access_token with CR LF and a header after it",
    "large": "200, a token answer padded with spaces to 128 KiB",
    "deep": "200, a JSON body of 50000 '['",
    "hang": "no answer at all until switched back (or 300 s)",
    "status_400": "400 invalid_request with an OAuth error body",
    "status_401": "401 invalid_client with an OAuth error body",
}
HOSTILE_ENDPOINTS = {"presence": HOSTILE_PRESENCE_MODES, "token": HOSTILE_TOKEN_MODES}
HANG_LIMIT_S = 300.0
HUGE_BODY_BYTES = 50 * 1024 * 1024
OVERLONG_BYTES = 100 * 1024  # presenced reads presence answers of at most 1 MiB
LARGE_PRESENCE_BYTES = 2 * 1024 * 1024
LARGE_TOKEN_BYTES = 128 * 1024
DEEP_BODY = b"[" * 50000  # under presenced's 64 KiB limit of token answers

# Settings that POST /_fake/config may change, with their type and lower bound.
RUNTIME_SETTINGS = {
    "rate_limit": (int, 0),
    "rate_window": (float, 0.001),
    "fail_rate": (float, 0.0),
    "fail_retry_after": (int, 0),
    "change_interval": (float, 0.0),
    "change_fraction": (float, 0.0),
    "token_ttl": (int, 1),
    "latency": (float, 0.0),
}

CONTROL_HELP = """control endpoints (not Graph):
  PUT  /_fake/presence/{id}   {"availability","activity"[,"pinned":true][,"allow_unknown":false]}
  GET  /_fake/presence/{id}   peek at a presence without counting a request
  GET  /_fake/stats           counters, overall and per tenant
  POST /_fake/reset-stats     zero the counters
  GET  /_fake/config          current run-time settings
  POST /_fake/config          change run-time settings: """ + ", ".join(RUNTIME_SETTINGS) + """
  POST /_fake/step            {"ticks": N} run N walk ticks now
  POST /_fake/expire-tokens   make every issued token invalid
  PUT  /_fake/hostile/{tenant}  {"presence": MODE|null, "token": MODE|null}: hostile answers
  DELETE /_fake/hostile/{tenant}  answer that tenant normally again
  GET  /_fake/hostile         the hostile tenants and every mode with what it answers
"""


class RequestError(Exception):
    """A request that is answered with an error body instead of a result."""

    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def log(message):
    stamp = datetime.datetime.now().strftime("%H:%M:%S.%f")[:-3]
    sys.stderr.write(f"{stamp} fakegraph: {message}\n")
    sys.stderr.flush()


def utc_now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def broken_item(item, index):
    """A presence item made malformed, a different way for each index (mode bad_items)."""
    ways = (
        lambda: {k: v for k, v in item.items() if k != "id"},
        lambda: {**item, "id": 12345},
        lambda: {**item, "id": None},
        lambda: {**item, "availability": None},
        lambda: {**item, "availability": 7},
        lambda: {k: v for k, v in item.items() if k != "availability"},
        lambda: {**item, "activity": {"nested": {"value": "Busy"}}},
        lambda: {**item, "activity": ["Busy"]},
        lambda: {k: v for k, v in item.items() if k != "activity"},
        lambda: "not an object",
    )
    return ways[index % len(ways)]()


class User:
    """One Graph user: its presence and its own random stream."""

    def __init__(self, user_id, seed):
        self.id = user_id
        self.availability = UNKNOWN
        self.activity = UNKNOWN
        self.sequence = 0
        self.pinned = False
        self.rng = random.Random(f"{seed}:{user_id}")

    def set(self, availability, activity):
        if (availability, activity) != (self.availability, self.activity):
            self.availability = availability
            self.activity = activity
            self.sequence += 1

    def to_graph(self):
        return {
            "id": self.id,
            "availability": self.availability,
            "activity": self.activity,
            "statusMessage": None,
            "outOfOfficeSettings": {
                "message": None,
                "isOutOfOffice": self.activity == "OutOfOffice",
            },
            "sequenceNumber": f"{self.sequence:020d}",
        }


def new_tenant_stats():
    return {
        "token_requests": 0,
        "tokens_issued": 0,
        "presence_requests": 0,
        "presence_ids_total": 0,
        "max_batch": 0,
        "throttled": 0,
        "failures_injected": 0,
        "max_in_window": 0,
    }


def new_stats():
    return {
        "token_requests": 0,
        "tokens_issued": 0,
        "token_errors": 0,
        "presence_requests": 0,
        "presence_ids_total": 0,
        "max_batch": 0,
        "throttled": 0,
        "failures_injected": 0,
        "unauthorized": 0,
        "bad_requests": 0,
        "walk_ticks": 0,
        "walk_changes": 0,
        "hostile_answers": 0,
        "tenants": {},
    }


class FakeGraphState:
    """Everything the fake knows. Every method takes the lock; any thread may call."""

    def __init__(self, options):
        self.lock = threading.Lock()
        self.walk_wakeup = threading.Condition(self.lock)
        self.stopping = False
        self.seed = options.seed
        self.client_id = options.client_id
        self.client_secret = options.client_secret
        self.settings = {name: getattr(options, name) for name in RUNTIME_SETTINGS}
        self.fail_rng = random.Random(f"{options.seed}:failures")
        self.tokens = {}  # access token -> (tenant, monotonic expiry)
        self.windows = collections.defaultdict(collections.deque)  # tenant -> request times
        self.users = {}  # lower-case GUID -> User
        self.stats = new_stats()
        self.hostile = {}  # tenant -> {"presence": mode, "token": mode}

    # ---- identity platform ----

    def issue_token(self, tenant, form):
        """Checks a client-credentials request; returns the token response body."""
        with self.lock:
            self.stats["token_requests"] += 1
            self.tenant_stats(tenant)["token_requests"] += 1
            try:
                self.check_token_request(tenant, form)
            except RequestError:
                self.stats["token_errors"] += 1
                raise
            ttl = self.settings["token_ttl"]
            token = "fake." + secrets.token_urlsafe(32)
            self.tokens[token] = (tenant, time.monotonic() + ttl)
            self.stats["tokens_issued"] += 1
            self.tenant_stats(tenant)["tokens_issued"] += 1
        return {"token_type": "Bearer", "expires_in": ttl, "ext_expires_in": ttl,
                "access_token": token}

    def check_token_request(self, tenant, form):
        if tenant.lower() in MULTI_TENANT_ALIASES:
            raise RequestError(400, "invalid_request",
                               f"AADSTS90002: client credentials need a tenant id, not '{tenant}'.")
        for name in ("grant_type", "client_id", "scope"):
            if not form.get(name):
                raise RequestError(400, "invalid_request",
                                   f"AADSTS900144: The request body must contain the following "
                                   f"parameter: '{name}'.")
        if form["grant_type"] != "client_credentials":
            raise RequestError(400, "unsupported_grant_type",
                               f"AADSTS70003: grant_type '{form['grant_type']}' is not supported; "
                               f"this fake issues client_credentials tokens only.")
        if form["scope"] != GRAPH_SCOPE:
            raise RequestError(400, "invalid_scope",
                               f"AADSTS1002012: The provided value for scope '{form['scope']}' is "
                               f"not valid. Client credential flows must have a scope value with "
                               f"/.default suffixed to the resource identifier; expected "
                               f"'{GRAPH_SCOPE}'.")
        if self.client_id is not None and form["client_id"] != self.client_id:
            raise RequestError(400, "unauthorized_client",
                               f"AADSTS700016: Application with identifier '{form['client_id']}' "
                               f"was not found in the directory '{tenant}'.")
        if not form.get("client_secret"):
            raise RequestError(401, "invalid_client",
                               "AADSTS7000218: The request body must contain the following "
                               "parameter: 'client_assertion' or 'client_secret'.")
        if self.client_secret is not None and form["client_secret"] != self.client_secret:
            raise RequestError(401, "invalid_client",
                               f"AADSTS7000215: Invalid client secret provided for app "
                               f"'{form['client_id']}'.")

    # ---- Graph ----

    def admit(self, authorization):
        """Authenticates, throttles and maybe fails a Graph request; returns its tenant."""
        with self.lock:
            self.stats["presence_requests"] += 1
            tenant = self.authenticate(authorization)
            tenant_stats = self.tenant_stats(tenant)
            tenant_stats["presence_requests"] += 1
            self.throttle(tenant, tenant_stats)
            self.inject_failure(tenant_stats)
            return tenant

    def authenticate(self, authorization):
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        reason = None
        if not token or scheme.lower() != "bearer":
            reason = "Access token is empty."
        elif token not in self.tokens:
            reason = "IDX14100: JWT is not well formed; this token was not issued by fakegraph."
        elif self.tokens[token][1] <= time.monotonic():
            reason = "Lifetime validation failed, the token is expired."
        if reason is not None:
            self.stats["unauthorized"] += 1
            raise RequestError(401, "InvalidAuthenticationToken", reason,
                               {"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'})
        return self.tokens[token][0]

    def throttle(self, tenant, tenant_stats):
        now = time.monotonic()
        window = self.windows[tenant]
        width = self.settings["rate_window"]
        while window and window[0] <= now - width:
            window.popleft()
        if len(window) >= self.settings["rate_limit"]:
            free_at = window[0] + width if window else now + width
            retry_after = max(1, math.ceil(free_at - now))
            self.stats["throttled"] += 1
            tenant_stats["throttled"] += 1
            raise RequestError(429, "TooManyRequests",
                               f"Too many requests: tenant '{tenant}' made {len(window)} presence "
                               f"requests in {width:g} s (limit {self.settings['rate_limit']}).",
                               {"Retry-After": str(retry_after)})
        window.append(now)
        tenant_stats["max_in_window"] = max(tenant_stats["max_in_window"], len(window))

    def inject_failure(self, tenant_stats):
        if self.settings["fail_rate"] <= 0 or self.fail_rng.random() >= self.settings["fail_rate"]:
            return
        self.stats["failures_injected"] += 1
        tenant_stats["failures_injected"] += 1
        raise RequestError(503, "ServiceUnavailable",
                           "Service is temporarily unavailable (failure injected by --fail-rate).",
                           {"Retry-After": str(self.settings["fail_retry_after"])})

    def note_batch(self, tenant, count, answered):
        with self.lock:
            tenant_stats = self.tenant_stats(tenant)
            for counters in (self.stats, tenant_stats):
                counters["max_batch"] = max(counters["max_batch"], count)
                if answered:
                    counters["presence_ids_total"] += count

    def note_bad_request(self):
        with self.lock:
            self.stats["bad_requests"] += 1

    def presences(self, ids):
        """The Graph presence objects of ids (lower-case GUIDs), creating users on first sight."""
        with self.lock:
            return [self.user(user_id).to_graph() for user_id in ids]

    def user(self, user_id):
        user = self.users.get(user_id)
        if user is None:
            user = User(user_id, self.seed)
            self.users[user_id] = user
        return user

    def tenant_stats(self, tenant):
        return self.stats["tenants"].setdefault(tenant, new_tenant_stats())

    # ---- the random walk ----

    def walk_tick(self):
        """Moves each unpinned user with probability change_fraction; returns how many moved."""
        changed = 0
        fraction = self.settings["change_fraction"]
        for user in self.users.values():
            if user.pinned:
                continue
            if user.rng.random() >= fraction:
                continue
            choices = [pair for pair in WALK_PAIRS if pair != (user.availability, user.activity)]
            user.set(*user.rng.choice(choices))
            changed += 1
        self.stats["walk_ticks"] += 1
        self.stats["walk_changes"] += changed
        return changed

    def run_walk(self):
        """The walk thread: one tick per change_interval until stop()."""
        with self.lock:
            next_tick = None
            while not self.stopping:
                interval = self.settings["change_interval"]
                if interval <= 0:
                    next_tick = None
                    self.walk_wakeup.wait()
                    continue
                now = time.monotonic()
                if next_tick is None or next_tick > now + interval:
                    next_tick = now + interval
                if now < next_tick:
                    self.walk_wakeup.wait(next_tick - now)
                    continue
                changed = self.walk_tick()
                if changed:
                    log(f"walk: {changed} of {len(self.users)} users changed presence")
                next_tick += interval
                if next_tick < now:  # fell behind (e.g. SIGSTOP): do not catch up in a burst
                    next_tick = now + interval

    def stop(self):
        with self.lock:
            self.stopping = True
            self.walk_wakeup.notify_all()

    # ---- control ----

    def set_presence(self, user_id, availability, activity, pinned):
        with self.lock:
            user = self.user(user_id)
            user.set(availability, activity)
            user.pinned = pinned
            return user.to_graph()

    def peek(self, user_id):
        with self.lock:
            user = self.users.get(user_id)
            if user is None:
                return None
            body = user.to_graph()
            body["pinned"] = user.pinned
            return body

    def step(self, ticks):
        with self.lock:
            return sum(self.walk_tick() for _ in range(ticks))

    def snapshot_stats(self):
        with self.lock:
            body = json.loads(json.dumps(self.stats))
            body["known_users"] = len(self.users)
            body["live_tokens"] = sum(1 for _, expiry in self.tokens.values()
                                      if expiry > time.monotonic())
            return body

    def reset_stats(self):
        with self.lock:
            self.stats = new_stats()

    def expire_tokens(self):
        with self.lock:
            count = len(self.tokens)
            self.tokens.clear()
            return count

    def set_hostile(self, tenant, modes):
        """Validates then sets a tenant's hostile modes; returns them."""
        if not isinstance(modes, dict):
            raise RequestError(400, "BadRequest", "hostile body must be a JSON object")
        parsed = {}
        for endpoint, mode in modes.items():
            if endpoint not in HOSTILE_ENDPOINTS:
                raise RequestError(400, "BadRequest", f"unknown endpoint '{endpoint}'; known: "
                                   f"{', '.join(HOSTILE_ENDPOINTS)}")
            if mode is not None and mode not in HOSTILE_ENDPOINTS[endpoint]:
                raise RequestError(400, "BadRequest",
                                   f"unknown {endpoint} mode {mode!r}; known: "
                                   f"{', '.join(HOSTILE_ENDPOINTS[endpoint])}")
            if mode is not None:
                parsed[endpoint] = mode
        with self.lock:
            if parsed:
                self.hostile[tenant] = parsed
            else:
                self.hostile.pop(tenant, None)
            return dict(parsed)

    def clear_hostile(self, tenant):
        with self.lock:
            return self.hostile.pop(tenant, None) is not None

    def hostile_mode(self, tenant, endpoint):
        """The tenant's hostile mode of endpoint, or None; counts the answer."""
        with self.lock:
            mode = self.hostile.get(tenant, {}).get(endpoint)
            if mode is not None:
                self.stats["hostile_answers"] += 1
                stats = self.tenant_stats(tenant)
                stats["hostile_answers"] = stats.get("hostile_answers", 0) + 1
            return mode

    def still_hostile(self, tenant, endpoint, mode):
        with self.lock:
            return not self.stopping and self.hostile.get(tenant, {}).get(endpoint) == mode

    def hostile_snapshot(self):
        with self.lock:
            return {"tenants": json.loads(json.dumps(self.hostile)),
                    "modes": {name: dict(modes) for name, modes in HOSTILE_ENDPOINTS.items()}}

    def update_settings(self, changes):
        """Validates every change first, then applies them all; returns the settings."""
        if not isinstance(changes, dict):
            raise RequestError(400, "BadRequest", "config body must be a JSON object")
        parsed = {}
        for name, value in changes.items():
            if name not in RUNTIME_SETTINGS:
                raise RequestError(400, "BadRequest",
                                   f"unknown setting '{name}'; known: "
                                   f"{', '.join(RUNTIME_SETTINGS)}")
            kind, lowest = RUNTIME_SETTINGS[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                    kind is int and value != int(value)):
                raise RequestError(400, "BadRequest", f"setting '{name}' must be a {kind.__name__}")
            if value < lowest or (name in ("fail_rate", "change_fraction") and value > 1):
                raise RequestError(400, "BadRequest", f"setting '{name}' is out of range: {value}")
            parsed[name] = kind(value)
        with self.lock:
            self.settings.update(parsed)
            self.walk_wakeup.notify_all()
            return dict(self.settings)

    def current_settings(self):
        with self.lock:
            return dict(self.settings)


class Handler(BaseHTTPRequestHandler):
    """Routes one HTTP/1.1 request. Keep-alive works: every answer has a Content-Length."""

    protocol_version = "HTTP/1.1"
    server_version = "fakegraph/1.0"
    state = None  # FakeGraphState, set by serve()
    quiet = False

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def dispatch(self, method):
        self.request_id = str(uuid.uuid4())
        path = urllib.parse.urlsplit(self.path).path
        try:
            body = self.read_body()
            if path.startswith("/_fake/"):
                self.route_control(method, path, body)
            elif path.startswith("/v1.0/"):
                self.route_graph(method, path, body)
            elif TOKEN_PATH_RE.match(path):
                self.route_token(method, TOKEN_PATH_RE.match(path).group(1), body)
            else:
                raise RequestError(404, "ResourceNotFound", f"no such resource: {path}")
        except RequestError as error:
            self.send_error_body(path, error)
        except Exception as error:  # a bug in the fake: answer 500 and keep serving
            log(f"internal error on {method} {path}: {error!r}")
            self.send_error_body(path, RequestError(500, "InternalServerError", repr(error)))

    # ---- reading ----

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self.read_chunked()
        length_text = self.headers.get("Content-Length", "0")
        try:
            length = int(length_text)
        except ValueError:
            self.close_connection = True
            raise RequestError(400, "BadRequest", f"bad Content-Length '{length_text}'")
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            raise RequestError(413, "RequestEntityTooLarge",
                               f"body of {length} bytes is over the {MAX_BODY_BYTES} byte limit")
        return self.rfile.read(length) if length else b""

    def read_chunked(self):
        chunks = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                self.close_connection = True
                raise RequestError(400, "BadRequest", "malformed chunked body")
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                self.close_connection = True
                raise RequestError(413, "RequestEntityTooLarge",
                                   f"chunked body is over the {MAX_BODY_BYTES} byte limit")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(16)

    def json_body(self, body):
        content_type = self.headers.get("Content-Type", "application/json")
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise RequestError(415, "UnsupportedMediaType",
                               f"Content-Type must be application/json, not '{content_type}'")
        try:
            return json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise RequestError(400, "BadRequest", f"body is not valid JSON: {error}")

    # ---- identity platform ----

    def route_token(self, method, tenant, body):
        if method != "POST":
            raise RequestError(405, "invalid_request", "the token endpoint takes POST only")
        if not TENANT_RE.match(tenant):
            raise RequestError(400, "invalid_tenant",
                               f"AADSTS900023: Specified tenant identifier '{tenant}' is neither "
                               f"a valid DNS name, nor a valid external domain.")
        content_type = self.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            raise RequestError(400, "invalid_request",
                               f"AADSTS900144: the body must be application/x-www-form-urlencoded, "
                               f"not '{content_type}'.")
        try:
            fields = urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True,
                                           strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError) as error:
            raise RequestError(400, "invalid_request", f"AADSTS900144: malformed form: {error}")
        repeated = [name for name, values in fields.items() if len(values) > 1]
        if repeated:
            raise RequestError(400, "invalid_request",
                               f"AADSTS90015: parameter '{repeated[0]}' is given more than once.")
        form = {name: values[0] for name, values in fields.items()}
        mode = self.state.hostile_mode(tenant, "token")
        if mode is not None:
            self.hostile_token(tenant, mode)
            return
        self.send_json(200, self.state.issue_token(tenant, form), LOGIN_JSON)

    # ---- Graph ----

    def route_graph(self, method, path, body):
        user_match = USER_PRESENCE_RE.match(path)
        if path == "/v1.0/communications/getPresencesByUserId":
            if method != "POST":
                raise RequestError(405, "Request_BadRequest", f"{method} is not allowed on {path}")
            self.get_presences(body)
        elif user_match:
            if method != "GET":
                raise RequestError(405, "Request_BadRequest", f"{method} is not allowed on {path}")
            self.get_one_presence(urllib.parse.unquote(user_match.group(1)))
        else:
            raise RequestError(404, "ResourceNotFound",
                               f"Resource not found for the segment in '{path}'.")

    def get_presences(self, body):
        tenant = self.state.admit(self.headers.get("Authorization"))
        request = self.json_body(body)
        ids = request.get("ids") if isinstance(request, dict) else None
        if not isinstance(ids, list):
            raise RequestError(400, "BadRequest", "body must be an object with an 'ids' array")
        self.state.note_batch(tenant, len(ids), answered=False)
        if not ids:
            raise RequestError(400, "BadRequest", "'ids' must not be empty")
        if len(ids) > MAX_IDS_PER_BATCH:
            raise RequestError(400, "BadRequest",
                               f"'ids' has {len(ids)} entries; at most {MAX_IDS_PER_BATCH} are "
                               f"allowed in one request")
        wanted = []
        for user_id in ids:
            if not isinstance(user_id, str) or not GUID_RE.match(user_id):
                raise RequestError(400, "BadRequest",
                                   f"Invalid user id {json.dumps(user_id)}: ids must be user "
                                   f"object GUIDs")
            if user_id.lower() not in wanted:
                wanted.append(user_id.lower())
        self.state.note_batch(tenant, len(ids), answered=True)
        self.pause()
        mode = self.state.hostile_mode(tenant, "presence")
        if mode is not None:
            self.hostile_presences(tenant, mode, wanted)
            return
        self.send_json(200, {"@odata.context": BATCH_CONTEXT,
                             "value": self.state.presences(wanted)}, GRAPH_JSON)

    def get_one_presence(self, user_id):
        tenant = self.state.admit(self.headers.get("Authorization"))
        if not GUID_RE.match(user_id):
            raise RequestError(400, "BadRequest",
                               f"Invalid user id '{user_id}': ids must be user object GUIDs")
        self.state.note_batch(tenant, 1, answered=True)
        self.pause()
        body = self.state.presences([user_id.lower()])[0]
        context = (f"https://graph.microsoft.com/v1.0/$metadata#users('{user_id.lower()}')"
                   f"/presence/$entity")
        self.send_json(200, {"@odata.context": context, **body}, GRAPH_JSON)

    def pause(self):
        latency = self.state.settings["latency"]
        if latency > 0:
            time.sleep(latency)

    # ---- hostile answers ----

    def hostile_presences(self, tenant, mode, ids):
        """Answers a presence batch of ids in a hostile mode (HOSTILE_PRESENCE_MODES)."""
        log(f"hostile presence answer '{mode}' to tenant {tenant} ({len(ids)} ids)")
        items = self.state.presences(ids)
        if mode in ("garbage", "hang", "drip", "huge", "status_502"):
            self.hostile_raw(tenant, "presence", mode)
            return
        bodies = {
            "not_object": lambda: [items],
            "no_value": lambda: {"@odata.context": BATCH_CONTEXT, "values": items},
            "value_not_array": lambda: {"value": {"id": ids[0]}},
            "bad_items": lambda: {"value": [broken_item(item, i) for i, item in
                                            enumerate(items)]},
            "extra_items": lambda: {"value": items + [
                User(str(uuid.uuid4()), 0).to_graph() for _ in range(3)]},
            "unknown_ids": lambda: {"value": [
                {**item, "id": str(uuid.uuid4())} for item in items]},
            "duplicate_ids": lambda: {"value": [items[0]] * len(items)},
            "unknown_values": lambda: {"value": [
                {**item, "availability": "Sleeping", "activity": "Dreaming"} for item in items]},
            "overlong": lambda: {"value": [
                {**item, "availability": "B" * OVERLONG_BYTES, "activity": "x" * OVERLONG_BYTES}
                for item in items]},
        }
        if mode == "wrong_content_type":
            self.send_json(200, {"value": items}, "text/html; charset=utf-8")
        elif mode == "large":
            payload = json.dumps({"@odata.context": BATCH_CONTEXT, "value": items}).encode()
            self.send_padded(payload, LARGE_PRESENCE_BYTES, GRAPH_JSON)
        elif mode == "deep":
            self.send_raw(200, DEEP_BODY, GRAPH_JSON)
        elif mode == "status_500":
            raise RequestError(500, "InternalServerError", "hostile mode status_500")
        else:
            self.send_json(200, bodies[mode](), GRAPH_JSON)

    def hostile_token(self, tenant, mode):
        """Answers a token request in a hostile mode (HOSTILE_TOKEN_MODES)."""
        log(f"hostile token answer '{mode}' to tenant {tenant}")
        ttl = self.state.settings["token_ttl"]
        bodies = {
            "no_access_token": {"token_type": "Bearer", "expires_in": ttl},
            "access_token_number": {"token_type": "Bearer", "expires_in": ttl,
                                    "access_token": 12345},
            "expires_in_mistyped": {"token_type": "Bearer", "expires_in": "soon",
                                    "access_token": "fake.hostile"},
            "expires_in_negative": {"token_type": "Bearer", "expires_in": -60,
                                    "access_token": "fake.hostile"},
            "access_token_crlf": {"token_type": "Bearer", "expires_in": ttl,
                                  "access_token": "fake.hostile\r\nX-Injected: yes"},
        }
        if mode in ("garbage", "hang"):
            self.hostile_raw(tenant, "token", mode)
        elif mode == "expires_in_huge":
            self.send_raw(200, b'{"token_type":"Bearer","expires_in":1e300,'
                               b'"access_token":"fake.hostile"}', LOGIN_JSON)
        elif mode == "large":
            payload = json.dumps({"token_type": "Bearer", "expires_in": ttl,
                                  "access_token": "fake.hostile"}).encode()
            self.send_padded(payload, LARGE_TOKEN_BYTES, LOGIN_JSON)
        elif mode == "deep":
            self.send_raw(200, DEEP_BODY, LOGIN_JSON)
        elif mode == "status_400":
            raise RequestError(400, "invalid_request", "AADSTS900144: hostile mode status_400")
        elif mode == "status_401":
            raise RequestError(401, "invalid_client", "AADSTS7000215: hostile mode status_401")
        else:
            self.send_json(200, bodies[mode], LOGIN_JSON)

    def hostile_raw(self, tenant, endpoint, mode):
        """The modes that are not a JSON body: garbage, hang, drip, huge, status_502."""
        if mode == "garbage":
            self.send_raw(200, b"<html>\x00\xff\xfe not json {{{", "application/json")
        elif mode == "status_502":
            self.send_raw(502, b"<html><body>502 Bad Gateway</body></html>", "text/html")
        elif mode == "huge":
            self.close_connection = True
            self.send_headers_only(200, GRAPH_JSON, HUGE_BODY_BYTES)
            chunk = b" " * (1024 * 1024)
            try:
                self.wfile.write(b'{"value": [')
                for _ in range(HUGE_BODY_BYTES // len(chunk)):
                    self.wfile.write(chunk)
            except OSError:
                pass  # the client gave up, as it should
        elif mode == "drip":
            self.close_connection = True
            self.send_headers_only(200, GRAPH_JSON, 1000)
            try:
                for _ in range(1000):
                    if not self.state.still_hostile(tenant, endpoint, mode):
                        break
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
        else:  # hang: say nothing until switched back, stopped or HANG_LIMIT_S
            self.close_connection = True
            deadline = time.monotonic() + HANG_LIMIT_S
            while self.state.still_hostile(tenant, endpoint, mode) and \
                    time.monotonic() < deadline:
                time.sleep(0.05)

    def send_headers_only(self, status, content_type, length):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()

    def send_padded(self, payload, size, content_type):
        """A 200 of payload padded with spaces to size bytes (modes large); the client may
        hang up once it read the Content-Length."""
        self.close_connection = True
        try:
            self.send_raw(200, payload + b" " * (size - len(payload)), content_type)
        except OSError:
            pass  # the client gave up, as it should

    def send_raw(self, status, payload, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("request-id", self.request_id)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    # ---- control ----

    def route_control(self, method, path, body):
        presence_match = FAKE_PRESENCE_RE.match(path)
        hostile_match = FAKE_HOSTILE_RE.match(path)
        if hostile_match and method in ("PUT", "DELETE"):
            tenant = urllib.parse.unquote(hostile_match.group(1))
            if method == "PUT":
                modes = self.state.set_hostile(tenant, self.json_body(body))
                log(f"tenant {tenant} hostile: {json.dumps(modes, sort_keys=True)}")
                self.send_json(200, {"tenant": tenant, "hostile": modes})
            else:
                cleared = self.state.clear_hostile(tenant)
                log(f"tenant {tenant} answered normally again")
                self.send_json(200, {"tenant": tenant, "cleared": cleared})
        elif (method, path) == ("GET", "/_fake/hostile"):
            self.send_json(200, self.state.hostile_snapshot())
        elif presence_match:
            self.control_presence(method, urllib.parse.unquote(presence_match.group(1)), body)
        elif (method, path) == ("GET", "/_fake/stats"):
            self.send_json(200, self.state.snapshot_stats())
        elif (method, path) == ("POST", "/_fake/reset-stats"):
            self.state.reset_stats()
            self.send_json(200, {"reset": True})
        elif (method, path) == ("GET", "/_fake/config"):
            self.send_json(200, self.state.current_settings())
        elif (method, path) == ("POST", "/_fake/config"):
            settings = self.state.update_settings(self.json_body(body))
            log(f"config changed: {json.dumps(settings, sort_keys=True)}")
            self.send_json(200, settings)
        elif (method, path) == ("POST", "/_fake/step"):
            request = self.json_body(body) if body else {}
            ticks = request.get("ticks", 1) if isinstance(request, dict) else None
            if not isinstance(ticks, int) or isinstance(ticks, bool) or not 0 < ticks <= 10000:
                raise RequestError(400, "BadRequest", "'ticks' must be an integer in 1..10000")
            self.send_json(200, {"ticks": ticks, "changed": self.state.step(ticks)})
        elif (method, path) == ("POST", "/_fake/expire-tokens"):
            self.send_json(200, {"expired": self.state.expire_tokens()})
        elif (method, path) == ("GET", "/_fake/help"):
            self.send_json(200, {"help": CONTROL_HELP})
        else:
            raise RequestError(404, "ResourceNotFound", f"no control endpoint {method} {path}")

    def control_presence(self, method, user_id, body):
        if not GUID_RE.match(user_id):
            raise RequestError(400, "BadRequest", f"'{user_id}' is not a user object GUID")
        if method == "GET":
            presence = self.state.peek(user_id.lower())
            if presence is None:
                raise RequestError(404, "ResourceNotFound", f"user {user_id} was never seen")
            self.send_json(200, presence)
            return
        if method != "PUT":
            raise RequestError(405, "BadRequest", "use GET or PUT on /_fake/presence/{id}")
        request = self.json_body(body)
        if not isinstance(request, dict):
            raise RequestError(400, "BadRequest", "body must be a JSON object")
        allow_unknown = request.get("allow_unknown", False) is True
        values = {}
        for name, known in (("availability", AVAILABILITIES), ("activity", ACTIVITIES)):
            value = request.get(name)
            if not isinstance(value, str) or not value:
                raise RequestError(400, "BadRequest", f"'{name}' must be a non-empty string")
            if value not in known and not allow_unknown:
                raise RequestError(400, "BadRequest",
                                   f"'{name}' {value!r} is not a Graph value (one of "
                                   f"{', '.join(known)}); send \"allow_unknown\": true to use it")
            values[name] = value
        pinned = request.get("pinned", True) is not False
        presence = self.state.set_presence(user_id.lower(), values["availability"],
                                           values["activity"], pinned)
        self.send_json(200, presence)

    # ---- writing ----

    def send_json(self, status, body, content_type=LOGIN_JSON, headers=None):
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("request-id", self.request_id)
        client_request_id = self.headers.get("client-request-id")
        if client_request_id:
            self.send_header("client-request-id", client_request_id)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def send_error_body(self, path, error):
        """Graph paths get a Graph error body; the token path gets an OAuth error body."""
        if error.status == 400 and not path.startswith("/_fake/"):
            self.state.note_bad_request()
        if TOKEN_PATH_RE.match(path):
            body = {
                "error": error.code,
                "error_description": error.message,
                "error_codes": [int(c) for c in re.findall(r"AADSTS(\d+)", error.message)[:1]],
                "timestamp": datetime.datetime.now(datetime.timezone.utc).strftime(
                    "%Y-%m-%d %H:%M:%SZ"),
                "trace_id": self.request_id,
                "correlation_id": str(uuid.uuid4()),
            }
            self.send_json(error.status, body, LOGIN_JSON, error.headers)
            return
        body = {"error": {
            "code": error.code,
            "message": error.message,
            "innerError": {
                "date": utc_now_iso(),
                "request-id": self.request_id,
                "client-request-id": self.headers.get("client-request-id", self.request_id),
            },
        }}
        self.send_json(error.status, body, GRAPH_JSON, error.headers)

    def log_message(self, format, *args):
        if not self.quiet:
            log(f"{self.address_string()} {format % args}")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="fakegraph", description="Fake Microsoft Graph presence and identity platform.",
        epilog=CONTROL_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random walk and failures")
    parser.add_argument("--token-ttl", type=int, default=3600,
                        help="token lifetime in seconds (default 3600)")
    parser.add_argument("--client-id", default=None, help="if set, the only accepted client_id")
    parser.add_argument("--client-secret", default=None,
                        help="if set, the only accepted client_secret (else any non-empty one)")
    parser.add_argument("--rate-limit", type=int, default=1500,
                        help="presence requests allowed per window per tenant (default 1500)")
    parser.add_argument("--rate-window", type=float, default=30.0,
                        help="throttling window in seconds (default 30)")
    parser.add_argument("--fail-rate", type=float, default=0.0,
                        help="fraction of Graph requests answered 503 (default 0)")
    parser.add_argument("--fail-retry-after", type=int, default=1,
                        help="Retry-After of injected 503s in seconds (default 1)")
    parser.add_argument("--change-interval", type=float, default=5.0,
                        help="seconds between walk ticks; 0 disables the walk (default 5)")
    parser.add_argument("--change-fraction", type=float, default=0.1,
                        help="chance that a user moves on each tick (default 0.1)")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds added to each successful Graph answer (default 0)")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    options = parser.parse_args(argv)

    checks = [
        (options.token_ttl >= 1, "--token-ttl must be at least 1"),
        (options.rate_limit >= 0, "--rate-limit must not be negative"),
        (options.rate_window > 0, "--rate-window must be positive"),
        (0 <= options.fail_rate <= 1, "--fail-rate must be between 0 and 1"),
        (options.fail_retry_after >= 0, "--fail-retry-after must not be negative"),
        (options.change_interval >= 0, "--change-interval must not be negative"),
        (0 <= options.change_fraction <= 1, "--change-fraction must be between 0 and 1"),
        (options.latency >= 0, "--latency must not be negative"),
        (0 <= options.port <= 65535, "--port must be between 0 and 65535"),
    ]
    for ok, message in checks:
        if not ok:
            parser.error(message)
    return options


def serve(options):
    state = FakeGraphState(options)
    handler = type("BoundHandler", (Handler,), {"state": state, "quiet": options.quiet})
    server_class = Server
    if ":" in options.host:
        server_class = type("Server6", (Server,), {"address_family": socket.AF_INET6})
    try:
        server = server_class((options.host, options.port), handler)
    except OSError as error:
        log(f"cannot listen on {options.host}:{options.port}: {error.strerror}")
        return 1

    port = server.server_address[1]
    host = f"[{options.host}]" if ":" in options.host else options.host
    sys.stdout.write(f"fakegraph listening on http://{host}:{port}\n")
    sys.stdout.flush()

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, frame: stop.set())
    walker = threading.Thread(target=state.run_walk, name="walk", daemon=True)
    walker.start()
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                               name="http", daemon=True)
    serving.start()
    log(f"serving on port {port}: seed {options.seed}, token ttl {options.token_ttl} s, "
        f"{options.rate_limit} requests per {options.rate_window:g} s per tenant, "
        f"walk every {options.change_interval:g} s moving {options.change_fraction:g}, "
        f"fail rate {options.fail_rate:g}")

    while not stop.wait(0.5):
        pass
    log("stopping")
    state.stop()
    server.shutdown()
    server.server_close()
    walker.join(2)
    stats = state.snapshot_stats()
    log(f"stopped after {stats['token_requests']} token and {stats['presence_requests']} "
        f"presence requests ({stats['throttled']} throttled)")
    return 0


def main(argv=None):
    return serve(parse_args(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
