"""API keys of the REST API: 401 without a valid key, 403 outside the key's scope, revocation
within auth.cache_ms, 429 over the per-key rate, open health checks, restricted /metrics."""

import json
import os
import subprocess
import tempfile
import time
import unittest

from deployment import DeploymentCase, _binary

CACHE_MS = 300


def parse_prometheus(text):
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


class AuthTest(DeploymentCase):
    deployment_options = {"instances": 2, "partitions": 4,
                          "extra_config": {"auth": {"cache_ms": CACHE_MS}}}

    def agent_path(self, tenant, agent="ann"):
        return f"/v1/tenants/{tenant}/agents/{agent}"

    def test_health_checks_need_no_key(self):
        for path in ("/healthz", "/readyz"):
            for via in (None, 0, 1):
                status, _, body = self.d.request("GET", path, via=via, auth=False)
                self.assertEqual(status, 200, (path, body))

    def test_no_key_gets_401_with_www_authenticate(self):
        for method, path in (("GET", self.agent_path("acme")), ("GET", "/v1/tenants/acme/agents"),
                             ("PUT", self.agent_path("acme")), ("GET", "/metrics"),
                             ("GET", "/no/such/route")):
            status, headers, body = self.d.request(method, path, {"source": "push"}
                                                   if method == "PUT" else None, auth=False)
            self.assertEqual(status, 401, (method, path, body))
            self.assertEqual(headers.get("www-authenticate"), "Bearer")
            self.assertEqual(body["error"]["code"], "unauthorized")
            self.assertIn("message", body["error"])

    def test_bad_keys_get_401(self):
        real = self.d.make_key("admin")
        key_id = real.split("_")[1]
        wrong_secret = f"pk_{key_id}_" + ("A" * 43)
        unknown = "pk_000000000000_" + ("B" * 43)
        for authorization in ("Bearer nonsense", f"Basic {real}", f"Bearer {wrong_secret}",
                              f"Bearer {unknown}", "Bearer", f"Bearer {real}x"):
            status, headers, body = self.d.request("GET", self.agent_path("acme"), headers={
                "Authorization": authorization}, via=0)
            self.assertEqual(status, 401, (authorization, body))
            self.assertEqual(body["error"]["code"], "unauthorized")
            self.assertEqual(headers.get("www-authenticate"), "Bearer")
        # The real key works, with any case of the scheme.
        status, _, body = self.d.request("GET", self.agent_path("acme"),
                                         headers={"Authorization": f"bearer {real}"}, via=0)
        self.assertEqual(status, 404, body)

    def test_tenant_key_is_limited_to_its_tenant(self):
        key = self.d.make_key("tenant", "acme")
        status, _, body = self.d.request("PUT", self.agent_path("acme", "t1"), {"source": "push"},
                                         auth=key)
        self.assertEqual(status, 201, body)
        status, _, body = self.d.request("GET", "/v1/tenants/acme/agents", auth=key)
        self.assertEqual(status, 200, body)
        for method, path in (("GET", self.agent_path("globex", "t1")),
                             ("PUT", self.agent_path("globex", "t1")),
                             ("GET", "/v1/tenants/globex/agents"),
                             ("GET", "/metrics")):
            status, headers, body = self.d.request(method, path, {"source": "push"}
                                                   if method == "PUT" else None, auth=key)
            self.assertEqual(status, 403, (method, path, body))
            self.assertEqual(body["error"]["code"], "forbidden")
            self.assertNotIn("www-authenticate", headers)
        # The refused PUT wrote nothing.
        self.assertIsNone(self.d.agent_record("globex", "t1"))

    def test_admin_key_may_do_everything(self):
        status, _, body = self.d.request("PUT", self.agent_path("globex", "a1"), {"source": "push"})
        self.assertEqual(status, 201, body)
        status, _, body = self.d.request("GET", "/metrics", via=0)
        self.assertEqual(status, 200, body)
        self.assertIn("presence_auth_lookups_total", body)
        status, _, body = self.d.request("GET", "/no/such/route", via=0)
        self.assertEqual(status, 404, body)

    def test_cache_keeps_steady_traffic_off_redis(self):
        key = self.d.make_key("tenant", "cached")
        before = parse_prometheus(self.d.request("GET", "/metrics", via=0)[2])
        started = time.monotonic()
        for _ in range(60):
            status, _, body = self.d.request("GET", "/v1/tenants/cached/agents", via=0, auth=key)
            self.assertEqual(status, 200, body)
        took_ms = (time.monotonic() - started) * 1000
        after = parse_prometheus(self.d.request("GET", "/metrics", via=0)[2])
        lookups = after["presence_auth_lookups_total"] - before["presence_auth_lookups_total"]
        # One lookup per key and cache period (the admin key's /metrics ones included).
        self.assertLessEqual(lookups, 2 * (took_ms / CACHE_MS + 2), (lookups, took_ms))

    def test_revoked_key_stops_working_within_cache_ms(self):
        created = self.d.ctl("--json", "keys", "create", "--tenant", "revoked", "--name", "e2e")
        answer = json.loads(created.stdout)
        self.assertTrue(answer["ok"])
        key, key_id = answer["key"], answer["id"]
        self.assertTrue(key.startswith(f"pk_{key_id}_"))
        for via in (0, 1):
            status, _, body = self.d.request("GET", "/v1/tenants/revoked/agents", via=via,
                                             auth=key)
            self.assertEqual(status, 200, body)

        listed = self.d.ctl("--json", "keys", "list", "--tenant", "revoked").stdout
        self.assertIn(key_id, listed)
        self.assertNotIn(key.split("_", 2)[2], listed)
        self.assertNotIn("sha256", listed)

        self.d.ctl("keys", "revoke", key_id)
        revoked_at = time.monotonic()
        for via in (0, 1):
            self.d.wait_until(
                lambda: self.d.request("GET", "/v1/tenants/revoked/agents", via=via,
                                       auth=key)[0] == 401,
                timeout=CACHE_MS / 1000 + 2, what=f"instance {via} refusing the revoked key",
                interval=0.02)
        self.assertLess(time.monotonic() - revoked_at, CACHE_MS / 1000 + 1.0)
        again = self.d.ctl("keys", "revoke", key_id, check=False)
        self.assertEqual(again.returncode, 1, again.stderr)

    def test_keys_never_reach_the_logs(self):
        key = self.d.make_key("tenant", "logged")
        self.d.request("GET", "/v1/tenants/logged/agents", via=0, auth=key)
        self.d.request("GET", "/v1/tenants/other/agents", via=0, auth=key)
        self.d.request("GET", "/v1/tenants/logged/agents", via=0, auth=key + "x")
        secret = key.split("_", 2)[2]
        for instance in self.d.instances:
            with open(instance.log_path, encoding="utf-8", errors="replace") as f:
                log = f.read()
            self.assertNotIn(secret, log)
            self.assertNotIn(self.d.admin_key.split("_", 2)[2], log)
            self.assertNotIn("test-secret", log)  # the Graph client secret

    def test_keys_create_needs_a_scope(self):
        result = self.d.ctl("keys", "create", check=False)
        self.assertEqual(result.returncode, 2, result.stderr)
        result = self.d.ctl("keys", "create", "--admin", "--tenant", "x", check=False)
        self.assertEqual(result.returncode, 2, result.stderr)
        result = self.d.ctl("keys", "revoke", "not-an-id", check=False)
        self.assertEqual(result.returncode, 2, result.stderr)
        created = self.d.ctl("keys", "create", "--admin")
        self.assertRegex(created.stdout.strip(), r"^pk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$")


