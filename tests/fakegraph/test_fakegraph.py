"""Tests of the fake Graph through real HTTP, one rule of DESIGN.md at a time.

Run from this folder: PYTHONPATH=../support python3 -m unittest -v test_fakegraph
"""

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from fakegraph_process import SCRIPT, FakeGraph, FakeGraphError  # noqa: E402

SCOPE = "https://graph.microsoft.com/.default"
BATCH_PATH = "/v1.0/communications/getPresencesByUserId"
VALID_PAIRS = {
    ("Available", "Available"), ("Available", "OutOfOffice"), ("AvailableIdle", "Available"),
    ("Away", "Away"), ("Away", "OutOfOffice"), ("BeRightBack", "BeRightBack"), ("Busy", "Busy"),
    ("Busy", "InACall"), ("Busy", "InAConferenceCall"), ("Busy", "InAMeeting"),
    ("BusyIdle", "Busy"), ("DoNotDisturb", "DoNotDisturb"), ("DoNotDisturb", "Presenting"),
    ("DoNotDisturb", "UrgentInterruptionsOnly"), ("Offline", "Offline"), ("Offline", "OffWork"),
    ("Offline", "OutOfOffice"),
}


def guids(count, prefix="0000"):
    return [f"{prefix}{i:04x}-0000-4000-8000-{i:012x}" for i in range(count)]


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.raw = body
        try:
            self.json = json.loads(body) if body else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            self.json = None


