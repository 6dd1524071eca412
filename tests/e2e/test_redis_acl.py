"""presenced and presencectl under the least-privilege Redis users of conf/redis-acl.conf.

Redis starts with that ACL file (its password placeholders filled in); presenced logs in as
"presenced" with redis.password_file, presencectl as "presencectl" with
PRESENCECTL_REDIS_PASSWORD. Registering, listing, leases, the Graph poll and presencectl's
commands all work, so the ACL grants enough; a wrong password is a clear error, /readyz stays
503, and no password shows in `ps` or a log."""

import hashlib
import json
import os
import secrets
import signal
import subprocess
import tempfile
import time
import unittest

from deployment import SOURCE_DIR, Deployment, _binary, guid


def render_acl(folder, passwords):
    with open(os.path.join(SOURCE_DIR, "conf", "redis-acl.conf")) as f:
        text = f.read()
    for user, password in passwords.items():
        placeholder = f"@{user.upper()}_PASSWORD_SHA256@"
        assert placeholder in text, f"conf/redis-acl.conf has no {placeholder}"
        text = text.replace(placeholder, hashlib.sha256(password.encode()).hexdigest())
    path = os.path.join(folder, "users.acl")
    with open(path, "w") as f:
        f.write(text)
    return path


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def all_process_arguments():
    return subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout


class RedisAclTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.mkdtemp(prefix="presence-acl-")
        cls.passwords = {"presenced": "pd-" + secrets.token_hex(16),
                         "presencectl": "pc-" + secrets.token_hex(16)}
        acl = render_acl(cls.folder, cls.passwords)
        cls.password_file = os.path.join(cls.folder, "presenced.pw")
        with open(cls.password_file, "w") as f:
            f.write(cls.passwords["presenced"] + "\n")
        os.chmod(cls.password_file, 0o600)
        cls.d = Deployment(
            instances=2, partitions=4, poll_interval_ms=200,
            redis_args=["--aclfile", acl],
            extra_config={"redis": {"username": "presenced",
                                    "password_file": cls.password_file}})
        cls.d.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.d.__exit__(None, None, None)

    def ctl(self, *args, password=None, check=True):
        env = dict(os.environ, PRESENCECTL_REDIS_PASSWORD=password or
                   self.passwords["presencectl"])
        command = [_binary("PRESENCECTL_BIN", "presencectl"), "--redis", self.d.redis_address,
                   "--redis-user", "presencectl", *args]
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60,
                                stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} exited with {result.returncode}:\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def test_the_least_privilege_users_are_enough(self):
        # presencectl: an API key, then an agent through the Functions.
        created = json.loads(self.ctl("--json", "keys", "create", "--admin").stdout)
        key = created["key"]
        self.ctl("agents", "register", "acl", "ctl-agent", "--push")
        self.assertIn("ctl-agent", self.ctl("agents", "list", "acl").stdout)
        self.ctl("--json", "agents", "show", "acl", "ctl-agent")
        self.ctl("--json", "keys", "list")

        # presenced: register through the API with that key, the poll path brings presence.
        user = guid("acl", "polled")
        status, _, body = self.d.request("PUT", "/v1/tenants/acl/agents/polled",
                                         {"source": "graph", "graph_user_id": user}, auth=key)
        self.assertEqual(status, 201, body)
        self.d.graph.set_presence(user, "Busy", "InACall")
        self.d.wait_until(
            lambda: self.d.request("GET", "/v1/tenants/acl/agents/polled", auth=key)[2]
            .get("presence", {}).get("availability") == "Busy",
            what="the polled presence under the presenced ACL user")
        status, _, body = self.d.request("GET", "/v1/tenants/acl/agents?limit=10", auth=key)
        self.assertEqual(status, 200, body)
        status, _, body = self.d.request("PUT", "/v1/tenants/acl/agents/ctl-agent/presence",
                                         {"availability": "Away", "activity": "Away",
                                          "observed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, auth=key)
        self.assertIn(status, (200, 201), body)

        # Leases: every partition owned, seen by presencectl too.
        self.d.wait_until(self.d.balanced, what="balanced leases under the ACL users")
        partitions = json.loads(self.ctl("--json", "partitions").stdout)
        self.assertEqual(partitions["unowned"], 0, partitions)
        self.ctl("--json", "members")
        self.ctl("--json", "status")
        self.ctl("--json", "events", "replay", "--from", "0", "--group", "acl-readers")
        self.ctl("--json", "rebuild")

        # A handoff: SIGTERM one instance, the other takes everything.
        self.d.kill(1, signal.SIGTERM)
        self.d.wait_until(lambda: self.d.balanced(["a"]), what="instance a owning everything")
        self.d.start(1)

        # Redis logged no command or key refused to either user.
        refusals = [dict(zip(entry[0::2], entry[1::2]))
                    for entry in self.d.redis_call("ACL", "LOG")]
        denied = [r for r in refusals if r.get("reason") != "auth"]
        self.assertEqual(denied, [], "commands the ACL refused")

    def test_wrong_password_is_a_clear_error_and_not_ready(self):
        wrong = self.ctl("partitions", password="not-the-password", check=False)
        self.assertEqual(wrong.returncode, 1, wrong.stderr)
        self.assertIn(f"redis {self.d.redis_address}: authentication as user presencectl",
                      wrong.stderr)
        self.assertNotIn("not-the-password", wrong.stderr + wrong.stdout)

        # A presenced with a wrong password file: error in the log, /readyz 503.
        bad_file = os.path.join(self.folder, "wrong.pw")
        with open(bad_file, "w") as f:
            f.write("wrong-" + secrets.token_hex(8))
        index = self.d.add_instance_unready(
            {"redis": {"username": "presenced", "password_file": bad_file}})
        instance = self.d.instance(index)
        self.d.wait_until(
            lambda: "authentication as user presenced refused" in read(instance.log_path),
            what="the AUTH refusal in the log")
        log = read(instance.log_path)
        self.assertIn(f"redis {self.d.redis_address}", log)
        status, _, body = self.d.request("GET", "/readyz", via=index, auth=False)
        self.assertEqual(status, 503, body)
        self.assertTrue(instance.running, "presenced gave up instead of retrying")

    def test_z_passwords_never_show(self):
        arguments = all_process_arguments()
        logs = "".join(read(i.log_path) for i in self.d.instances)
        for password in self.passwords.values():
            self.assertNotIn(password, arguments)
            self.assertNotIn(password, logs)


if __name__ == "__main__":
    unittest.main()