class RateLimitTest(DeploymentCase):
    deployment_options = {"instances": 1, "partitions": 2,
                          "extra_config": {"auth": {"requests_per_second": 2, "burst": 4,
                                                    "metrics": "open"}}}

    def test_over_the_rate_gets_429_with_retry_after(self):
        key = self.d.make_key("tenant", "busy")
        statuses = []
        retry_after = None
        for _ in range(12):
            status, headers, body = self.d.request("GET", "/v1/tenants/busy/agents", via=0,
                                                   auth=key)
            statuses.append(status)
            if status == 429:
                self.assertEqual(body["error"]["code"], "rate_limited")
                retry_after = headers.get("retry-after")
        self.assertEqual(statuses[:4], [200] * 4, statuses)
        self.assertIn(429, statuses)
        self.assertIsNotNone(retry_after)
        self.assertGreaterEqual(int(retry_after), 1)

        # Another key has its own bucket; health and open metrics are not limited.
        other = self.d.make_key("tenant", "busy")
        self.assertEqual(self.d.request("GET", "/v1/tenants/busy/agents", via=0,
                                        auth=other)[0], 200)
        for _ in range(10):
            self.assertEqual(self.d.request("GET", "/healthz", via=0, auth=False)[0], 200)
        self.assertEqual(self.d.request("GET", "/metrics", via=0, auth=False)[0], 200)

        # The bucket refills at the rate.
        self.d.wait_until(lambda: self.d.request("GET", "/v1/tenants/busy/agents", via=0,
                                                 auth=key)[0] == 200,
                          timeout=5, what="the key allowed again", interval=0.2)


class AuthConfigTest(unittest.TestCase):
    def test_bad_auth_values_name_file_and_line(self):
        folder = tempfile.mkdtemp(prefix="presence-auth-")
        path = os.path.join(folder, "presenced.toml")
        with open(path, "w") as f:
            f.write('[instance]\nid = "x"\n\n[auth]\nmetrics = "public"\nburst = 0\n'
                    'enabled = "yes"\n\n[redis]\npassword = "hunter2"\n')
        result = subprocess.run([_binary("PRESENCECTL_BIN", "presencectl"), "config", "check",
                                 path], capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn(f"{path}:5: auth.metrics must be one of admin, open", result.stderr)
        self.assertIn(f"{path}:6: auth.burst must be between 1 and", result.stderr)
        self.assertIn(f"{path}:7: auth.enabled must be a boolean", result.stderr)
        self.assertIn(f"{path}:10: redis.password is refused", result.stderr)
        self.assertNotIn("hunter2", result.stderr)


if __name__ == "__main__":
    unittest.main()
