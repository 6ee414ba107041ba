"""A throwaway aftercare stack for integration tests and the demo.

    with Stack(partitions=4) as st:
        order = st.start_worker("order-worker")
        notify = st.start_worker("notify-worker", {"CLAIM_TTL": "3s"})
        st.produce("orders", lines)
        st.wait_until(lambda: st.sink_stats()["delivered"] >= 10, 60, "10 deliveries")

Stack starts devbroker (the in-memory Kafka cluster), redis-server and
ac-sink (the webhook receiver) in a temporary directory, and the workers on
request. Every process runs in its own process group with its stdout and
stderr in files of the temporary directory; all of them are stopped
(SIGTERM, then SIGKILL after a grace period) when the block ends, when it
raises, and on SIGINT/SIGTERM to this process. Children are also asked to
die with this process (PR_SET_PDEATHSIG) should it be killed outright. When
the block raises, the tail of every worker's log is printed and the
temporary directory is kept.

Binaries come from $AC_BIN_DIR, by default build/bin of the tree this file
is in. redis-server comes from $REDIS_SERVER or PATH, redis-cli (cluster
mode only) from $REDIS_CLI or PATH.

Cluster mode (issue 16): Stack(redis_cluster=True), or any Stack with
AC_TEST_REDIS_CLUSTER=1 in the environment, runs a Redis Cluster of three
masters and three replicas instead of the one redis-server, gives the
workers a seed list of the masters in REDIS_URL and REDIS_CLUSTER=on, and
routes redis_command by key slot. redis_command_all and redis_keys look at
every master; kill_master_of and restart_node stage a failover.
"""

import atexit
import base64
import ctypes
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from redisslot import CLUSTER_SLOTS, key_slot

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN_DIR = os.path.abspath(os.environ.get("AC_BIN_DIR") or os.path.join(REPO, "build", "bin"))

WORKERS = ("order-worker", "shipment-worker", "return-worker", "notify-worker")

# Variables the workers read; never inherited from the caller's environment,
# so a developer's shell settings cannot change what a test runs against.
WORKER_VARS = (
    "KAFKA_BROKERS", "KAFKA_GROUP", "KAFKA_TOPIC", "REDIS_URL", "HTTP_PORT", "LOG_LEVEL",
    "DEDUP_TTL", "NOTIFY_TOPIC", "MAX_EVENT_BYTES", "BATCH_SIZE", "WEBHOOK_URL",
    "WEBHOOK_SECRET", "HTTP_TIMEOUT", "CLAIM_TTL", "MAX_IN_FLIGHT", "BATCH_WAIT",
    "REVIEW_REQUEST_DELAY", "REFERRAL_DELAY", "SHIPPING_UPDATES", "STORE_SETTINGS",
    "JOURNEY_TTL", "SCHEDULER", "FIRE_INTERVAL", "FIRE_LEASE", "QUIET_HOURS", "MARKETING_CAP",
    "MARKETING_CAP_WINDOW", "SHUTDOWN_TIMEOUT", "STALL_TIMEOUT", "LOG_MASK", "MAX_ATTEMPTS",
    "RETRY_BASE", "RETRY_MAX", "WATERMARK_TOPICS", "WATERMARK_MAX_HOLD", "WATERMARK_INTERVAL",
    "RETRY_FOR", "RETRY_FOR_MARKETING", "RETRY_DEFER_AFTER", "RECHECK_AFTER", "CIRCUIT_RAMP",
    "FAILOVER_AFTER", "FAILOVER_COOLDOWN", "REDIS_CLUSTER",
)

STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL


class StackError(AssertionError):
    """Something in the stack did not come up or behave as expected."""


def binary(name):
    path = os.path.join(BIN_DIR, name)
    if not os.access(path, os.X_OK):
        raise StackError("%s not found in %s (build first: cmake --build build; or set "
                         "AC_BIN_DIR)" % (name, BIN_DIR))
    return path


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    """preexec_fn: own process group, and SIGKILL when this process dies."""
    os.setpgid(0, 0)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _tail(path, lines=40, max_bytes=64 * 1024):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except OSError:
        return ""
    text = data.decode("utf-8", "replace").splitlines()
    return "\n".join(text[-lines:])


def wait_until(predicate, timeout, what, interval=0.05, check=None):
    """Polls predicate() until it returns something true and returns that.

    Raises StackError naming `what` (and the last value seen) on timeout.
    check(), when given, runs on every round and may raise to give up early,
    e.g. when a process the wait depends on has died."""
    deadline = time.monotonic() + timeout
    last = None
    delay = min(interval, 0.01)
    while True:
        if check:
            check()
        try:
            last = predicate()
        except (OSError, ValueError, StackError) as e:
            last = "%s: %s" % (type(e).__name__, e)
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise StackError("timed out after %.0fs waiting for %s (last value: %.300s)"
                             % (timeout, what, last))
        time.sleep(delay)
        delay = min(interval * 4, delay * 2)


def run_worker(name, env=None, args=(), timeout=30):
    """Runs a worker to completion with exactly the given settings (nothing
    from the caller's worker variables leaks in); returns CompletedProcess
    with bytes stdout and stderr."""
    full = {k: v for k, v in os.environ.items()
            if k not in WORKER_VARS and not k.startswith("RDKAFKA_")}
    full.update(env or {})
    return subprocess.run([binary(name)] + list(args), env=full, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=timeout, preexec_fn=_die_with_parent)


class Metrics(dict):
    """Prometheus samples keyed by (name, ((label, value), ...)) sorted."""

    def value(self, name, **labels):
        """Sum of the samples of `name` whose labels include `labels`."""
        want = set(labels.items())
        return sum(v for (n, ls), v in self.items() if n == name and want <= set(ls))

    def by_label(self, name, label):
        """{label value: sum} over the samples of `name`."""
        out = {}
        for (n, ls), v in self.items():
            if n == name:
                key = dict(ls).get(label)
                out[key] = out.get(key, 0) + v
        return out


def parse_metrics(text):
    """Parses the Prometheus text exposition format into Metrics."""
    out = Metrics()
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "{" in line:
            name, rest = line.split("{", 1)
            body, rest = _split_labels(rest)
            labels = tuple(sorted(body.items()))
        else:
            name, rest = line.split(None, 1)
            labels = ()
        value = rest.split()[0]
        out[(name.strip(), labels)] = float(value)
    return out


def _split_labels(s):
    """'a="x",b="y\\"z"} 3' -> ({'a': 'x', 'b': 'y"z'}, ' 3')"""
    labels, i = {}, 0
    while True:
        while s[i] in " ,":
            i += 1
        if s[i] == "}":
            return labels, s[i + 1:]
        eq = s.index("=", i)
        key = s[i:eq].strip()
        assert s[eq + 1] == '"', s
        j, val = eq + 2, []
        while s[j] != '"':
            if s[j] == "\\":
                j += 1
                val.append({"n": "\n"}.get(s[j], s[j]))
            else:
                val.append(s[j])
            j += 1
        labels[key] = "".join(val)
        i = j + 1


