"""stack.py's Redis Cluster mode (issue 16), which the cluster suites
(test_cluster.py) and AC_TEST_REDIS_CLUSTER=1 runs of the other suites
stand on.

- The pure pieces: CRC16/XMODEM and key slots with hash tags (Redis's own
  examples; redisslot.py, which stack.py routes by), the RESP reader and
  decoder, MOVED/ASK parsing and which argument a command is routed by.
- Live: a cluster of three masters and three replicas starts, every key
  slot agrees with the server's CLUSTER KEYSLOT, keys written through
  redis_command land on the master serving their slot and are found by
  redis_keys and redis_command_all; ASK and MOVED are followed across a
  slot migration; kill_master_of promotes the replica with the data intact,
  restart_node brings the old master back as a replica, and restart_redis
  restarts every node without losing a key. And the same helpers on one
  Redis (single mode).

    AC_BIN_DIR=../../build/bin python3 -m unittest -v test_stack_cluster
"""

import io
import os
import time
import unittest

import stack
from redisslot import crc16, key_slot
from stack import Stack, command_key, decode_reply, read_reply, redirect_of


class KeySlotTest(unittest.TestCase):
    def test_crc16_xmodem(self):
        # The check value of CRC16/XMODEM, and Redis's cluster spec example.
        self.assertEqual(crc16(b"123456789"), 0x31C3)
        self.assertEqual(crc16(b""), 0)

    def test_known_slots(self):
        self.assertEqual(key_slot("foo"), 12182)
        self.assertEqual(key_slot("123456789"), 12739)
        self.assertEqual(key_slot(b"foo"), 12182, "bytes and str alike")
        self.assertEqual(key_slot("bar"), 5061)

    def test_hash_tags(self):
        self.assertEqual(key_slot("{user1000}.following"), key_slot("{user1000}.followers"))
        self.assertEqual(key_slot("{user1000}.following"), key_slot("user1000"))
        # Only the first "{" and the first "}" after it count.
        self.assertEqual(key_slot("foo{bar}{zap}"), key_slot("bar"))
        self.assertEqual(key_slot("foo{{bar}}zap"), key_slot("{bar"))
        # An empty tag, or none closed, hashes the whole key.
        self.assertEqual(key_slot("foo{}{bar}"), crc16(b"foo{}{bar}") % 16384)
        self.assertNotEqual(key_slot("foo{}{bar}"), key_slot("bar"))
        self.assertEqual(key_slot("{}foo"), crc16(b"{}foo") % 16384)
        self.assertEqual(key_slot("foo{bar"), crc16(b"foo{bar") % 16384)
        # aftercare's keys that share an order's tag share its slot.
        self.assertEqual(key_slot("ac:j:{st_1:o-9}"), key_slot("ac:m:{st_1:o-9}"))


class ModeTest(unittest.TestCase):
    def test_environment_switches_cluster_mode(self):
        saved = os.environ.get("AC_TEST_REDIS_CLUSTER")
        self.addCleanup(lambda: os.environ.pop("AC_TEST_REDIS_CLUSTER", None) if saved is None
                        else os.environ.__setitem__("AC_TEST_REDIS_CLUSTER", saved))
        os.environ["AC_TEST_REDIS_CLUSTER"] = "1"
        self.assertTrue(Stack().redis_cluster, "an unchanged suite runs on a cluster")
        self.assertFalse(Stack(redis_cluster=False).redis_cluster, "explicitly one server")
        self.assertFalse(Stack(redis=False).redis_cluster, "no Redis at all")
        os.environ["AC_TEST_REDIS_CLUSTER"] = "0"
        self.assertFalse(Stack().redis_cluster)
        del os.environ["AC_TEST_REDIS_CLUSTER"]
        self.assertFalse(Stack().redis_cluster)
        self.assertTrue(Stack(redis_cluster=True).redis_cluster)
        self.assertIn("REDIS_CLUSTER", stack.WORKER_VARS, "never inherited from the caller")


