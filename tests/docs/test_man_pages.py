"""The man pages render without a single warning, and document what the programs offer.

Every man/*.1, *.5 and *.8 is rendered with `groff -ww -man -Tutf8` and, when man-db is
installed, with `man --warnings -l`; any output on stderr fails the test. The long options
that `presenced --help` lists must all appear in presenced(8), and every key of
conf/presenced.toml in presenced.toml(5).
"""

import glob
import os
import re
import shutil
import subprocess
import unittest

SOURCE_DIR = os.environ.get(
    "PRESENCE_SOURCE_DIR",
    os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
PRESENCED = os.environ.get("PRESENCED_BIN") or os.path.join(SOURCE_DIR, "build", "presenced")
MAN_DIR = os.path.join(SOURCE_DIR, "man")


def man_pages():
    pages = []
    for section in ("1", "5", "8"):
        pages += glob.glob(os.path.join(MAN_DIR, f"*.{section}"))
    return sorted(pages)


def page_text(name):
    """The source of a man page with roff's escaped hyphens made plain."""
    with open(os.path.join(MAN_DIR, name), encoding="utf-8") as f:
        return f.read().replace("\\-", "-").replace("\\(dq", '"')


class RenderTest(unittest.TestCase):
    def test_there_are_the_three_pages(self):
        names = [os.path.basename(p) for p in man_pages()]
        for expected in ("presenced.8", "presencectl.1", "presenced.toml.5"):
            self.assertIn(expected, names)

    def test_groff_renders_every_page_without_warnings(self):
        groff = shutil.which("groff")
        self.assertIsNotNone(groff, "groff is not installed (package groff-base; "
                                    "scripts/install-deps installs it)")
        for page in man_pages():
            with self.subTest(page=os.path.basename(page)):
                result = subprocess.run([groff, "-ww", "-man", "-Tutf8", page],
                                        capture_output=True, timeout=60)
                self.assertEqual(result.returncode, 0, result.stderr.decode(errors="replace"))
                self.assertEqual(result.stderr.decode(errors="replace"), "")
                self.assertTrue(result.stdout.strip(), "rendered nothing")

    def test_man_renders_every_page_without_warnings(self):
        man = shutil.which("man")
        if man is None:
            self.skipTest("man (man-db) is not installed; groff covers the rendering")
        env = dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8")
        for page in man_pages():
            with self.subTest(page=os.path.basename(page)):
                result = subprocess.run([man, "--warnings", "-l", page], capture_output=True,
                                        env=env, timeout=60)
                self.assertEqual(result.returncode, 0, result.stderr.decode(errors="replace"))
                self.assertEqual(result.stderr.decode(errors="replace"), "")


class CoverageTest(unittest.TestCase):
    def test_every_presenced_option_is_in_presenced_8(self):
        result = subprocess.run([PRESENCED, "--help"], capture_output=True, text=True,
                                timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        options = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", result.stdout))
        self.assertIn("--check-config", options)
        text = page_text("presenced.8")
        missing = sorted(o for o in options if not re.search(re.escape(o) + r"(?![\w-])", text))
        self.assertEqual(missing, [], f"options of presenced --help not in presenced.8")

    def test_every_key_of_the_example_config_is_in_presenced_toml_5(self):
        with open(os.path.join(SOURCE_DIR, "conf", "presenced.toml"), encoding="utf-8") as f:
            example = f.read()
        keys = set(re.findall(r"^(?:# )?([a-z_]+) = ", example, flags=re.M))
        self.assertIn("poll_interval_ms", keys)
        text = page_text("presenced.toml.5")
        missing = sorted(k for k in keys if not re.search(r"\b" + re.escape(k) + r"\b", text))
        self.assertEqual(missing, [], "keys of conf/presenced.toml not in presenced.toml.5")


if __name__ == "__main__":
    unittest.main()
