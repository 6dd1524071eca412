"""A short bounded fuzzing run of every libFuzzer target (scripts/fuzz --seconds 15).

Builds the targets with clang++ (ASan + UBSan) in a directory beside the main
build (fuzz-build/, kept between runs so that the build is incremental and the
work corpora grow), replays tests/fuzz/regressions/, then fuzzes each target
for 15 s. Any crash, leak, timeout, out-of-memory or broken invariant fails the
test with the reproducer's path. Skipped when clang++ is not installed.
See docs/fuzzing.md.
"""

import os
import shutil
import subprocess
import tempfile
import unittest

SECONDS_PER_TARGET = 15
# The build (cold: a few minutes on 2 cores; with ccache: seconds) plus 4 x 15 s.
TIMEOUT_S = 540


def source_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("PRESENCE_SOURCE_DIR") or os.path.dirname(os.path.dirname(here))


def build_dir():
    """fuzz-build/ beside the main build's presenced, else a fresh temporary directory."""
    presenced = os.environ.get("PRESENCED_BIN")
    if presenced:
        return os.path.join(os.path.dirname(os.path.abspath(presenced)), "fuzz-build")
    return tempfile.mkdtemp(prefix="presence-fuzz-")


class FuzzTest(unittest.TestCase):
    @unittest.skipUnless(shutil.which("clang++"), "clang++ is not installed (scripts/install-deps)")
    def test_every_target_runs_clean_for_a_short_while(self):
        script = os.path.join(source_dir(), "scripts", "fuzz")
        result = subprocess.run(
            [script, "--seconds", str(SECONDS_PER_TARGET), "--build-dir", build_dir()],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT_S)
        print(result.stdout)
        self.assertEqual(result.returncode, 0, "scripts/fuzz failed:\n" + result.stdout)
        for target in ("request", "json", "config", "graph"):
            self.assertIn(f"fuzz: {target}: ok", result.stdout)


if __name__ == "__main__":
    unittest.main()