def record_bytes(rec):
    """The value of a record from `ac-kafka consume` as bytes (None if null)."""
    if rec.get("value") is not None:
        return rec["value"].encode("utf-8")
    if rec.get("value_b64") is not None:
        return base64.b64decode(rec["value_b64"])
    return None


# ------------------------------------------------------------ redis cluster

class RedisReplyError(str):
    """An error reply (-ERR ...) as decode_reply gives it: a str, so that it
    prints, but not a simple string."""


def read_reply(f):
    """Reads one whole RESP2 reply from a binary file object; returns its
    raw bytes. Raises OSError when the connection ends first."""
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("connection closed in the middle of a reply")
    kind = line[:1]
    if kind in (b"+", b"-", b":"):
        return line
    n = int(line[1:-2])
    if kind == b"$":
        if n < 0:
            return line
        body = f.read(n + 2)
        if len(body) != n + 2:
            raise ConnectionError("connection closed in the middle of a reply")
        return line + body
    if kind == b"*":
        return line + b"".join(read_reply(f) for _ in range(max(n, 0)))
    raise ValueError("not a RESP reply: %r" % line[:80])


def decode_reply(raw):
    """A raw RESP2 reply as Python values: bytes for bulk strings, str for
    simple strings, RedisReplyError for errors, int, list, None."""

    def parse(i):
        end = raw.index(b"\r\n", i)
        kind, text = raw[i:i + 1], raw[i + 1:end]
        i = end + 2
        if kind == b"+":
            return text.decode(), i
        if kind == b"-":
            return RedisReplyError(text.decode(errors="replace")), i
        if kind == b":":
            return int(text), i
        n = int(text)
        if kind == b"$":
            return (None, i) if n < 0 else (raw[i:i + n], i + n + 2)
        if kind == b"*":
            if n < 0:
                return None, i
            out = []
            for _ in range(n):
                v, i = parse(i)
                out.append(v)
            return out, i
        raise ValueError("not a RESP reply: %r" % raw[:80])

    return parse(0)[0]


def encode_command(args):
    payload = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        payload += b"$%d\r\n%s\r\n" % (len(a), a)
    return payload


def redis_call(port, *args, host="127.0.0.1", asking=False, timeout=5):
    """One command to one Redis server (ASKING first when asking); the raw
    bytes of its whole reply."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        f = s.makefile("rb")
        if asking:
            s.sendall(encode_command(["ASKING"]))
            read_reply(f)
        s.sendall(encode_command(args))
        return read_reply(f)


# Commands without a key argument, which go to any master (redis_command)
# or to each (redis_command_all).
KEYLESS_COMMANDS = frozenset((
    "ACL", "BGREWRITEAOF", "BGSAVE", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "DBSIZE",
    "DEBUG", "ECHO", "FLUSHALL", "FLUSHDB", "FUNCTION", "INFO", "KEYS", "LASTSAVE", "LATENCY",
    "MEMORY", "PING", "RANDOMKEY", "ROLE", "SAVE", "SCAN", "SCRIPT", "SLOWLOG", "TIME",
    "WAIT",
))
# Commands whose keys follow a key count in args[2].
NUMKEYS_COMMANDS = frozenset(("EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL",
                              "FCALL_RO"))


def command_key(args):
    """The key a command is routed by (its first key), or None for a
    command without one. A guess for exotic commands is harmless: the
    server answers MOVED and redis_command follows it."""
    if not args:
        return None
    name = (args[0].decode() if isinstance(args[0], bytes) else str(args[0])).upper()
    if name in NUMKEYS_COMMANDS:
        if len(args) > 3 and int(args[2]) > 0:
            return args[3]
        return None
    if name in KEYLESS_COMMANDS or len(args) < 2:
        return None
    return args[1]


def redirect_of(raw):
    """(kind, slot, host, port) of a -MOVED or -ASK reply, else None."""
    if not raw.startswith((b"-MOVED ", b"-ASK ")):
        return None
    kind, slot, addr = raw[1:].strip().split(b" ")[:3]
    host, _, port = addr.decode().rpartition(":")
    return kind.decode(), int(slot), host or "127.0.0.1", int(port)


def cluster_port(taken=(), lo=20000, hi=45000):
    """A loopback port that is free, and whose cluster bus port (+10000) is
    free too, outside `taken`; random, so that concurrent stacks rarely
    reach for the same one."""
    rng = random.SystemRandom()
    for _ in range(500):
        p = rng.randrange(lo, hi)
        if p in taken or p + 10000 in taken:
            continue
        ok = True
        for q in (p, p + 10000):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind(("127.0.0.1", q))
                except OSError:
                    ok = False
                    break
        if ok:
            return p
    raise StackError("no free pair of loopback ports (port and port+10000) found")


class Container:
    """Runs a worker from a container image instead of AC_BIN_DIR (make
    test-image): `engine run` in the foreground, so that the Proc is the
    engine's client, which passes SIGTERM on to the worker (--sig-proxy,
    the default) and exits with its status.

    engine: the engine's argv (["podman", "--runtime", "runc"]); run_args:
    what every `run` needs on this host (network, ulimits) and what the
    deployment configures (user, read-only root, capabilities, mounts);
    entrypoint: the binary's path in the image; command: its arguments.
    The container gets the variables the stack set for the worker (those
    not in, or different from, the environment every process of the stack
    inherits), so it keeps the image's own PATH and the like.
    """

    def __init__(self, engine, image, run_args=(), entrypoint=None, command=()):
        self.engine = list(engine)
        self.image = image
        self.run_args = list(run_args)
        self.entrypoint = entrypoint
        self.command = list(command)

    def argv(self, cname, name, env, inherited):
        argv = self.engine + ["run", "--rm", "--name", cname] + self.run_args
        argv += ["--entrypoint", self.entrypoint or "/usr/local/bin/" + name]
        for k in sorted(env):
            if inherited.get(k) != env[k]:
                argv += ["-e", "%s=%s" % (k, env[k])]
        return argv + [self.image] + self.command

    def remove(self, cname):
        """Removes the container: a SIGKILL reaches only the engine's
        client, not the container it started. (--force kills it; podman
        would first wait out its stop timeout, docker has no such option.)"""
        extra = ["--time", "0"] if os.path.basename(self.engine[0]) == "podman" else []
        subprocess.run(self.engine + ["rm", "--force"] + extra + [cname],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)


class Proc:
    """A process started by the stack."""

    def __init__(self, stack, name, argv, env, replica_id=0, http_port=None, role="worker",
                 container=None):
        self.stack = stack
        self.name = name
        self.replica_id = replica_id
        self.argv = argv
        self.env = env
        self.http_port = http_port
        self.role = role
        self.container = container
        self.container_name = None
        self.label = name if not replica_id else "%s.%s" % (name, replica_id)
        self.stdout_path = os.path.join(stack.dir, self.label + ".stdout.log")
        self.stderr_path = os.path.join(stack.dir, self.label + ".stderr.log")
        self.popen = None
        self.starts = 0
        self.expected_exit = False  # set when the stack stops or kills it on purpose

    @property
    def pid(self):
        return self.popen.pid if self.popen else None

    def start(self):
        self.starts += 1
        self.expected_exit = False
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            marker = ("--- stack: start #%d of %s at %s ---\n"
                      % (self.starts, self.label, time.strftime("%H:%M:%S"))).encode()
            err.write(marker)
            err.flush()
            argv = self.argv
            if self.container:
                # Unique per stack and worker, as two stacks may run at
                # once; a restart first removes what a kill left behind.
                self.container_name = "ac-test-%s-%s" % (
                    os.path.basename(self.stack.dir).replace("_", "-").lower(), self.label)
                if self.starts > 1:
                    self.container.remove(self.container_name)
                argv = self.container.argv(self.container_name, self.name, self.env,
                                           self.stack._base_env())
            self.popen = subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=err, cwd=self.stack.dir,
                                          preexec_fn=_die_with_parent)
        return self

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def returncode(self):
        return self.popen.poll() if self.popen else None

    def signal(self, sig):
        if self.alive():
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass

    def wait(self, timeout):
        """Waits for exit; returns the exit status or None on timeout."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=STOP_GRACE):
        """SIGTERM, then SIGKILL after timeout. Returns the exit status."""
        if self.popen is None:
            return None
        self.expected_exit = True
        if self.alive():
            self.signal(signal.SIGTERM)
            if self.wait(timeout) is None:
                self.signal(signal.SIGKILL)
                self.popen.wait()
        # Anything the process left in its group goes too.
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.container:
            self.container.remove(self.container_name)
        return self.popen.returncode

    def stderr_tail(self, lines=40):
        return _tail(self.stderr_path, lines)

    def stdout_tail(self, lines=40):
        return _tail(self.stdout_path, lines)

    def __repr__(self):
        return "<%s pid=%s>" % (self.label, self.pid)


