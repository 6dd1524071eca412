"""The test support modules resp.py and redis_server.py that other tests build on:
the client's reply types and errors, and a server that keeps its data across
restarts when AOF is on (the Functions library included).

Run from this folder: PYTHONPATH=../support python3 -m unittest -v test_redis_server
"""

import os
import unittest

from redis_server import RedisServer
from resp import RedisError

SOURCE_DIR = os.environ.get(
    "PRESENCE_SOURCE_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
LIBRARY_PATH = os.path.join(SOURCE_DIR, "lib", "store", "functions.lua")


class RespClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = RedisServer()
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.r = self.server.client()
        self.r.call("FLUSHALL")

    def tearDown(self):
        self.r.close()

    def test_replies_decode_to_str_int_list_and_none(self):
        self.assertEqual(self.r.call("SET", "k", "wert ü"), "OK")
        self.assertEqual(self.r.call("GET", "k"), "wert ü")
        self.assertEqual(self.r.call("INCRBY", "n", 41), 41)
        self.assertIsNone(self.r.call("GET", "missing"))
        self.r.call("RPUSH", "l", "a", b"b", 3)
        self.assertEqual(self.r.call("LRANGE", "l", 0, -1), ["a", "b", "3"])
        self.assertEqual(self.r.call("GET", "empty-or-missing"), None)
        self.r.call("SET", "e", "")
        self.assertEqual(self.r.call("GET", "e"), "")

    def test_error_reply_raises_redis_error_with_server_message(self):
        with self.assertRaises(RedisError) as caught:
            self.r.call("NOSUCHCOMMAND")
        self.assertIn("unknown command", str(caught.exception))
        self.assertEqual(self.r.call("PING"), "PONG")  # the connection stays usable

    def test_pipeline_returns_errors_as_values(self):
        replies = self.r.pipeline([("SET", "a", "1"), ("INCR", "a"), ("HGET", "a", "f")])
        self.assertEqual(replies[:2], ["OK", 2])
        self.assertIsInstance(replies[2], RedisError)

    def test_large_values_round_trip(self):
        value = "x" * 300000
        self.r.call("SET", "big", value)
        self.assertEqual(self.r.call("GET", "big"), value)


class RedisServerTest(unittest.TestCase):
    def test_restart_with_aof_keeps_data_and_the_functions_library(self):
        with open(LIBRARY_PATH, encoding="utf-8") as f:
            source = f.read()
        with RedisServer(aof=True) as server:
            port = server.port
            with server.client() as r:
                r.call("FUNCTION", "LOAD", "REPLACE", source)
                r.call("SET", "kept", "yes")
            server.restart()
            self.assertEqual(server.port, port)
            with server.client() as r:
                self.assertEqual(r.call("GET", "kept"), "yes")
                self.assertEqual(r.call("FUNCTION", "LIST", "LIBRARYNAME", "presence")[0][1],
                                 "presence")
            data_dir = server.dir
        self.assertFalse(os.path.exists(data_dir), "stop() leaves its temp dir behind")

    def test_kill_then_restart_replays_the_aof(self):
        with RedisServer(aof=True) as server:
            with server.client() as r:
                r.call("CONFIG", "SET", "appendfsync", "always")
                r.call("SET", "k", "v")
            server.kill()
            self.assertFalse(server.running)
            server.start()
            with server.client() as r:
                self.assertEqual(r.call("GET", "k"), "v")

    def test_bad_argument_fails_start_with_the_log(self):
        server = RedisServer(extra_args=["--no-such-option", "1"])
        with self.assertRaises(RuntimeError) as caught:
            server.start(timeout=5)
        server.stop()
        self.assertIn("did not answer PING", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