class RespTest(unittest.TestCase):
    def test_read_reply_reads_exactly_one_whole_reply(self):
        raw = (b"*3\r\n$3\r\nfoo\r\n*2\r\n:1\r\n$-1\r\n+OK\r\n"  # one reply
               b"-ERR next\r\n")
        f = io.BytesIO(raw)
        first = read_reply(f)
        self.assertEqual(first, raw[:-len(b"-ERR next\r\n")])
        self.assertEqual(read_reply(f), b"-ERR next\r\n")
        with self.assertRaises(ConnectionError):
            read_reply(io.BytesIO(b"$5\r\nab"))
        with self.assertRaises(ConnectionError):
            read_reply(io.BytesIO(b""))

    def test_decode_reply(self):
        self.assertEqual(decode_reply(b"*3\r\n$3\r\nfoo\r\n*2\r\n:1\r\n$-1\r\n+OK\r\n"),
                         [b"foo", [1, None], "OK"])
        err = decode_reply(b"-MOVED 3999 127.0.0.1:6381\r\n")
        self.assertIsInstance(err, stack.RedisReplyError)
        self.assertEqual(err, "MOVED 3999 127.0.0.1:6381")
        self.assertEqual(decode_reply(b"$0\r\n\r\n"), b"")
        self.assertEqual(decode_reply(b"*0\r\n"), [])
        self.assertEqual(decode_reply(b"$4\r\na\r\nb\r\n"), b"a\r\nb", "binary-safe bulk")

    def test_redirects(self):
        self.assertEqual(redirect_of(b"-MOVED 3999 127.0.0.1:6381\r\n"),
                         ("MOVED", 3999, "127.0.0.1", 6381))
        self.assertEqual(redirect_of(b"-ASK 12182 redis-2.svc:7000\r\n"),
                         ("ASK", 12182, "redis-2.svc", 7000))
        self.assertIsNone(redirect_of(b"-ERR MOVED somewhere\r\n"))
        self.assertIsNone(redirect_of(b"+OK\r\n"))

    def test_command_key(self):
        self.assertEqual(command_key(("GET", "k")), "k")
        self.assertEqual(command_key(("zcard", "ac:sched")), "ac:sched")
        self.assertEqual(command_key(("EVAL", "return 1", 2, "a", "b")), "a")
        self.assertIsNone(command_key(("EVAL", "return 1", "0", "x")))
        self.assertIsNone(command_key(("KEYS", "ac:*")))
        self.assertIsNone(command_key(("DBSIZE",)))
        self.assertIsNone(command_key(("cluster", "keyslot", "foo")))


def value_of(raw):
    return decode_reply(raw)


