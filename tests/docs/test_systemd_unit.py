"""conf/presenced@.service verifies with `systemd-analyze verify`.

The unit is copied with ExecStart pointing at the built presenced (systemd-analyze checks
that the program exists), its Documentation= pages are found through MANPATH in man/, and
any output of systemd-analyze (warnings included: it exits 0 on an unknown key) fails the
test. systemd-analyze comes with the package systemd, which scripts/install-deps installs;
a missing one fails the test rather than skipping it. The test also checks the settings the
daemon relies on (Type=notify, the watchdog, the instance id from %i) and the hardening.
"""

import os
import shutil
import subprocess
import tempfile
import unittest

SOURCE_DIR = os.environ.get(
    "PRESENCE_SOURCE_DIR",
    os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
PRESENCED = os.environ.get("PRESENCED_BIN") or os.path.join(SOURCE_DIR, "build", "presenced")
UNIT = os.path.join(SOURCE_DIR, "conf", "presenced@.service")
INSTALLED_PATH = "/usr/sbin/presenced"


def unit_settings():
    """{key: [values]} of the [Service] section, comments left out."""
    settings = {}
    section = None
    with open(UNIT, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                section = line
                continue
            key, _, value = line.partition("=")
            settings.setdefault((section, key), []).append(value)
    return settings


class SystemdUnitTest(unittest.TestCase):
    def test_systemd_analyze_verify_passes_without_output(self):
        analyze = shutil.which("systemd-analyze")
        self.assertIsNotNone(analyze, "systemd-analyze not found: install the Debian package "
                                      "systemd (scripts/install-deps does)")
        self.assertTrue(os.access(PRESENCED, os.X_OK), f"{PRESENCED} is not built")
        with open(UNIT, encoding="utf-8") as f:
            text = f.read()
        self.assertIn(f"ExecStart={INSTALLED_PATH} ", text)

        folder = tempfile.mkdtemp(prefix="presence-unit-")
        self.addCleanup(shutil.rmtree, folder, True)
        unit = os.path.join(folder, "presenced@.service")
        with open(unit, "w", encoding="utf-8") as f:
            f.write(text.replace(f"ExecStart={INSTALLED_PATH} ",
                                 f"ExecStart={os.path.abspath(PRESENCED)} "))
        # Documentation=man:presenced(8) is looked up with man: point it at man/.
        for page, section in (("presenced.8", "8"), ("presenced.toml.5", "5")):
            os.makedirs(os.path.join(folder, "man", f"man{section}"), exist_ok=True)
            shutil.copy(os.path.join(SOURCE_DIR, "man", page),
                        os.path.join(folder, "man", f"man{section}", page))
        env = dict(os.environ, MANPATH=os.path.join(folder, "man"), SYSTEMD_LOG_COLOR="0")
        result = subprocess.run([analyze, "verify", unit], capture_output=True, text=True,
                                env=env, timeout=120)
        output = (result.stdout + result.stderr).strip()
        self.assertEqual(result.returncode, 0, f"systemd-analyze verify failed:\n{output}")
        self.assertEqual(output, "", f"systemd-analyze verify warned:\n{output}")

    def test_the_daemon_contract_and_hardening_are_set(self):
        s = unit_settings()
        service = lambda key: s.get(("[Service]", key), [])  # noqa: E731
        self.assertEqual(service("Type"), ["notify"])
        self.assertEqual(service("NotifyAccess"), ["main"])
        self.assertTrue(service("WatchdogSec"))
        self.assertEqual(service("Restart"), ["on-failure"])
        self.assertIn("--instance-id %i", service("ExecStart")[0])
        self.assertIn("--config /etc/presence/presenced.toml", service("ExecStart")[0])
        self.assertEqual(service("CapabilityBoundingSet"), [""])
        self.assertEqual(service("RestrictAddressFamilies"), ["AF_INET AF_INET6 AF_UNIX"])
        self.assertIn("@system-service", service("SystemCallFilter"))
        for key in ("DynamicUser", "ProtectHome", "PrivateTmp", "NoNewPrivileges",
                    "MemoryDenyWriteExecute", "LockPersonality", "RestrictNamespaces"):
            with self.subTest(key=key):
                self.assertEqual(service(key), ["yes"])
        self.assertEqual(service("ProtectSystem"), ["strict"])


if __name__ == "__main__":
    unittest.main()
