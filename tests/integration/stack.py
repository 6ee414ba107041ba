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
is in. redis-server comes from $REDIS_SERVER or PATH.
"""

import atexit
import base64
import ctypes
import json
import os
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
    "FAILOVER_AFTER", "FAILOVER_COOLDOWN",
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


class Proc:
    """A process started by the stack."""

    def __init__(self, stack, name, argv, env, replica_id=0, http_port=None, role="worker"):
        self.stack = stack
        self.name = name
        self.replica_id = replica_id
        self.argv = argv
        self.env = env
        self.http_port = http_port
        self.role = role
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
            self.popen = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL,
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
                 redis=True, log_level="info", name="aftercare", redis_persistent=False):
        self.partitions = partitions
        self.topics = topics
        self.sink_args = list(sink_args)
        self.sink_print = sink_print
        self.want_redis = redis
        # Append-only file fsynced on every write: what a deployment that
        # must not lose scheduled messages across a Redis restart runs.
        self.redis_persistent = redis_persistent
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
        if self.want_redis:
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
        sys.stderr.write("===== end of logs =====\n")
        sys.stderr.flush()

    def _spawn(self, name, argv, env=None, replica_id=0, http_port=None, role="infra"):
        p = Proc(self, name, argv, env if env is not None else self._base_env(), replica_id,
                 http_port, role)
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
        starts it again on the same port and directory."""
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
        """Runs one Redis command over a raw socket; returns the raw reply."""
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

    def start_worker(self, name, env_overrides=None, replica_id=0, wait=True, timeout=60):
        """Starts a worker and (wait=True) waits until it is ready (/readyz).

        HTTP_PORT gets a free port unless env_overrides sets it; with
        HTTP_PORT=0 readiness is a short settle instead. Returns its Proc."""
        overrides = dict(env_overrides or {})
        port = overrides.get("HTTP_PORT")
        if port is None:
            port = free_port()
            overrides["HTTP_PORT"] = port
        port = int(port)
        env = self.worker_env(name, overrides, port)
        proc = self._spawn(name, [binary(name)], env, replica_id, port or None, role="worker")
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