class LiveClusterTest(unittest.TestCase):
    maxDiff = None

    def test_cluster_routing_failover_and_restart(self):
        t0 = time.monotonic()
        with Stack(partitions=1, redis_cluster=True, name="aftercare-stack-cluster") as st:
            started = time.monotonic() - t0
            print("\ncluster started in %.2fs (the whole stack in %.2fs)"
                  % (st.cluster_start_s, started))
            # Three masters, three replicas, each replica following a master.
            masters = st.redis_masters()
            self.assertEqual(len(masters), 3)
            self.assertEqual(len(st.redis_nodes), 6)
            roles = {p.redis_port: st.redis_role(p) for p in st.redis_nodes}
            self.assertEqual(sorted(roles.values()), ["master"] * 3 + ["slave"] * 3)
            self.assertEqual({p for p, r in roles.items() if r == "master"}, set(masters))
            self.assertEqual(st.redis_url, "redis://%s/0" % ",".join(
                "127.0.0.1:%d" % p for p in masters))
            env = st.worker_env("order-worker")
            self.assertEqual(env["REDIS_CLUSTER"], "on")
            self.assertEqual(env["REDIS_URL"], st.redis_url)

            # The Python slot is the server's, hash tags included.
            keys = ["k%d" % i for i in range(60)] + ["ac:j:{st_%d:o-%d}" % (i, i * 7)
                                                     for i in range(30)]
            keys += ["foo", "{user1000}.following", "foo{}{bar}", "{}x", "a{b"]
            for k in keys:
                self.assertEqual(st.redis_command("CLUSTER", "KEYSLOT", k),
                                 b":%d\r\n" % key_slot(k), k)

            # Written through redis_command: on the master of the slot, read
            # back, and seen by redis_keys and redis_command_all.
            for k in keys:
                self.assertEqual(st.redis_command("SET", k, "v-" + k), b"+OK\r\n")
            for k in keys:
                self.assertEqual(value_of(st.redis_command("GET", k)), ("v-" + k).encode())
            self.assertEqual(st.redis_keys(), sorted(keys))
            self.assertEqual(st.redis_keys("ac:j:*"), sorted(k for k in keys
                                                              if k.startswith("ac:j:")))
            sizes = [value_of(r) for r in st.redis_command_all("DBSIZE")]
            self.assertEqual(sum(sizes), len(keys))
            self.assertTrue(all(s > 0 for s in sizes), "keys spread over every master: %s"
                            % sizes)
            for port, raw in zip(masters, st.redis_command_all("KEYS", "*")):
                for k in value_of(raw):
                    self.assertEqual(st._port_for(k), port, "%s on the master of its slot" % k)
            # EVAL routes by its first key; keys of one tag work together.
            self.assertEqual(st.redis_command("EVAL", "return redis.call('GET', KEYS[1])", 1,
                                              "foo"), b"$5\r\nv-foo\r\n")
            self.assertEqual(st.redis_command("MSET", "{o-1}a", "1", "{o-1}b", "2"), b"+OK\r\n")
            keys += ["{o-1}a", "{o-1}b"]

            # ASK and MOVED: a slot migrating from its master to another.
            key = "ask-me"
            slot = key_slot(key)
            src = st._port_for(key)
            dst = [p for p in masters if p != src][0]
            src_id = value_of(stack.redis_call(src, "CLUSTER", "MYID")).decode()
            dst_id = value_of(stack.redis_call(dst, "CLUSTER", "MYID")).decode()
            self.assertEqual(stack.redis_call(dst, "CLUSTER", "SETSLOT", slot, "IMPORTING",
                                              src_id), b"+OK\r\n")
            self.assertEqual(stack.redis_call(src, "CLUSTER", "SETSLOT", slot, "MIGRATING",
                                              dst_id), b"+OK\r\n")
            self.assertTrue(stack.redis_call(src, "SET", key, "x").startswith(b"-ASK "),
                            "the source sends a missing key of a migrating slot on")
            self.assertEqual(st.redis_command("SET", key, "asked"), b"+OK\r\n")
            self.assertEqual(stack.redis_call(dst, "EXISTS", key, asking=True), b":1\r\n",
                             "written on the importing master")
            self.assertEqual(value_of(st.redis_command("GET", key)), b"asked")
            for port in masters:
                self.assertEqual(stack.redis_call(port, "CLUSTER", "SETSLOT", slot, "NODE",
                                                  dst_id), b"+OK\r\n")
            self.assertEqual(st._slot_owner[slot], src, "the stack's map is stale now")
            self.assertEqual(value_of(st.redis_command("GET", key)), b"asked")
            self.assertEqual(st._slot_owner[slot], dst, "MOVED corrected the map")
            keys.append(key)
            st._wait_cluster_settled(st.redis_nodes, 30, "the cluster after the migration")

            # Failover: the master of "foo" dies, its replica takes over with
            # every key (WAIT: each write reached the replica first).
            owner = st.redis_node_of("foo")
            self.assertEqual(value_of(stack.redis_call(owner.redis_port, "WAIT", 1, 5000)), 1)
            victim = st.kill_master_of("foo")
            self.assertIs(victim, owner)
            self.assertFalse(victim.alive())
            self.assertNotEqual(victim.promoted_port, owner.redis_port)
            self.assertEqual(st.redis_node_of("foo").redis_port, victim.promoted_port)
            self.assertEqual(st.redis_role(st.redis_node_of("foo")), "master")
            print("failover of %s to port %d in %.2fs" % (victim.label, victim.promoted_port,
                                                          victim.failover_s))
            self.assertEqual(value_of(st.redis_command("GET", "foo")), b"v-foo")
            self.assertEqual(st.redis_keys(), sorted(keys))
            self.assertEqual(len(st.redis_masters()), 3)
            self.assertEqual(st.redis_command("SET", "foo", "after"), b"+OK\r\n")

            # The old master comes back as a replica of the new one.
            self.assertIs(st.restart_node(victim), victim)
            self.assertTrue(victim.alive())
            self.assertEqual(st.redis_role(victim), "slave")
            view = st._cluster_nodes(victim.redis_port)
            me = [n for n in view if "myself" in n["flags"]][0]
            new_master = [n for n in view if n["port"] == victim.promoted_port][0]
            self.assertEqual(me["master"], new_master["id"])
            self.assertEqual(value_of(st.redis_command("GET", "foo")), b"after")

            # Every node down and up again: nothing lost (appendfsync always).
            st.restart_redis()
            self.assertEqual(st.redis_keys(), sorted(keys))
            self.assertEqual(value_of(st.redis_command("GET", "foo")), b"after")
            self.assertEqual(sorted(st.redis_role(p) for p in st.redis_nodes),
                             ["master"] * 3 + ["slave"] * 3)
            st.check_alive()

    def test_single_mode_helpers(self):
        with Stack(partitions=1, redis_cluster=False, name="aftercare-stack-single") as st:
            self.assertFalse(st.redis_cluster)
            self.assertEqual(st.redis_nodes, [])
            self.assertNotIn("REDIS_CLUSTER", st.worker_env("order-worker"))
            for k in ("a", "b:1", "b:2"):
                self.assertEqual(st.redis_command("SET", k, "1"), b"+OK\r\n")
            self.assertEqual(st.redis_keys(), ["a", "b:1", "b:2"])
            self.assertEqual(st.redis_keys("b:*"), ["b:1", "b:2"])
            self.assertEqual(st.redis_command_all("DBSIZE"), [b":3\r\n"])
            self.assertEqual(st.redis_masters(), [st.redis_port])
            with self.assertRaises(stack.StackError):
                st.kill_master_of("a")


if __name__ == "__main__":
    unittest.main()
