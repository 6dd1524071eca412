"""Every C++ file is formatted by clang-format with the repository's .clang-format.

Formatting is never discussed in review: run `clang-format -i FILE` to fix a failure.
"""

import os
import shutil
import subprocess
import unittest

SOURCE_DIR = os.environ.get(
    "PRESENCE_SOURCE_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))


class FormatTest(unittest.TestCase):
    def test_every_cpp_file_is_clang_formatted(self):
        clang_format = shutil.which("clang-format")
        self.assertIsNotNone(clang_format, "clang-format is not installed (scripts/install-deps)")
        files = subprocess.run(["git", "ls-files", "*.cc", "*.h"], cwd=SOURCE_DIR, check=True,
                               capture_output=True, text=True).stdout.split()
        self.assertGreater(len(files), 50)
        result = subprocess.run([clang_format, "--dry-run", "--Werror", *files], cwd=SOURCE_DIR,
                                capture_output=True, text=True)
        self.assertEqual(result.returncode, 0,
                         "files not formatted (run clang-format -i on them):\n"
                         + "\n".join(sorted({line.split(":")[0] for line in
                                             result.stderr.splitlines() if "warning" in line})))


if __name__ == "__main__":
    unittest.main()