def call(url, method="GET", body=None, headers=None):
    """One HTTP request; returns an Answer for any status."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers, error.read())


def request_token(graph, tenant="acme", **overrides):
    fields = {"client_id": "app-1", "client_secret": "s3cret", "scope": SCOPE,
              "grant_type": "client_credentials"}
    fields.update(overrides)
    fields = {name: value for name, value in fields.items() if value is not None}
    return call(f"{graph.url}/{tenant}/oauth2/v2.0/token", "POST",
                urllib.parse.urlencode(fields).encode(),
                {"Content-Type": "application/x-www-form-urlencoded"})


def token_for(graph, tenant="acme"):
    answer = request_token(graph, tenant)
    assert answer.status == 200, answer.raw
    return answer.json["access_token"]


def get_presences(graph, token, ids=None, raw_body=None):
    body = raw_body if raw_body is not None else json.dumps({"ids": ids}).encode()
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return call(graph.url + BATCH_PATH, "POST", body, headers)


def get_one(graph, token, user_id):
    return call(f"{graph.url}/v1.0/users/{user_id}/presence", "GET", None,
                {"Authorization": f"Bearer {token}"})


class SharedFakeTest(unittest.TestCase):
    """Rules that need no special options share one fake with the walk off."""

    @classmethod
    def setUpClass(cls):
        cls.graph = FakeGraph(seed=3, change_interval=0, quiet=True).start()
        cls.token = token_for(cls.graph)

    @classmethod
    def tearDownClass(cls):
        cls.graph.stop()

    def assertGraphError(self, answer, status, code):
        self.assertEqual(answer.status, status, answer.raw)
        self.assertEqual(answer.json["error"]["code"], code, answer.raw)
        self.assertTrue(answer.json["error"]["message"])
        self.assertIn("request-id", answer.json["error"]["innerError"])

    def assertOAuthError(self, answer, status, error):
        self.assertEqual(answer.status, status, answer.raw)
        self.assertEqual(answer.json["error"], error, answer.raw)
        self.assertTrue(answer.json["error_description"])


class TokenTest(SharedFakeTest):
    def test_client_credentials_get_a_bearer_token(self):
        answer = request_token(self.graph)
        self.assertEqual(answer.status, 200, answer.raw)
        self.assertEqual(answer.json["token_type"], "Bearer")
        self.assertEqual(answer.json["expires_in"], 3600)
        self.assertEqual(answer.json["ext_expires_in"], 3600)
        self.assertTrue(answer.json["access_token"])
        self.assertNotIn("refresh_token", answer.json)

    def test_each_request_gets_a_new_token(self):
        self.assertNotEqual(token_for(self.graph), token_for(self.graph))

    def test_missing_fields_are_invalid_request(self):
        for name in ("grant_type", "client_id", "scope"):
            with self.subTest(missing=name):
                self.assertOAuthError(request_token(self.graph, **{name: None}), 400,
                                      "invalid_request")

    def test_wrong_grant_type_is_refused(self):
        answer = request_token(self.graph, grant_type="password")
        self.assertOAuthError(answer, 400, "unsupported_grant_type")

    def test_wrong_scope_is_refused(self):
        answer = request_token(self.graph, scope="User.Read")
        self.assertOAuthError(answer, 400, "invalid_scope")

    def test_missing_secret_is_invalid_client(self):
        self.assertOAuthError(request_token(self.graph, client_secret=None), 401, "invalid_client")

    def test_json_body_is_refused(self):
        answer = call(f"{self.graph.url}/acme/oauth2/v2.0/token", "POST",
                      json.dumps({"grant_type": "client_credentials"}).encode(),
                      {"Content-Type": "application/json"})
        self.assertOAuthError(answer, 400, "invalid_request")

    def test_multi_tenant_alias_is_refused(self):
        self.assertOAuthError(request_token(self.graph, tenant="common"), 400, "invalid_request")

    def test_get_is_refused(self):
        answer = call(f"{self.graph.url}/acme/oauth2/v2.0/token")
        self.assertEqual(answer.status, 405)


class ClientSecretTest(unittest.TestCase):
    def test_only_the_configured_secret_and_client_are_accepted(self):
        with FakeGraph(client_secret="s3cret", client_id="app-1", change_interval=0,
                       quiet=True) as graph:
            self.assertEqual(request_token(graph).status, 200)
            wrong = request_token(graph, client_secret="nope")
            self.assertEqual(wrong.status, 401)
            self.assertEqual(wrong.json["error"], "invalid_client")
            other = request_token(graph, client_id="app-2")
            self.assertEqual(other.status, 400)
            self.assertEqual(other.json["error"], "unauthorized_client")
            self.assertTrue(graph.token("acme"))


class TokenExpiryTest(unittest.TestCase):
    def test_token_stops_working_after_its_ttl(self):
        with FakeGraph(token_ttl=1, change_interval=0, quiet=True) as graph:
            answer = request_token(graph)
            self.assertEqual(answer.json["expires_in"], 1)
            token = answer.json["access_token"]
            self.assertEqual(get_presences(graph, token, guids(1)).status, 200)

            time.sleep(1.2)
            expired = get_presences(graph, token, guids(1))
            self.assertEqual(expired.status, 401, expired.raw)
            self.assertEqual(expired.json["error"]["code"], "InvalidAuthenticationToken")
            self.assertIn("expired", expired.json["error"]["message"])
            self.assertEqual(get_presences(graph, token_for(graph), guids(1)).status, 200)

    def test_expire_tokens_invalidates_every_token(self):
        with FakeGraph(change_interval=0, quiet=True) as graph:
            token = token_for(graph)
            self.assertEqual(graph.expire_tokens(), 1)
            self.assertEqual(get_presences(graph, token, guids(1)).status, 401)


class AuthenticationTest(SharedFakeTest):
    def test_no_token_is_401(self):
        answer = get_presences(self.graph, None, guids(1))
        self.assertGraphError(answer, 401, "InvalidAuthenticationToken")
        self.assertIn("Bearer", answer.headers["WWW-Authenticate"])

    def test_unknown_token_is_401(self):
        self.assertGraphError(get_presences(self.graph, "made-up", guids(1)), 401,
                              "InvalidAuthenticationToken")

    def test_single_presence_needs_a_token_too(self):
        answer = call(f"{self.graph.url}/v1.0/users/{guids(1)[0]}/presence")
        self.assertGraphError(answer, 401, "InvalidAuthenticationToken")


class BatchTest(SharedFakeTest):
    def test_unknown_ids_are_presence_unknown(self):
        ids = guids(3, prefix="aaaa")
        answer = get_presences(self.graph, self.token, ids)
        self.assertEqual(answer.status, 200, answer.raw)
        self.assertIn("@odata.context", answer.json)
        self.assertEqual([entry["id"] for entry in answer.json["value"]], ids)
        for entry in answer.json["value"]:
            self.assertEqual(entry["availability"], "PresenceUnknown")
            self.assertEqual(entry["activity"], "PresenceUnknown")
            self.assertIsNone(entry["statusMessage"])

    def test_650_ids_are_answered(self):
        answer = get_presences(self.graph, self.token, guids(650, prefix="bbbb"))
        self.assertEqual(answer.status, 200, answer.raw)
        self.assertEqual(len(answer.json["value"]), 650)

    def test_more_than_650_ids_is_400(self):
        answer = get_presences(self.graph, self.token, guids(651))
        self.assertGraphError(answer, 400, "BadRequest")
        self.assertIn("650", answer.json["error"]["message"])

    def test_empty_ids_is_400(self):
        self.assertGraphError(get_presences(self.graph, self.token, []), 400, "BadRequest")

    def test_non_guid_id_is_400(self):
        answer = get_presences(self.graph, self.token, [guids(1)[0], "alice@example.com"])
        self.assertGraphError(answer, 400, "BadRequest")
        self.assertIn("alice@example.com", answer.json["error"]["message"])

    def test_bad_json_is_400(self):
        answer = get_presences(self.graph, self.token, raw_body=b"{\"ids\": [")
        self.assertGraphError(answer, 400, "BadRequest")

    def test_missing_ids_is_400(self):
        answer = get_presences(self.graph, self.token, raw_body=b"{\"users\": []}")
        self.assertGraphError(answer, 400, "BadRequest")

    def test_ids_are_answered_in_lower_case_once(self):
        user_id = "CCCC0000-0000-4000-8000-0000000000AB"
        answer = get_presences(self.graph, self.token, [user_id, user_id.lower()])
        self.assertEqual(answer.status, 200, answer.raw)
        self.assertEqual([entry["id"] for entry in answer.json["value"]], [user_id.lower()])

    def test_single_presence_is_one_object(self):
        user_id = guids(1, prefix="dddd")[0]
        self.graph.set_presence(user_id, "Away", "Away")
        answer = get_one(self.graph, self.token, user_id)
        self.assertEqual(answer.status, 200, answer.raw)
        self.assertEqual((answer.json["id"], answer.json["availability"],
                          answer.json["activity"]), (user_id, "Away", "Away"))
        self.assertGraphError(get_one(self.graph, self.token, "not-a-guid"), 400, "BadRequest")

    def test_keep_alive_serves_several_requests_on_one_connection(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.graph.port, timeout=10)
        try:
            for _ in range(3):
                connection.request("POST", BATCH_PATH, json.dumps({"ids": guids(2)}),
                                   {"Authorization": f"Bearer {self.token}",
                                    "Content-Type": "application/json"})
                response = connection.getresponse()
                self.assertEqual(response.status, 200)
                self.assertEqual(len(json.loads(response.read())["value"]), 2)
        finally:
            connection.close()

    def test_unknown_graph_path_is_404(self):
        answer = call(self.graph.url + "/v1.0/me", "GET", None,
                      {"Authorization": f"Bearer {self.token}"})
        self.assertGraphError(answer, 404, "ResourceNotFound")


class SetPresenceTest(SharedFakeTest):
    def test_set_presence_is_visible_in_both_reads(self):
        user_id = guids(1, prefix="eeee")[0]
        self.graph.set_presence(user_id, "Busy", "InACall")
        batch = get_presences(self.graph, self.token, [user_id]).json["value"][0]
        self.assertEqual((batch["availability"], batch["activity"]), ("Busy", "InACall"))
        one = get_one(self.graph, self.token, user_id).json
        self.assertEqual((one["availability"], one["activity"]), ("Busy", "InACall"))

    def test_unknown_values_need_allow_unknown(self):
        user_id = guids(2, prefix="eeee")[1]
        with self.assertRaises(FakeGraphError):
            self.graph.set_presence(user_id, "Busy", "Napping")
        self.graph.set_presence(user_id, "Busy", "Napping", allow_unknown=True)
        entry = get_presences(self.graph, self.token, [user_id]).json["value"][0]
        self.assertEqual(entry["activity"], "Napping")

    def test_pinned_presence_is_left_alone_by_the_walk(self):
        pinned, free = guids(2, prefix="ffff")
        self.graph.set_presence(pinned, "DoNotDisturb", "Presenting")
        self.graph.set_presence(free, "Available", "Available", pinned=False)
        self.graph.config(change_fraction=1.0)
        try:
            self.assertGreater(self.graph.step(3), 0)
        finally:
            self.graph.config(change_fraction=0.1)
        self.assertEqual(self.graph.presence(pinned)["activity"], "Presenting")
        self.assertNotEqual(self.graph.presence(free)["sequenceNumber"], "0" * 20)

    def test_peek_at_unseen_user_is_404(self):
        with self.assertRaises(FakeGraphError):
            self.graph.presence(str(uuid.uuid4()))


class HostileTest(SharedFakeTest):
    """Hostile modes: one tenant answered badly, the others normally."""

    def tearDown(self):
        self.graph.normal("acme")
        self.graph.normal("evil")

    def presences(self, ids, tenant="evil", timeout=10):
        token = token_for(self.graph, tenant)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        connection = http.client.HTTPConnection("127.0.0.1", self.graph.port, timeout=timeout)
        try:
            connection.request("POST", BATCH_PATH, json.dumps({"ids": ids}), headers)
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type"), response.read()
        finally:
            connection.close()

    def test_modes_are_listed_and_unknown_ones_refused(self):
        modes = self.graph.hostile_modes()["modes"]
        self.assertIn("garbage", modes["presence"])
        self.assertIn("hang", modes["token"])
        for body in ({"presence": "nope"}, {"token": "garbage2"}, {"other": "garbage"}):
            with self.subTest(body=body), self.assertRaises(FakeGraphError):
                self.graph.control("PUT", "/_fake/hostile/evil", body)

    def test_only_the_hostile_tenant_is_answered_badly(self):
        ids = guids(2, "e000")
        self.graph.hostile("evil", presence="garbage")
        self.assertEqual(self.graph.hostile_modes()["tenants"], {"evil": {"presence": "garbage"}})
        status, _, body = self.presences(ids)
        self.assertEqual(status, 200)
        self.assertRaises(ValueError, json.loads, body)
        status, _, body = self.presences(ids, tenant="acme")
        self.assertEqual(len(json.loads(body)["value"]), 2)
        self.assertTrue(self.graph.normal("evil"))
        status, _, body = self.presences(ids)
        self.assertEqual(len(json.loads(body)["value"]), 2)

    def test_json_presence_modes_have_their_shape(self):
        ids = guids(10, "e100")
        expected = {
            "not_object": lambda j: isinstance(j, list),
            "no_value": lambda j: isinstance(j, dict) and "value" not in j,
            "value_not_array": lambda j: isinstance(j["value"], dict),
            "extra_items": lambda j: len(j["value"]) > len(ids),
            "unknown_ids": lambda j: len(j["value"]) == len(ids) and
            not {item["id"] for item in j["value"]} & set(ids),
            "duplicate_ids": lambda j: [item["id"] for item in j["value"]] == [ids[0]] * 10,
            "unknown_values": lambda j: {item["availability"] for item in j["value"]} ==
            {"Sleeping"},
            "overlong": lambda j: len(j["value"][0]["availability"]) == 100 * 1024,
        }
        for mode, check in expected.items():
            with self.subTest(mode=mode):
                self.graph.hostile("evil", presence=mode)
                status, content_type, body = self.presences(ids)
                self.assertEqual(status, 200)
                self.assertTrue(check(json.loads(body)), body[:300])

    def test_bad_items_are_each_malformed(self):
        ids = guids(10, "e200")
        self.graph.hostile("evil", presence="bad_items")
        items = json.loads(self.presences(ids)[2])["value"]
        self.assertEqual(len(items), 10)
        for item in items:
            with self.subTest(item=item):
                well_formed = isinstance(item, dict) and all(
                    isinstance(item.get(name), str) for name in ("id", "availability", "activity"))
                self.assertFalse(well_formed)

    def test_wrong_content_type_and_5xx(self):
        ids = guids(1, "e300")
        self.graph.hostile("evil", presence="wrong_content_type")
        status, content_type, body = self.presences(ids)
        self.assertEqual((status, content_type.split(";")[0]), (200, "text/html"))
        self.assertEqual(len(json.loads(body)["value"]), 1)
        for mode, code in (("status_500", 500), ("status_502", 502)):
            with self.subTest(mode=mode):
                self.graph.hostile("evil", presence=mode)
                self.assertEqual(self.presences(ids)[0], code)

    def test_huge_body_says_50_mb(self):
        self.graph.hostile("evil", presence="huge")
        token = token_for(self.graph, "evil")
        connection = http.client.HTTPConnection("127.0.0.1", self.graph.port, timeout=10)
        try:
            connection.request("POST", BATCH_PATH, json.dumps({"ids": guids(1, "e400")}),
                               {"Content-Type": "application/json",
                                "Authorization": f"Bearer {token}"})
            response = connection.getresponse()
            self.assertEqual(int(response.getheader("Content-Length")), 50 * 1024 * 1024)
            self.assertEqual(len(response.read(1024 * 1024)), 1024 * 1024)
        finally:
            connection.close()

    def raw_presences(self, ids, seconds):
        """Sends a batch request and returns what arrived within `seconds`."""
        token = token_for(self.graph, "evil")
        body = json.dumps({"ids": ids})
        request = (f"POST {BATCH_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n"
                   f"{body}").encode()
        received = b""
        with socket.create_connection(("127.0.0.1", self.graph.port), timeout=0.2) as sock:
            sock.sendall(request)
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                try:
                    chunk = sock.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    break
                received += chunk
        return received

    def test_hang_sends_nothing(self):
        self.graph.hostile("evil", presence="hang")
        self.assertEqual(self.raw_presences(guids(1, "e500"), 1.0), b"")

    def test_drip_sends_a_byte_at_a_time(self):
        self.graph.hostile("evil", presence="drip")
        received = self.raw_presences(guids(1, "e600"), 1.0)
        head, _, body = received.partition(b"\r\n\r\n")
        self.assertIn(b"Content-Length: 1000", head)
        self.assertLess(len(body), 20)

    def test_token_modes(self):
        checks = {
            "garbage": lambda a: a.status == 200 and a.json is None,
            "no_access_token": lambda a: "access_token" not in a.json,
            "access_token_number": lambda a: a.json["access_token"] == 12345,
            "expires_in_mistyped": lambda a: a.json["expires_in"] == "soon",
            "expires_in_negative": lambda a: a.json["expires_in"] == -60,
            "expires_in_huge": lambda a: a.json["expires_in"] == 1e300,
            "status_400": lambda a: a.status == 400 and a.json["error"] == "invalid_request",
            "status_401": lambda a: a.status == 401 and a.json["error"] == "invalid_client",
        }
        for mode, check in checks.items():
            with self.subTest(mode=mode):
                self.graph.hostile("evil", token=mode)
                answer = request_token(self.graph, "evil")
                self.assertTrue(check(answer), answer.raw)
                self.assertEqual(request_token(self.graph, "acme").status, 200)

    def test_token_hang_ends_when_switched_back(self):
        self.graph.hostile("evil", token="hang")
        form = urllib.parse.urlencode({"client_id": "app-1", "client_secret": "s",
                                       "scope": SCOPE, "grant_type": "client_credentials"})
        connection = http.client.HTTPConnection("127.0.0.1", self.graph.port, timeout=1)
        try:
            connection.request("POST", "/evil/oauth2/v2.0/token", form,
                               {"Content-Type": "application/x-www-form-urlencoded"})
            with self.assertRaises(OSError):
                connection.getresponse()
        finally:
            connection.close()
        self.graph.normal("evil")
        self.assertEqual(request_token(self.graph, "evil").status, 200)
        self.assertGreater(self.graph.stats()["tenants"]["evil"]["hostile_answers"], 0)


class ThrottlingTest(unittest.TestCase):
    def test_requests_over_the_rate_get_429_with_retry_after(self):
        with FakeGraph(rate_limit=5, rate_window=30, change_interval=0, quiet=True) as graph:
            token = token_for(graph, "acme")
            for _ in range(5):
                self.assertEqual(get_presences(graph, token, guids(1)).status, 200)
            answer = get_presences(graph, token, guids(1))
            self.assertEqual(answer.status, 429, answer.raw)
            self.assertEqual(answer.json["error"]["code"], "TooManyRequests")
            self.assertTrue(1 <= int(answer.headers["Retry-After"]) <= 30)
            self.assertEqual(get_one(graph, token, guids(1)[0]).status, 429)

            # The budget is per tenant of the token.
            self.assertEqual(get_presences(graph, token_for(graph, "globex"), guids(1)).status,
                             200)
            stats = graph.stats()
            self.assertEqual(stats["throttled"], 2)
            self.assertEqual(stats["tenants"]["acme"]["throttled"], 2)
            self.assertEqual(stats["tenants"]["acme"]["max_in_window"], 5)
            self.assertEqual(stats["tenants"]["globex"]["throttled"], 0)

    def test_budget_returns_after_the_window(self):
        with FakeGraph(rate_limit=2, rate_window=0.5, change_interval=0, quiet=True) as graph:
            token = token_for(graph)
            for _ in range(2):
                self.assertEqual(get_presences(graph, token, guids(1)).status, 200)
            answer = get_presences(graph, token, guids(1))
            self.assertEqual(answer.status, 429)
            self.assertEqual(answer.headers["Retry-After"], "1")
            time.sleep(0.6)
            self.assertEqual(get_presences(graph, token, guids(1)).status, 200)

    def test_rate_limit_can_change_at_run_time(self):
        with FakeGraph(change_interval=0, quiet=True) as graph:
            token = token_for(graph)
            self.assertEqual(graph.config(rate_limit=1)["rate_limit"], 1)
            self.assertEqual(get_presences(graph, token, guids(1)).status, 200)
            self.assertEqual(get_presences(graph, token, guids(1)).status, 429)


class FailureInjectionTest(unittest.TestCase):
    def test_fail_rate_gives_503_with_retry_after(self):
        with FakeGraph(fail_rate=1, fail_retry_after=2, change_interval=0, quiet=True) as graph:
            token = token_for(graph)
            answer = get_presences(graph, token, guids(1))
            self.assertEqual(answer.status, 503, answer.raw)
            self.assertEqual(answer.headers["Retry-After"], "2")
            self.assertEqual(answer.json["error"]["code"], "ServiceUnavailable")
            graph.config(fail_rate=0)
            self.assertEqual(get_presences(graph, token, guids(1)).status, 200)
            self.assertEqual(graph.stats()["failures_injected"], 1)

    def test_bad_config_is_refused(self):
        with FakeGraph(change_interval=0, quiet=True) as graph:
            for settings in ({"rate_limt": 3}, {"fail_rate": 2}, {"rate_limit": "many"}):
                with self.subTest(settings=settings):
                    with self.assertRaises(FakeGraphError):
                        graph.config(**settings)
            self.assertEqual(graph.control("GET", "/_fake/config")["rate_limit"], 1500)


class RandomWalkTest(unittest.TestCase):
    def test_presence_changes_over_time_to_valid_pairs(self):
        ids = guids(20, prefix="9999")
        with FakeGraph(change_interval=0.05, change_fraction=0.5, quiet=True) as graph:
            token = token_for(graph)
            first = get_presences(graph, token, ids).json["value"]
            self.assertTrue(all(entry["availability"] == "PresenceUnknown" for entry in first))

            deadline = time.monotonic() + 5
            changed = []
            while not changed and time.monotonic() < deadline:
                time.sleep(0.1)
                later = get_presences(graph, token, ids).json["value"]
                changed = [entry for entry in later if entry["availability"] != "PresenceUnknown"]
            self.assertTrue(changed, "no presence changed within 5 s")
            for entry in changed:
                self.assertIn((entry["availability"], entry["activity"]), VALID_PAIRS)
            self.assertGreater(graph.stats()["walk_changes"], 0)

    def test_walk_off_changes_nothing(self):
        ids = guids(5)
        with FakeGraph(change_interval=0, quiet=True) as graph:
            token = token_for(graph)
            get_presences(graph, token, ids)
            time.sleep(0.3)
            later = get_presences(graph, token, ids).json["value"]
            self.assertTrue(all(entry["activity"] == "PresenceUnknown" for entry in later))
            self.assertEqual(graph.stats()["walk_ticks"], 0)

    def test_same_seed_gives_same_sequence(self):
        ids = guids(30, prefix="7777")

        def history(seed):
            with FakeGraph(seed=seed, change_interval=0, change_fraction=0.3,
                           quiet=True) as graph:
                token = token_for(graph)
                get_presences(graph, token, ids)
                states = []
                for _ in range(5):
                    graph.step(1)
                    states.append([(entry["availability"], entry["activity"])
                                   for entry in get_presences(graph, token, ids).json["value"]])
                return states

        first = history(11)
        self.assertEqual(first, history(11))
        self.assertNotEqual(first, history(12))


class StatsTest(unittest.TestCase):
    def test_counters_follow_requests_and_reset(self):
        with FakeGraph(change_interval=0, quiet=True) as graph:
            token = token_for(graph, "acme")
            get_presences(graph, token, guids(10))
            get_presences(graph, token, guids(4))
            get_one(graph, token, guids(1)[0])
            get_presences(graph, None, guids(1))
            get_presences(graph, token, guids(700))
            request_token(graph, grant_type="password")

            stats = graph.stats()
            self.assertEqual(stats["token_requests"], 2)
            self.assertEqual(stats["tokens_issued"], 1)
            self.assertEqual(stats["presence_requests"], 5)
            self.assertEqual(stats["presence_ids_total"], 15)
            self.assertEqual(stats["max_batch"], 700)
            self.assertEqual(stats["unauthorized"], 1)
            self.assertEqual(stats["bad_requests"], 2)
            self.assertEqual(stats["throttled"], 0)
            self.assertEqual(stats["known_users"], 10)
            acme = stats["tenants"]["acme"]
            self.assertEqual((acme["token_requests"], acme["presence_requests"],
                              acme["presence_ids_total"]), (2, 4, 15))

            graph.reset_stats()
            stats = graph.stats()
            self.assertEqual((stats["presence_requests"], stats["tenants"]), (0, {}))
            # Resetting counters keeps tokens and users.
            self.assertEqual(get_presences(graph, token, guids(1)).status, 200)
            self.assertEqual(graph.stats()["known_users"], 10)


class ProcessTest(unittest.TestCase):
    def test_banner_then_clean_exit_on_sigterm(self):
        process = subprocess.Popen([sys.executable, SCRIPT, "--port", "0"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            line = process.stdout.readline().decode()
            self.assertRegex(line, r"^fakegraph listening on http://127\.0\.0\.1:\d+\n$")
            port = int(re.search(r":(\d+)\n$", line).group(1))
            self.assertEqual(call(f"http://127.0.0.1:{port}/_fake/stats").status, 200)
            process.terminate()
            self.assertEqual(process.wait(5), 0)
            self.assertIn(b"stopped after", process.stderr.read())
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()
            process.stderr.close()

    def test_busy_port_fails_with_a_message(self):
        with FakeGraph(change_interval=0, quiet=True) as graph:
            result = subprocess.run([sys.executable, SCRIPT, "--port", str(graph.port)],
                                    capture_output=True, timeout=10)
            self.assertEqual(result.returncode, 1)
            self.assertIn(f"cannot listen on 127.0.0.1:{graph.port}".encode(), result.stderr)

    def test_wrapper_reports_a_failed_start_with_the_log(self):
        with self.assertRaises(FakeGraphError) as caught:
            FakeGraph(fail_rate=5).start()
        self.assertIn("--fail-rate must be between 0 and 1", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