class Stack:
    """See the module documentation."""

    def __init__(self, partitions=4, topics=None, sink_args=(), sink_print=False,
                 redis=True, log_level="info", name="aftercare", redis_persistent=False,
                 redis_cluster=None):
        self.partitions = partitions
        self.topics = topics
        self.sink_args = list(sink_args)
        self.sink_print = sink_print
        self.want_redis = redis
        # Append-only file fsynced on every write: what a deployment that
        # must not lose scheduled messages across a Redis restart runs.
        self.redis_persistent = redis_persistent
        # A Redis Cluster instead of one server (module documentation);
        # None: as AC_TEST_REDIS_CLUSTER says, so that a suite written for
        # one server runs unchanged on a cluster. False keeps one server
        # whatever the environment says.
        if redis_cluster is None:
            redis_cluster = os.environ.get("AC_TEST_REDIS_CLUSTER", "") not in ("", "0")
        self.redis_cluster = bool(redis_cluster) and redis
        self.redis_nodes = []  # cluster mode: the Proc of every node
        self._slot_owner = None  # cluster mode: slot -> port, from CLUSTER SLOTS
        self.log_level = log_level
        self.name = name
        self.dir = None
        self.procs = []
        self.brokers = None
        self.redis_port = None
        self.redis_url = None
        self.sink_port = None
        self.sink_url = None
        self.broker = self.redis = self.sink = None
        self._old_handlers = {}
        self._closed = False
        self._lock = threading.Lock()
        self.sanitizer_reports = []

    # ------------------------------------------------------------------ life

    def __enter__(self):
        self._install_signal_handlers()
        atexit.register(self.close)
        try:
            self.start()
        except KeyboardInterrupt:
            self.close()
            raise
        except BaseException:
            self._report_failure()
            self.close(keep_dir=True)
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        failed = exc_type is not None and not issubclass(exc_type, (KeyboardInterrupt,))
        if failed:
            self._report_failure()
        self.close(keep_dir=failed or bool(os.environ.get("AC_KEEP_TMP")))
        if not failed and self.sanitizer_reports:
            # Under the Asan build a memory error or undefined behaviour in
            # any process fails the test, even if the output looked right.
            raise AssertionError("sanitizer reports in process logs:\n" +
                                 "\n".join(self.sanitizer_reports))
        return False

    _SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                          "runtime error:", "WARNING: ThreadSanitizer")

    def _find_sanitizer_reports(self):
        """Lines from any process log that a sanitizer wrote."""
        found = []
        if not self.dir or not os.path.isdir(self.dir):
            return found
        for name in sorted(os.listdir(self.dir)):
            path = os.path.join(self.dir, name)
            if not os.path.isfile(path):
                continue
            try:
                with open(path, "rb") as f:
                    data = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            for line in data.splitlines():
                if any(m in line for m in self._SANITIZER_MARKERS):
                    found.append("%s: %s" % (name, line.strip()[:300]))
        return found

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="%s-stack-" % self.name)
        self._start_broker()
        if self.redis_cluster:
            self._start_redis_cluster()
        elif self.want_redis:
            self._start_redis()
        self._start_sink()
        return self

    def close(self, keep_dir=False):
        """Stops every process (workers first) and removes the directory."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        # Workers first, while the broker and Redis are still there for
        # their final commit; then the infrastructure.
        for group in ([p for p in self.procs if p.role == "worker"],
                      [p for p in self.procs if p.role != "worker"]):
            for p in group:
                p.expected_exit = True
                p.signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE
            for p in group:
                if p.popen is not None and p.wait(max(0.1, deadline - time.monotonic())) is None:
                    sys.stderr.write("stack: %s ignored SIGTERM for %.0fs; killing it\n"
                                     % (p.label, STOP_GRACE))
                    p.signal(signal.SIGKILL)
            for p in group:
                if p.popen is not None:
                    p.stop(timeout=1)
        self._restore_signal_handlers()
        try:
            atexit.unregister(self.close)
        except Exception:
            pass
        self.sanitizer_reports = self._find_sanitizer_reports()
        if self.sanitizer_reports:
            keep_dir = True
        if self.dir and os.path.isdir(self.dir):
            if keep_dir:
                sys.stderr.write("stack: logs kept in %s\n" % self.dir)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)

    def _install_signal_handlers(self):
        if threading.current_thread() is not threading.main_thread():
            return

        def on_term(signum, frame):
            raise KeyboardInterrupt("signal %d" % signum)

        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._old_handlers[sig] = signal.signal(sig, on_term)

    def _restore_signal_handlers(self):
        for sig, h in self._old_handlers.items():
            try:
                signal.signal(sig, h)
            except (ValueError, TypeError):
                pass
        self._old_handlers = {}

    def _report_failure(self):
        sys.stderr.write("\n===== stack: logs of the failed run (%s) =====\n" % self.dir)
        for p in self.procs:
            state = "running" if p.alive() else "exit status %s" % p.returncode()
            lines = 30 if p.role == "worker" else 10
            sys.stderr.write("----- %s (%s, started %d time(s)) stderr tail -----\n%s\n"
                             % (p.label, state, p.starts, p.stderr_tail(lines)))
            if p.role == "redis":
                # redis-server logs to stdout: roles, failovers, syncs.
                sys.stderr.write("----- %s stdout (its log) tail -----\n%s\n"
                                 % (p.label, p.stdout_tail(25)))
        if self.redis_cluster:
            sys.stderr.write("----- CLUSTER NODES -----\n%s\n" % self._cluster_nodes_text())
        sys.stderr.write("===== end of logs =====\n")
        sys.stderr.flush()

    def _spawn(self, name, argv, env=None, replica_id=0, http_port=None, role="infra",
               container=None):
        p = Proc(self, name, argv, env if env is not None else self._base_env(), replica_id,
                 http_port, role, container)
        self.procs.append(p)
        return p.start()

    def _base_env(self):
        env = {k: v for k, v in os.environ.items()
               if k not in WORKER_VARS and not k.startswith("RDKAFKA_")}
        return env

    def check_alive(self):
        """Raises if a process died that nobody stopped on purpose."""
        for p in self.procs:
            if p.popen is not None and not p.expected_exit and not p.alive():
                raise StackError("%s exited unexpectedly with status %s; stderr tail:\n%s"
                                 % (p.label, p.returncode(), p.stderr_tail(20)))

    def wait_until(self, predicate, timeout, what, interval=0.05):
        """wait_until() that also gives up as soon as a process dies."""
        return wait_until(predicate, timeout, what, interval, check=self.check_alive)

    # ---------------------------------------------------------- infrastructure

    def _start_broker(self):
        bootstrap_file = os.path.join(self.dir, "bootstrap")
        argv = [binary("devbroker"), "--partitions", str(self.partitions),
                "--bootstrap-file", bootstrap_file]
        if self.topics:
            argv += ["--topics", ",".join(self.topics)]
        self.broker = self._spawn("devbroker", argv)

        def ready():
            if not self.broker.alive():
                raise StackError("devbroker exited with status %s: %s"
                                 % (self.broker.returncode(), self.broker.stderr_tail(10)))
            try:
                with open(bootstrap_file) as f:
                    text = f.read().strip()
            except FileNotFoundError:
                return None
            return text.split("=", 1)[-1] if text else None

        self.brokers = wait_until(ready, 30, "devbroker's bootstrap file")

    def _start_redis(self):
        exe = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
        if not exe:
            raise StackError("redis-server not found on PATH (apt-get install redis-server)")
        for attempt in range(5):
            port = free_port()
            rdir = os.path.join(self.dir, "redis")
            os.makedirs(rdir, exist_ok=True)
            aof = (["--appendonly", "yes", "--appendfsync", "always"]
                   if self.redis_persistent else ["--appendonly", "no"])
            proc = self._spawn("redis-server",
                               [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
                               + aof + ["--daemonize", "no", "--dir", rdir,
                                        "--loglevel", "warning"])
            try:
                wait_until(lambda: self._redis_ping(port, proc), 15, "redis-server PING")
            except StackError:
                if proc.alive():
                    raise
                self.procs.remove(proc)
                continue  # lost the port to someone else: try another
            self.redis, self.redis_port = proc, port
            self.redis_url = "redis://127.0.0.1:%d/0" % port
            return
        raise StackError("redis-server would not start: %s" % proc.stderr_tail(10))

    def restart_redis(self, sig=signal.SIGKILL, down_s=0.0):
        """Kills redis-server (SIGKILL: no chance to save anything beyond
        what its persistence already wrote), waits down_s seconds, and
        starts it again on the same port and directory.

        In cluster mode every node goes down and comes back (on its port,
        with its append-only file and nodes.conf, as the same master or
        replica); it returns once the cluster is whole again."""
        if self.redis_cluster:
            return self._restart_cluster(sig, down_s)
        self.redis.expected_exit = True
        self.redis.signal(sig)
        if self.redis.wait(STOP_GRACE) is None:
            raise StackError("redis-server did not exit after signal %d" % sig)
        time.sleep(down_s)
        self.redis.start()
        wait_until(lambda: self._redis_ping(self.redis_port, self.redis), 30,
                   "redis-server PING after restart")

    @staticmethod
    def _redis_ping(port, proc=None):
        if proc is not None and not proc.alive():
            raise StackError("redis-server exited: %s" % proc.stdout_tail(5))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def redis_command(self, *args):
        """Runs one Redis command over a raw socket; returns the raw reply.

        In cluster mode it goes to the master serving its key's slot,
        following MOVED and ASK, and waits out a failover in progress; a
        command without a key goes to one master (redis_command_all asks
        every one)."""
        if self.redis_cluster:
            return self._cluster_command(args)
        payload = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            payload += b"$%d\r\n%s\r\n" % (len(a), a)
        with socket.create_connection(("127.0.0.1", self.redis_port), timeout=5) as s:
            s.sendall(payload)
            return s.recv(1 << 16)

    def schedule_buckets(self):
        """The schedule's bucket count as Redis records it (64, the
        default, when no worker has used the schedule yet)."""
        reply = self.redis_command("GET", "ac:sched:buckets")
        if reply.startswith(b"$-1"):
            return 64
        return int(reply.split(b"\r\n")[1])

    def scheduled_pending(self):
        """How many messages wait in the schedule, summed over its buckets
        (common/schedule.h; docs/redis.md)."""
        total = 0
        for b in range(self.schedule_buckets()):
            reply = self.redis_command("ZCARD", "ac:sched:{b%d}" % b)
            total += int(reply.strip()[1:])
        return total

    def scheduled_due(self, message_id):
        """The score (due time in ms, or a firer's lease end) of message_id's
        entry in its bucket, or None when it is not scheduled. The member is
        "<id> <journey key>", so each bucket is scanned for the id."""
        for b in range(self.schedule_buckets()):
            cursor = b"0"
            while True:
                reply = self.redis_command("ZSCAN", "ac:sched:{b%d}" % b, cursor, "MATCH",
                                           "%s *" % message_id, "COUNT", 1000)
                lines = reply.split(b"\r\n")
                cursor = lines[2]
                for i, line in enumerate(lines):
                    if line.startswith(message_id.encode() + b" ") and i + 2 < len(lines):
                        return int(float(lines[i + 2]))
                if cursor == b"0":
                    break
        return None

    # ----------------------------------------------------------- redis cluster

    # Three shards, each a master and its replica: the smallest cluster in
    # which a master can fail over (its replica is elected by a majority
    # of the masters), which is what issue 16 must survive.
    CLUSTER_MASTERS = 3
    # How long a node may be silent before the others count it failed; a
    # failover takes about twice this. Short, so that failover tests are
    # quick; long enough not to flap on a loaded two-core machine.
    CLUSTER_NODE_TIMEOUT_MS = 1000

    def _node_argv(self, exe, port):
        ndir = os.path.join(self.dir, "redis", "node-%d" % port)
        os.makedirs(ndir, exist_ok=True)
        return [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                # Every acknowledged write is on disk: a node killed and
                # started again (restart_node, restart_redis) forgets nothing.
                "--appendonly", "yes", "--appendfsync", "always",
                "--cluster-enabled", "yes",
                "--cluster-config-file", os.path.join(ndir, "nodes-%d.conf" % port),
                "--cluster-node-timeout", str(self.CLUSTER_NODE_TIMEOUT_MS),
                # A replica's full sync starts at once instead of after the
                # default 5 s wait for other replicas to join it.
                "--repl-diskless-sync-delay", "0",
                # notice: the log shows roles, syncs and failovers, which a
                # failure report needs.
                "--daemonize", "no", "--dir", ndir, "--loglevel", "notice"]

    def _spawn_node(self, exe, taken):
        port = cluster_port(taken)
        taken.update((port, port + 10000))
        proc = self._spawn("redis-node", self._node_argv(exe, port), replica_id=port,
                           role="redis")
        proc.redis_port = port
        return proc

    def _start_redis_cluster(self):
        exe = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
        if not exe:
            raise StackError("redis-server not found on PATH (apt-get install redis-server)")
        cli = os.environ.get("REDIS_CLI") or shutil.which("redis-cli")
        if not cli:
            raise StackError("redis-cli not found on PATH (apt-get install redis-tools); "
                             "it joins the nodes into a cluster")
        t0 = time.monotonic()
        taken = set()
        nodes = [self._spawn_node(exe, taken) for _ in range(2 * self.CLUSTER_MASTERS)]
        for i in range(len(nodes)):
            for attempt in range(5):
                proc = nodes[i]
                try:
                    wait_until(lambda: self._redis_ping(proc.redis_port, proc), 15,
                               "%s PING" % proc.label)
                    break
                except StackError:
                    if proc.alive() or attempt == 4:
                        raise
                    # Lost a port to someone else between the check and the
                    # bind: another pair.
                    self.procs.remove(proc)
                    nodes[i] = self._spawn_node(exe, taken)
        self.redis_nodes = nodes
        argv = ([cli, "--cluster", "create"] + ["127.0.0.1:%d" % p.redis_port for p in nodes]
                + ["--cluster-replicas", "1", "--cluster-yes"])
        r = subprocess.run(argv, capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
                           preexec_fn=_die_with_parent)
        with open(os.path.join(self.dir, "redis-cluster-create.log"), "wb") as f:
            f.write(r.stdout + r.stderr)
        if r.returncode != 0:
            raise StackError("redis-cli --cluster create exited with %d: %s"
                             % (r.returncode, _tail(os.path.join(self.dir,
                                                                 "redis-cluster-create.log"), 15)))
        self._wait_cluster_settled(nodes, 30, "the new cluster to be ok with every replica "
                                   "in sync")
        masters = self.redis_masters()
        if len(masters) != self.CLUSTER_MASTERS:
            raise StackError("the cluster has %d masters, not %d" % (len(masters),
                                                                     self.CLUSTER_MASTERS))
        self.redis_port = masters[0]
        self.redis_url = "redis://%s/0" % ",".join("127.0.0.1:%d" % p for p in masters)
        self.cluster_start_s = time.monotonic() - t0

    def _require_cluster(self, what):
        if not self.redis_cluster:
            raise StackError("%s needs a Stack in cluster mode (redis_cluster=True or "
                             "AC_TEST_REDIS_CLUSTER=1)" % what)

    def _live_nodes(self):
        return [p for p in self.redis_nodes if p.alive()]

    def _node_of_port(self, port):
        for p in self.redis_nodes:
            if p.redis_port == port:
                return p
        raise StackError("no node of this stack listens on port %s" % port)

    @staticmethod
    def _slot_ranges(reply):
        """[(first slot, last slot, master port, [replica ports])] of a
        decoded CLUSTER SLOTS reply, by first slot."""
        return sorted((r[0], r[1], int(r[2][1]), [int(x[1]) for x in r[3:]]) for r in reply)

    def _refresh_slots(self):
        """Reads the slot map from the first live node that answers; returns
        its ranges (_slot_ranges)."""
        last = "no live node"
        for p in self._live_nodes():
            try:
                reply = decode_reply(redis_call(p.redis_port, "CLUSTER", "SLOTS", timeout=2))
            except (OSError, ValueError) as e:
                last = "%s: %s" % (p.label, e)
                continue
            if isinstance(reply, list) and reply:
                ranges = self._slot_ranges(reply)
                owner = [None] * CLUSTER_SLOTS
                for first, last_slot, port, _ in ranges:
                    owner[first:last_slot + 1] = [port] * (last_slot - first + 1)
                self._slot_owner = owner
                return ranges
            last = "%s: %r" % (p.label, reply)
        raise StackError("no node answered CLUSTER SLOTS (%s)" % last)

    def _port_for(self, key):
        if self._slot_owner is None:
            self._refresh_slots()
        port = self._slot_owner[key_slot(key) if key is not None else 0]
        if port is None:
            self._refresh_slots()
            port = self._slot_owner[key_slot(key) if key is not None else 0]
        if port is None:
            raise StackError("no master serves the slot of %r" % (key,))
        return port

    def _cluster_command(self, args, timeout=20.0):
        """redis_command in cluster mode (see there). While no master serves
        the slot (a failover in progress: connection refused, CLUSTERDOWN,
        TRYAGAIN, a node LOADING) it retries for up to timeout seconds, then
        returns the last error reply or raises StackError."""
        key = command_key(args)
        deadline = time.monotonic() + timeout
        target, asking, redirects, last = None, False, 0, None
        while True:
            raw = None
            try:
                if target is None:
                    target = ("127.0.0.1", self._port_for(key))
                raw = redis_call(target[1], *args, host=target[0], asking=asking)
            except (OSError, StackError) as e:
                last = "%s: %s" % (type(e).__name__, e)
            else:
                red = redirect_of(raw)
                if red and redirects < 16:
                    kind, slot, host, port = red
                    if kind == "MOVED" and self._slot_owner is not None:
                        self._slot_owner[slot] = port
                    target, asking, redirects = (host, port), kind == "ASK", redirects + 1
                    continue
                if not raw.startswith((b"-CLUSTERDOWN", b"-TRYAGAIN", b"-LOADING")):
                    return raw
                last = raw
            if time.monotonic() >= deadline:
                if raw is not None:
                    return raw
                raise StackError("redis_command %s: no master answered within %.0fs (last: %s)"
                                 % (" ".join(map(str, args))[:100], timeout, last))
            time.sleep(0.1)
            target, asking, redirects = None, False, 0
            try:
                self._refresh_slots()
            except StackError:
                pass

    def redis_masters(self):
        """The ports of the masters serving slots now, by their first slot
        (single mode: the one server's port)."""
        if not self.redis_cluster:
            return [self.redis_port]
        seen = []
        for _, _, port, _ in self._refresh_slots():
            if port not in seen:
                seen.append(port)
        return seen

    def redis_command_all(self, *args):
        """Runs one command on every master (single mode: on the one
        server); returns their raw replies, by first slot served: for KEYS,
        DBSIZE, INFO and the like, which see one node's data only."""
        return [redis_call(port, *args) for port in self.redis_masters()]

    def redis_keys(self, pattern="*"):
        """The names (str) of the keys matching pattern on every master,
        sorted."""
        keys = set()
        for raw in self.redis_command_all("KEYS", pattern):
            reply = decode_reply(raw)
            if not isinstance(reply, list):
                raise StackError("KEYS %s answered %r" % (pattern, reply))
            keys.update(k.decode("utf-8", "surrogateescape") for k in reply)
        return sorted(keys)

    def redis_node_of(self, key):
        """The Proc of the master serving key's slot now (cluster mode)."""
        self._require_cluster("redis_node_of")
        self._refresh_slots()
        return self._node_of_port(self._port_for(key))

    def redis_role(self, proc):
        """'master' or 'slave', as the node itself says (ROLE)."""
        reply = decode_reply(redis_call(proc.redis_port, "ROLE", timeout=2))
        return reply[0].decode() if isinstance(reply, list) else str(reply)

    def _cluster_nodes(self, port):
        """CLUSTER NODES as seen by the node on port: a list of dicts with
        id, port, flags (set), master (id or None)."""
        text = decode_reply(redis_call(port, "CLUSTER", "NODES", timeout=2)).decode()
        out = []
        for line in text.splitlines():
            f = line.split()
            if len(f) < 8:
                continue
            addr = f[1].split("@")[0]
            out.append({"id": f[0], "port": int(addr.rpartition(":")[2]),
                        "flags": set(f[2].split(",")), "master": None if f[3] == "-" else f[3]})
        return out

    def _cluster_nodes_text(self):
        """CLUSTER NODES of a live node, for failure reports; never raises."""
        last = "no node alive"
        for p in self._live_nodes():
            try:
                return decode_reply(redis_call(p.redis_port, "CLUSTER", "NODES",
                                               timeout=1)).decode().strip()
            except Exception as e:  # a report must not fail
                last = "%s: %s" % (p.label, e)
        return "(no live node answered: %s)" % last

    def _cluster_settled(self, procs):
        """True when each of procs says cluster_state:ok, each replica among
        them has its link to its master up and no sync in progress, and all
        of them agree on which master serves which slots; else a short
        reason (which wait_until shows on timeout)."""
        views = set()
        for p in procs:
            info = decode_reply(redis_call(p.redis_port, "CLUSTER", "INFO", timeout=2))
            if not isinstance(info, bytes) or b"cluster_state:ok" not in info:
                return False
            repl = decode_reply(redis_call(p.redis_port, "INFO", "replication", timeout=2))
            if b"role:slave" in repl and (b"master_link_status:up" not in repl
                                          or b"master_sync_in_progress:1" in repl):
                return False
            slots = decode_reply(redis_call(p.redis_port, "CLUSTER", "SLOTS", timeout=2))
            if not isinstance(slots, list):
                return False
            views.add(tuple((a, b, port) for a, b, port, _ in self._slot_ranges(slots)))
        if len(views) != 1:
            return False
        masters = {port for _, _, port in next(iter(views))}
        return masters <= {p.redis_port for p in procs}

    def _wait_cluster_settled(self, procs, timeout, what):
        wait_until(lambda: self._cluster_settled(procs), timeout, what, interval=0.05,
                   check=lambda: self._check_nodes(procs))
        self._refresh_slots()

    def _check_nodes(self, procs):
        """Raises if a node died that nobody killed on purpose."""
        for p in procs:
            if not p.expected_exit and not p.alive():
                raise StackError("%s exited with status %s; its log:\n%s"
                                 % (p.label, p.returncode(), p.stdout_tail(15)))

    def kill_master_of(self, key, timeout=30):
        """SIGKILLs the master serving key's slot, waits until its replica has
        taken over (every surviving node says cluster_state:ok and names the
        replica as the slot's master) and returns the killed node's Proc,
        for restart_node. The Proc's promoted_port is where the slot went,
        its failover_s how long that took."""
        self._require_cluster("kill_master_of")
        slot = key_slot(key)
        self._refresh_slots()
        port = self._slot_owner[slot]
        victim = self._node_of_port(port)
        view = self._cluster_nodes(port)
        me = [n for n in view if "myself" in n["flags"]][0]
        replicas = {n["port"] for n in view if n["master"] == me["id"]
                    and not n["flags"] & {"fail", "fail?"}}
        if not replicas:
            raise StackError("%s (master of slot %d) has no replica to take over"
                             % (victim.label, slot))
        t0 = time.monotonic()
        victim.expected_exit = True
        victim.signal(signal.SIGKILL)
        if victim.wait(STOP_GRACE) is None:
            raise StackError("%s did not die of SIGKILL" % victim.label)

        def promoted():
            live = self._live_nodes()
            if not self._cluster_settled(live):
                return False
            self._refresh_slots()
            owner = self._slot_owner[slot]
            return owner if owner in replicas else False

        victim.promoted_port = wait_until(
            promoted, timeout, "a replica (port %s) to take slot %d over from %s"
            % (sorted(replicas), slot, victim.label),
            check=lambda: self._check_nodes(self.redis_nodes))
        victim.failover_s = time.monotonic() - t0
        return victim

    def restart_node(self, proc, timeout=30):
        """Starts a node killed by kill_master_of again, on its port and with
        its files; returns once it is back in the cluster (as a replica of
        the master that took over) and the cluster is settled."""
        self._require_cluster("restart_node")
        if proc.alive():
            raise StackError("%s is still running" % proc.label)
        proc.start()
        wait_until(lambda: self._redis_ping(proc.redis_port, proc), 15,
                   "%s PING after restart" % proc.label)
        self._wait_cluster_settled(self._live_nodes(), timeout,
                                   "%s to rejoin the cluster" % proc.label)
        return proc

    def _restart_cluster(self, sig, down_s):
        nodes = self.redis_nodes
        for p in nodes:
            p.expected_exit = True
            p.signal(sig)
        for p in nodes:
            if p.popen is not None and p.wait(STOP_GRACE) is None:
                raise StackError("%s did not exit after signal %d" % (p.label, sig))
        time.sleep(down_s)
        for p in nodes:
            p.start()
        for p in nodes:
            wait_until(lambda: self._redis_ping(p.redis_port, p), 30,
                       "%s PING after restart" % p.label)
        self._wait_cluster_settled(nodes, 60, "the cluster after every node restarted")

    def _start_sink(self, port=0):
        port_file = os.path.join(self.dir, "sink.port")
        argv = [binary("ac-sink"), "--port", str(port), "--port-file", port_file,
                "--log", os.path.join(self.dir, "sink.requests.log")]
        if self.sink_print:
            argv.append("--print")
        argv += self.sink_args
        self.sink = self._spawn("ac-sink", argv)

        def ready():
            if not self.sink.alive():
                raise StackError("ac-sink exited with status %s: %s"
                                 % (self.sink.returncode(), self.sink.stderr_tail(10)))
            try:
                with open(port_file) as f:
                    text = f.read().strip()
            except FileNotFoundError:
                return None
            return int(text) if text.isdigit() else None

        self.sink_port = wait_until(ready, 15, "ac-sink's port file")
        self.sink_url = "http://127.0.0.1:%d/webhook" % self.sink_port

    # ------------------------------------------------------------------ workers

    def worker_env(self, name, overrides=None, http_port=None):
        env = self._base_env()
        env.update({
            "KAFKA_BROKERS": self.brokers,
            "LOG_LEVEL": self.log_level,
            "HTTP_PORT": str(http_port if http_port is not None else 0),
        })
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        if self.redis_cluster:
            # The seed list alone would do with the default (auto); "on"
            # makes a worker that finds no cluster there refuse to start.
            env["REDIS_CLUSTER"] = "on"
        if name == "notify-worker":
            env["WEBHOOK_URL"] = self.sink_url
            # Tests run at any hour with customers sharing names across
            # hundreds of orders: no quiet hours and no cap unless a test
            # asks for them.
            env["QUIET_HOURS"] = "off"
            env["MARKETING_CAP"] = "0"
        for k, v in (overrides or {}).items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = str(v)
        return env

    def start_worker(self, name, env_overrides=None, replica_id=0, wait=True, timeout=60,
                     container=None):
        """Starts a worker and (wait=True) waits until it is ready (/readyz).

        HTTP_PORT gets a free port unless env_overrides sets it; with
        HTTP_PORT=0 readiness is a short settle instead. With a Container
        the worker runs from its image, on the host's network. Returns its
        Proc."""
        overrides = dict(env_overrides or {})
        port = overrides.get("HTTP_PORT")
        if port is None:
            port = free_port()
            overrides["HTTP_PORT"] = port
        port = int(port)
        env = self.worker_env(name, overrides, port)
        argv = [name] if container else [binary(name)]
        proc = self._spawn(name, argv, env, replica_id, port or None, role="worker",
                           container=container)
        if wait:
            self.wait_ready(proc, timeout)
        return proc

    def start_gateway(self, stores, env_overrides=None, replica_id=0, wait=True, timeout=60):
        """Starts ingest-gateway with STORE_SETTINGS written from `stores`
        (the object under "stores") on a free INGEST_PORT; the Proc's
        ingest_port says where its webhooks go."""
        path = os.path.join(self.dir, "gateway-stores-%d.json" % replica_id)
        with open(path, "w") as f:
            json.dump({"stores": stores}, f)
        overrides = {"STORE_SETTINGS": path, "INGEST_PORT": free_port()}
        overrides.update(env_overrides or {})
        proc = self.start_worker("ingest-gateway", overrides, replica_id, wait, timeout)
        proc.ingest_port = int(overrides["INGEST_PORT"])
        return proc

    def wait_ready(self, proc, timeout=30):
        """Waits until the worker answers /readyz with 200 (Redis reachable,
        joined its consumer group); /healthz for a worker without /readyz."""
        paths = ["/readyz", "/healthz"]
        last = ["no answer"]

        def ready():
            if not proc.alive():
                raise StackError("%s exited with status %s during start-up:\n%s"
                                 % (proc.label, proc.returncode(), proc.stderr_tail(20)))
            if not proc.http_port:
                return True
            try:
                url = "http://127.0.0.1:%d%s" % (proc.http_port, paths[0])
                with urllib.request.urlopen(url, timeout=2) as r:
                    return r.status == 200
            except urllib.error.HTTPError as e:
                if e.code == 404 and len(paths) > 1:
                    paths.pop(0)
                last[0] = "%s %d %s" % (paths[0], e.code, e.read(200).decode(errors="replace"))
                return False
            except (urllib.error.URLError, OSError) as e:
                last[0] = str(e)
                return False

        try:
            wait_until(ready, timeout, "%s to report ready" % proc.label)
        except StackError as e:
            raise StackError("%s; last answer: %s" % (e, last[0].strip())) from None
        if not proc.http_port:
            # Nothing to poll: give it a moment and make sure it stays up.
            t = time.monotonic() + 1.0
            while time.monotonic() < t:
                if not proc.alive():
                    ready()
                time.sleep(0.05)
        return proc

    def kill(self, proc, sig=signal.SIGKILL, wait=True, timeout=STOP_GRACE):
        """Sends sig to a worker's process group; with wait, waits for exit
        (SIGKILL after timeout) and returns the exit status."""
        proc.expected_exit = True
        proc.signal(sig)
        if not wait:
            return None
        rc = proc.wait(timeout)
        if rc is None:
            proc.signal(signal.SIGKILL)
            rc = proc.popen.wait()
            raise StackError("%s did not exit within %.0fs of signal %d; killed it"
                             % (proc.label, timeout, sig))
        return rc

    def restart(self, proc, env_overrides=None, wait=True, timeout=60):
        """Starts the same worker again (after it exited or was killed)."""
        if proc.alive():
            self.kill(proc, signal.SIGTERM)
        for k, v in (env_overrides or {}).items():
            if v is None:
                proc.env.pop(k, None)
            else:
                proc.env[k] = str(v)
        proc.start()
        if wait:
            self.wait_ready(proc, timeout)
        return proc

    def run_worker(self, name, env=None, args=(), timeout=30):
        """run_worker() (module level): runs a worker to completion."""
        return run_worker(name, env, args, timeout)

    # ------------------------------------------------------------------- kafka

    def _kafka(self, args, input=None, timeout=120):
        r = subprocess.run([binary("ac-kafka")] + args, input=input, capture_output=True,
                           timeout=timeout, preexec_fn=_die_with_parent)
        if r.returncode != 0:
            raise StackError("ac-kafka %s failed with status %d: %s"
                             % (" ".join(args), r.returncode,
                                r.stderr.decode(errors="replace").strip()))
        return r.stdout.decode("utf-8")

    def produce(self, topic, lines, key_field="order.id"):
        """Produces one record per line (bytes, str or a dict, encoded as
        compact JSON). Returns the number produced; raises on any failure."""
        data = bytearray()
        n = 0
        for line in lines:
            if isinstance(line, dict):
                line = json.dumps(line, ensure_ascii=False, separators=(",", ":"))
            if isinstance(line, str):
                line = line.encode("utf-8")
            if b"\n" in line or not line:
                raise ValueError("a record cannot be empty or contain a newline: %r" % line[:80])
            data += line + b"\n"
            n += 1
        args = ["produce", "--brokers", self.brokers, "--topic", topic]
        if key_field:
            args += ["--key-field", key_field]
        out = self._kafka(args + ["--file", "-"], input=bytes(data))
        counts = dict(kv.split("=") for kv in out.split())
        if int(counts.get("produced", -1)) != n or int(counts.get("failed", 1)) != 0:
            raise StackError("producing %d records to %s: %s" % (n, topic, out.strip()))
        return n

    def consume(self, topic, timeout_ms=500):
        """Every record of a topic, from the beginning, as dicts."""
        out = self._kafka(["consume", "--brokers", self.brokers, "--topic", topic,
                           "--timeout-ms", str(timeout_ms)])
        return [json.loads(l) for l in out.splitlines() if l.strip()]

    def offsets(self, topic, group):
        return json.loads(self._kafka(["offsets", "--brokers", self.brokers, "--topic", topic,
                                       "--group", group]))

    def broker_signal(self, sig):
        """SIGUSR1 takes the brokers down, SIGUSR2 brings them back."""
        self.broker.signal(sig)

    # -------------------------------------------------------------------- http

    def _get(self, port, path, timeout=5):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
            return r.read()

    def sink_stats(self):
        return json.loads(self._get(self.sink_port, "/stats"))

    def sink_messages(self):
        return json.loads(self._get(self.sink_port, "/messages", timeout=30))

    def sink_faults(self):
        """The faults ac-sink injects right now: {"fail_rate", "fail_status",
        "delay_ms"}."""
        return json.loads(self._get(self.sink_port, "/faults"))

    def set_sink_faults(self, fail_rate=0.0, fail_status=503, delay_ms=0):
        """Changes the faults ac-sink injects, at once and without a restart:
        unlike restart_sink, its counters and idempotency keys carry on, so a
        test can stage a provider outage (set_sink_faults(1.0, 503)) and its
        end (set_sink_faults()) and still see every duplicate. Returns the
        settings now in force; raises StackError if the sink refused them."""
        body = json.dumps({"fail_rate": float(fail_rate), "fail_status": int(fail_status),
                           "delay_ms": int(delay_ms)}).encode()
        req = urllib.request.Request("http://127.0.0.1:%d/faults" % self.sink_port, data=body,
                                     headers={"Content-Type": "application/json"},
                                     method="POST")
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise StackError("ac-sink refused faults %s: %d %s"
                             % (body.decode(), e.code, e.read(300).decode(errors="replace")))

    def metrics(self, worker):
        """The worker's /metrics parsed into Metrics."""
        if not worker.http_port:
            raise StackError("%s has no HTTP_PORT" % worker.label)
        return parse_metrics(self._get(worker.http_port, "/metrics").decode("utf-8"))

    # ---------------------------------------------------------------- helpers

    def restart_sink(self, args):
        """Replaces ac-sink by a new one on the same port, started with
        args instead of the current sink_args: the provider changes its
        behaviour mid-stream. The old sink gets SIGTERM (SIGKILL after the
        grace period); the new one's counters and idempotency keys start
        from nothing, while the request log (sink.requests.log) goes on
        across both. Returns the old sink's Proc."""
        old, port = self.sink, self.sink_port
        old.stop()
        try:
            os.unlink(os.path.join(self.dir, "sink.port"))
        except FileNotFoundError:
            pass
        self.sink_args = list(args)
        self._start_sink(port)
        return old

    def sink_log(self):
        """Every POST any ac-sink of this stack accepted (first deliveries
        and replays), in order, as dicts: one line of sink.requests.log.
        A line still being written (no newline yet) is left out."""
        try:
            with open(os.path.join(self.dir, "sink.requests.log"), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return []
        lines = data.split(b"\n")[:-1]
        return [json.loads(l.decode("utf-8")) for l in lines if l.strip()]


class PacedProducer(threading.Thread):
    """Feeds lines to a topic of a Stack in small paced chunks, up to a quota
    the test raises phase by phase (allow), so that records are flowing
    while the test kills or breaks things.

    Each chunk of at most `chunk` lines is one Stack.produce call, followed
    by `pace` seconds of sleep. With retry_for=None a chunk that fails ends
    the thread; otherwise a chunk that ac-kafka could not produce (the
    brokers were down for longer than it waits) is produced again every
    half second for up to retry_for seconds: records that did get through
    the first time are then in the topic twice, which the event id makes
    harmless, as with any platform that re-sends after an error.

    `produced` counts the lines out, `retries` the chunks produced again;
    an exception that ends the thread is kept in `error` for the test to
    raise (finish does)."""

    def __init__(self, stack, lines, topic="orders", chunk=10, pace=0.05, retry_for=None):
        super().__init__(name="producer", daemon=True)
        self.stack, self.lines, self.topic = stack, lines, topic
        self.chunk, self.pace, self.retry_for = chunk, pace, retry_for
        self.produced = 0
        self.quota = 0
        self.retries = 0
        self.error = None
        self.cond = threading.Condition()

    def allow(self, n):
        """Lets the first n lines (at most all of them) be produced."""
        with self.cond:
            self.quota = max(self.quota, min(n, len(self.lines)))
            self.cond.notify()

    def allow_all(self):
        self.allow(len(self.lines))

    def run(self):
        try:
            while self.produced < len(self.lines):
                with self.cond:
                    while self.quota <= self.produced:
                        self.cond.wait(1)
                    n = min(self.chunk, self.quota - self.produced)
                self._produce(self.lines[self.produced:self.produced + n])
                self.produced += n
                time.sleep(self.pace)
        except BaseException as e:  # reported by the test
            self.error = e

    def _produce(self, chunk):
        if self.retry_for is None:
            self.stack.produce(self.topic, chunk)
            return
        give_up = time.monotonic() + self.retry_for
        while True:
            try:
                self.stack.produce(self.topic, chunk)
                return
            except StackError:
                if time.monotonic() > give_up:
                    raise
                self.retries += 1
                time.sleep(0.5)

    def finish(self, timeout=300):
        """Allows every line, waits for the thread to produce them all and
        raises what stopped it, if anything did."""
        self.allow_all()
        self.join(timeout)
        if self.is_alive():
            raise AssertionError("the producer did not finish within %ds (%d of %d records)"
                                 % (timeout, self.produced, len(self.lines)))
        if self.error:
            raise self.error
