"""docker/Dockerfile and docker/docker-compose.yml, checked without Docker.

No container engine is needed: the static tests read both files (and the
workers' --help) and check that they fit together; the live tests run the
real binaries with the compose file's settings:

  * the mock provider's command line (ac-sink --host 0.0.0.0 ...) listens on
    every interface and answers /healthz, also to the image's HEALTHCHECK;
  * the compose file's redis-server arguments are accepted and take effect;
  * every worker and the ingest gateway, started with the compose file's
    environment (only the addresses of Kafka, Redis and the webhook replaced
    by those of the stack of tests/integration/stack.py, the gateway's
    INGEST_PORT by a free port and the files the containers read, such as
    STORE_SETTINGS, by the repository files they are mounted from), becomes
    ready; an order event produced to Kafka, and one posted to the gateway
    signed with a store's secret from the mounted settings, each arrive at
    the mock provider as a correctly signed order confirmation; SIGTERM then
    stops every one within stop_grace_period.

The ingest gateway has no input topic: it receives the platforms' webhooks
on INGEST_PORT, which the compose file publishes besides HTTP_PORT, and
produces to the topics the event workers read.

Profiles: by default the configuration checked is what `docker compose up`
starts (the services without a profile); with AC_COMPOSE_PROFILE=cluster,
what `docker compose --profile cluster up <the cluster services>` starts:
the profile's services and what they depend on (ctest docker_compose and
docker_compose_cluster). The cluster profile's Redis nodes are started here
with their compose arguments and joined by its one-shot service's own
script, and its workers run against a Redis Cluster (stack.py).

Run from this directory:

    AC_BIN_DIR=../../build/bin python3 -m unittest -v test_docker
    AC_COMPOSE_PROFILE=cluster AC_BIN_DIR=../../build/bin python3 -m unittest -v test_docker
"""

import collections
import functools
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
COMPOSE_PATH = os.path.join(REPO, "docker", "docker-compose.yml")
DOCKERFILE_PATH = os.path.join(REPO, "docker", "Dockerfile")

sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import gen_events  # noqa: E402
import platforms  # noqa: E402
import stack  # noqa: E402
from stack import Stack, binary, free_port, wait_until  # noqa: E402

# Settings whose values are addresses of the stack's infrastructure: the
# live test replaces them with the addresses of its own processes.
ADDRESS_SETTINGS = ("KAFKA_BROKERS", "REDIS_URL", "WEBHOOK_URL", "HTTP_PORT")
# What a worker falls back to when it has no SHUTDOWN_TIMEOUT setting yet.
DEFAULT_SHUTDOWN_TIMEOUT = "20s"
KAFKA_TOPICS_SH = "/opt/kafka/bin/kafka-topics.sh"
# The configuration checked (module documentation), and the profiles the
# compose file may use.
PROFILE = os.environ.get("AC_COMPOSE_PROFILE", "")
KNOWN_PROFILES = {"cluster"}


# ---------------------------------------------------------------- helpers


def parse_duration(text):
    """'30s', '1m30s', '200ms', '7d' -> seconds (float)."""
    units = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}
    text = str(text).strip()
    parts = re.findall(r"(\d+(?:\.\d+)?)(us|ms|s|m|h|d)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError("not a duration: %r" % text)
    return sum(float(n) * units[u] for n, u in parts)


_VAR = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|"
                  r"([A-Za-z_][A-Za-z0-9_]*)|(.|$))")


def interpolate(value, env, where="", missing=None):
    """Docker compose's variable interpolation of every string in value,
    with env as the environment; names used without a default are added to
    missing."""
    if isinstance(value, dict):
        return {k: interpolate(v, env, "%s.%s" % (where, k), missing) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, "%s[%d]" % (where, i), missing) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def sub(m):
        dollar, name, op, default, bare, bad = m.groups()
        if dollar:
            return "$"
        if bad is not None:
            raise ValueError("%s: invalid interpolation in %r" % (where, value))
        name = name or bare
        val = env.get(name)
        if op in (":-", "-") and (val is None or (op == ":-" and val == "")):
            return default
        if val is None:
            if missing is not None:
                missing.append("%s: ${%s}" % (where, name))
            return ""
        return val

    return _VAR.sub(sub, value)


def as_argv(value):
    """A compose entrypoint/command (list or shell-style string) as a list."""
    if value is None:
        return None
    if isinstance(value, str):
        return shlex.split(value)
    return [str(v) for v in value]


def env_map(service):
    """A service's environment as a dict (compose allows a map or a list)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        out = {}
        for item in env:
            k, sep, v = str(item).partition("=")
            out[k] = v if sep else None
        return out
    return {k: (None if v is None else (str(v).lower() if isinstance(v, bool) else str(v)))
            for k, v in env.items()}


def option_value(argv, name):
    """The value of --name in an argv (--name V or --name=V), or None."""
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def without_options(argv, names):
    """argv without the given options that take a value."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in names:
            skip = True
            continue
        if any(a.startswith(n + "=") for n in names):
            continue
        out.append(a)
    return out


def split_hostport(text):
    host, _, port = text.strip().rpartition(":")
    return host.strip("[]"), int(port)


def parse_listeners(text):
    """'PLAINTEXT://kafka:9092,HOST://:29092' -> [(name, host, port)]."""
    out = []
    for item in str(text).split(","):
        name, _, addr = item.strip().partition("://")
        host, port = split_hostport(addr)
        out.append((name, host, port))
    return out


def parse_port_mapping(item):
    """A compose ports entry -> (host ip or '', host port, container port)."""
    if isinstance(item, dict):
        return str(item.get("host_ip", "")), str(item.get("published", "")), \
            int(item["target"])
    parts = str(item).split("/")[0].split(":")
    if len(parts) == 1:
        return "", "", int(parts[0])
    if len(parts) == 2:
        return "", parts[0], int(parts[1])
    return ":".join(parts[:-2]), parts[-2], int(parts[-1])


def bind_mounts(service):
    """[(host path, container path, read_only)] of a service's bind mounts,
    host paths resolved against the compose file's directory as compose
    does; named volumes are left out."""
    out = []
    for v in service.get("volumes") or []:
        if isinstance(v, dict):
            if v.get("type") != "bind":
                continue
            source, target, ro = v.get("source", ""), v.get("target", ""), \
                bool(v.get("read_only"))
        else:
            parts = str(v).split(":")
            if len(parts) < 2 or not parts[0].startswith((".", "/", "~")):
                continue
            source, target = parts[0], parts[1]
            ro = len(parts) > 2 and "ro" in parts[2].split(",")
        source = os.path.expanduser(source)
        if not os.path.isabs(source):
            source = os.path.join(os.path.dirname(COMPOSE_PATH), source)
        out.append((os.path.normpath(source), os.path.normpath(target), ro))
    return out


def host_path(service, path):
    """(host path, read_only) of what a container path of a service is
    through its bind mounts, or None when no bind mount provides it."""
    best = None
    for source, target, ro in bind_mounts(service):
        rel = os.path.relpath(os.path.normpath(path), target)
        if rel == "." or not rel.startswith(".."):
            if best is None or len(target) > best[0]:
                best = (len(target), os.path.normpath(os.path.join(source, rel)), ro)
    return best and best[1:]


def container_paths(env):
    """{SETTING: value} of the settings whose value is a file in the container."""
    return {k: v for k, v in env.items() if v and v.startswith("/")}


def topic_settings(exe):
    """A binary's topic settings by role, from its --help: what it reads
    (KAFKA_TOPIC; the ingest gateway has none: webhooks come over HTTP),
    where it dead-letters to and what it produces to."""
    known = settings_of(exe)
    return {"reads": [k for k in known if k == "KAFKA_TOPIC"],
            "dead-letters to": [k for k in known if k.endswith("DLQ_TOPIC")],
            "produces to": [k for k in known if k == "NOTIFY_TOPIC" or k.startswith("TOPIC_")]}


# ---------------------------------------------------------------- Dockerfile


class Dockerfile:
    """Stages and instructions of a Dockerfile (no ARG expansion needed)."""

    def __init__(self, path):
        self.path = path
        self.stages = []  # dicts: name, base, instructions [(INSTR, args)]
        logical, buf = [], ""
        with open(path) as f:
            for raw in f:
                line = raw.rstrip("\n")
                if line.lstrip().startswith("#"):
                    continue  # comments, also inside a continued instruction
                if line.endswith("\\"):
                    buf += line[:-1] + " "
                    continue
                buf += line
                if buf.strip():
                    logical.append(buf.strip())
                buf = ""
        if buf.strip():
            logical.append(buf.strip())
        for line in logical:
            instr, _, args = line.partition(" ")
            instr, args = instr.upper(), args.strip()
            if instr == "FROM":
                m = re.match(r"(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?\s*$", args, re.I)
                self.stages.append({"base": m.group(1), "name": m.group(2),
                                    "index": len(self.stages), "instructions": []})
            elif self.stages:
                self.stages[-1]["instructions"].append((instr, args))

    @property
    def final(self):
        return self.stages[-1]

    def stage(self, ref):
        for s in self.stages:
            if s["name"] == ref or str(s["index"]) == ref:
                return s
        return None

    @staticmethod
    def args_list(args):
        """Exec-form (JSON) or whitespace-separated arguments."""
        if args.startswith("["):
            return json.loads(args)
        return shlex.split(args)

    def copies(self, stage):
        """[(flags, sources, dest)] of the COPY/ADD instructions of a stage."""
        out = []
        for instr, args in stage["instructions"]:
            if instr not in ("COPY", "ADD"):
                continue
            words = shlex.split(args)
            flags = {}
            while words and words[0].startswith("--"):
                k, _, v = words.pop(0)[2:].partition("=")
                flags[k] = v
            rest = json.loads(" ".join(words)) if words and words[0].startswith("[") else words
            out.append((flags, rest[:-1], rest[-1]))
        return out

    def last(self, stage, instr):
        found = [a for i, a in stage["instructions"] if i == instr]
        return found[-1] if found else None

    def runs(self, stage):
        return [a for i, a in stage["instructions"] if i == "RUN"]

    def env_path(self, stage):
        """PATH in a stage: Debian's default unless ENV sets it."""
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for instr, args in stage["instructions"]:
            m = re.match(r"PATH[= ](\S+)", args) if instr == "ENV" else None
            if m:
                path = m.group(1).replace("$PATH", path).replace("${PATH}", path)
        return path.split(":")

    def healthcheck(self, stage):
        """The HEALTHCHECK CMD of a stage as an argv, or None."""
        args = self.last(stage, "HEALTHCHECK")
        if args is None:
            return None
        m = re.search(r"(?:^|\s)CMD\s+(.*)$", args)
        if not m:
            return None  # HEALTHCHECK NONE
        cmd = m.group(1).strip()
        return json.loads(cmd) if cmd.startswith("[") else ["/bin/sh", "-c", cmd]


# ---------------------------------------------------------------- --help


@functools.lru_cache(maxsize=None)
def settings_of(name):
    """{SETTING: {"default": str or None, "required": bool, "text": str}} from
    `<name> --help`: the setting names are its first column."""
    env = {k: v for k, v in os.environ.items()
           if k not in stack.WORKER_VARS and not k.startswith("RDKAFKA_")}
    r = subprocess.run([binary(name), "--help"], capture_output=True, text=True, env=env,
                       timeout=30)
    if r.returncode != 0:
        raise AssertionError("%s --help exited with %d: %s" % (name, r.returncode, r.stderr))
    out, current = {}, None
    for line in r.stdout.splitlines():
        m = re.match(r"^  ([A-Z][A-Z0-9_]*)\s{2,}--[a-z0-9-]+(?:\s+(.*))?$", line)
        if m:
            current = out[m.group(1)] = {"default": None, "required": False,
                                         "text": m.group(2) or ""}
            continue
        if current is not None and re.match(r"^\s{20,}\S", line):
            current["text"] += " " + line.strip()
        else:
            current = None
    for s in out.values():
        m = re.search(r"(?:^|\s)default: (\S+)\s*$", s["text"]) or \
            re.search(r"\(default: ([^)]+)\)", s["text"])
        if m:
            s["default"] = m.group(1)
        s["required"] = "(required)" in s["text"]
    return out


def effective(name, env, setting):
    """The value a worker uses for a setting: the environment, else its
    default (with <OTHER> references resolved); None if neither."""
    if env.get(setting):
        return env[setting]
    default = settings_of(name).get(setting, {}).get("default")
    if default is None:
        return None
    return re.sub(r"<([A-Z0-9_]+)>", lambda m: effective(name, env, m.group(1)) or "", default)


# ---------------------------------------------------------------- the files


class Files:
    """The compose file and the Dockerfile, parsed once."""

    def __init__(self):
        with open(COMPOSE_PATH) as f:
            raw = yaml.safe_load(f)
        if not isinstance(raw, dict) or not isinstance(raw.get("services"), dict):
            raise AssertionError("%s has no services mapping" % COMPOSE_PATH)
        self.missing_vars = []
        self.compose = interpolate(raw, {}, "", self.missing_vars)
        self.all_services = self.compose["services"]
        self.services = configuration(self.all_services, PROFILE)
        if not self.services:
            raise AssertionError("no service in the configuration of profile %r" % PROFILE)
        self.dockerfile = Dockerfile(DOCKERFILE_PATH)

        # The services built from docker/Dockerfile, and the image name they
        # share (a service may also just name that image).
        self.aftercare_all = {}
        images = set()
        for name, svc in self.all_services.items():
            build = svc.get("build")
            if build is None:
                continue
            if isinstance(build, str):
                build = {"context": build}
            context = os.path.normpath(os.path.join(os.path.dirname(COMPOSE_PATH),
                                                    build.get("context", ".")))
            dockerfile = os.path.normpath(os.path.join(context,
                                                       build.get("dockerfile", "Dockerfile")))
            if dockerfile == os.path.normpath(DOCKERFILE_PATH):
                self.aftercare_all[name] = svc
                if svc.get("image"):
                    images.add(svc["image"])
        for name, svc in self.all_services.items():
            if "build" not in svc and svc.get("image") in images:
                self.aftercare_all[name] = svc
        # Those of the configuration checked.
        self.aftercare = {n: s for n, s in self.aftercare_all.items() if n in self.services}

        final = self.dockerfile.final
        self.copied = {}  # binary name -> path in the runtime image
        self.copy_sources = {}  # binary name -> path in the build stage
        self.copy_stage = None
        for flags, sources, dest in self.dockerfile.copies(final):
            if "from" not in flags:
                continue
            self.copy_stage = flags["from"]
            for src in sources:
                base = os.path.basename(src.rstrip("/"))
                path = dest + base if dest.endswith("/") else dest
                self.copied[base] = path
                self.copy_sources[base] = src

    def argv(self, name):
        """What a service of the aftercare image runs: entrypoint + command,
        with the image's ENTRYPOINT when the service sets none."""
        svc = self.all_services[name]
        entry = as_argv(svc.get("entrypoint"))
        command = as_argv(svc.get("command")) or []
        if entry is None:
            image_entry = self.dockerfile.last(self.dockerfile.final, "ENTRYPOINT")
            entry = Dockerfile.args_list(image_entry) if image_entry else []
        return entry + command

    def binary_of(self, name):
        """The name of the binary a service of the aftercare image runs
        (whether or not the image has it: check_binary() checks that)."""
        argv = self.argv(name)
        return os.path.basename(argv[0]) if argv else None

    def check_binary(self, name):
        """The binary a service runs, by name; raises unless the Dockerfile
        copies it into the runtime image where the service runs it from."""
        argv = self.argv(name)
        if not argv:
            raise AssertionError("service %s runs nothing" % name)
        exe = argv[0]
        if "/" in exe:
            for base, path in self.copied.items():
                if path == exe:
                    return base
            raise AssertionError("service %s runs %s, which the Dockerfile does not copy into "
                                 "the runtime image (it copies: %s)"
                                 % (name, exe, ", ".join(sorted(self.copied.values()))))
        path_dirs = self.dockerfile.env_path(self.dockerfile.final)
        if exe in self.copied and os.path.dirname(self.copied[exe]) in path_dirs:
            return exe
        raise AssertionError("service %s runs %s, which is not a binary the Dockerfile copies "
                             "onto the image's PATH" % (name, exe))

    def kafka_service(self):
        for name, svc in self.services.items():
            if "KAFKA_ADVERTISED_LISTENERS" in env_map(svc):
                return name, svc
        raise AssertionError("no service sets KAFKA_ADVERTISED_LISTENERS (no Kafka broker)")

    def service_running(self, predicate):
        """[name] of the services whose argv (entrypoint + command) matches."""
        out = []
        for name, svc in self.services.items():
            argv = (as_argv(svc.get("entrypoint")) or []) + (as_argv(svc.get("command")) or [])
            if predicate(argv):
                out.append(name)
        return out


def configuration(services, profile):
    """The services `docker compose up` starts: without a profile, those
    that have none; with one, the services of that profile named on the
    command line and everything they depend on."""
    if not profile:
        return {n: s for n, s in services.items() if not s.get("profiles")}
    chosen = {n for n, s in services.items() if profile in (s.get("profiles") or [])}
    todo = list(chosen)
    while todo:
        for dep in services[todo.pop()].get("depends_on") or {}:
            if dep in services and dep not in chosen:
                chosen.add(dep)
                todo.append(dep)
    return {n: s for n, s in services.items() if n in chosen}


def worker_binaries():
    """The worker binaries built from workers/*/, by their CMake target name."""
    with open(os.path.join(REPO, "workers", "CMakeLists.txt")) as f:
        cmake = f.read()
    targets = dict((src.split("/")[0], tgt) for tgt, src in
                   re.findall(r"add_executable\(\s*(\S+)\s+(\S+)", cmake))
    out = []
    for d in sorted(os.listdir(os.path.join(REPO, "workers"))):
        if os.path.isfile(os.path.join(REPO, "workers", d, "main.c")):
            if d not in targets:
                raise AssertionError("workers/%s has no add_executable in workers/CMakeLists.txt"
                                     % d)
            out.append(targets[d])
    return out


FILES = None


def setUpModule():
    global FILES
    FILES = Files()


def redis_servers():
    """The services of the configuration that run redis-server."""
    return [n for n, s in FILES.services.items()
            if str(s.get("image", "")).split(":")[0].split("/")[-1] == "redis"
            and os.path.basename((as_argv(s.get("command")) or [""])[0]) == "redis-server"]


def cluster_init_service(testcase):
    """The one-shot service that joins the cluster's nodes
    (redis-cli --cluster create), checked to run once and to wait for every
    node to be healthy."""
    names = [n for n, s in FILES.services.items()
             if any("--cluster create" in a for a in
                    (as_argv(s.get("entrypoint")) or []) + (as_argv(s.get("command")) or []))]
    testcase.assertEqual(len(names), 1, "exactly one service runs redis-cli --cluster create: "
                         "%s" % names)
    svc = FILES.services[names[0]]
    testcase.assertEqual(str(svc.get("restart", "no")), "no", "it must not restart to complete")
    deps = svc.get("depends_on") or {}
    for node in redis_servers():
        testcase.assertEqual((deps.get(node) or {}).get("condition"), "service_healthy",
                             "%s waits for %s to be healthy" % (names[0], node))
    return names[0]


def kafka_init_topics(testcase):
    """Runs the one-shot service that calls kafka-topics.sh with a stand-in
    for it; returns ({topic: partitions}, [bootstrap servers], the calls)."""
    names = FILES.service_running(lambda argv: any(KAFKA_TOPICS_SH in a for a in argv))
    testcase.assertEqual(len(names), 1, "exactly one service creates the topics with %s: %s"
                         % (KAFKA_TOPICS_SH, names))
    name = names[0]
    svc = FILES.services[name]
    argv = (as_argv(svc.get("entrypoint")) or []) + (as_argv(svc.get("command")) or [])
    with tempfile.TemporaryDirectory(prefix="ac-kafka-init-") as tmp:
        fake = os.path.join(tmp, "kafka-topics.sh")
        log = os.path.join(tmp, "calls.jsonl")
        with open(fake, "w") as f:
            f.write("#!%s\nimport json, sys\nwith open(%r, 'a') as f:\n"
                    "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n" % (sys.executable, log))
        os.chmod(fake, 0o755)
        run = [a.replace(KAFKA_TOPICS_SH, fake) for a in argv]
        r = subprocess.run(run, capture_output=True, text=True, timeout=60, cwd=tmp)
        testcase.assertEqual(r.returncode, 0, "%s's command fails (with kafka-topics.sh always "
                             "succeeding): %s" % (name, r.stderr))
        calls = []
        if os.path.exists(log):
            with open(log) as f:
                calls = [json.loads(line) for line in f]
    topics, servers = {}, []
    for call in calls:
        servers.append(option_value(call, "--bootstrap-server"))
        if "--create" in call:
            topic = option_value(call, "--topic")
            parts = option_value(call, "--partitions")
            testcase.assertTrue(topic, "a --create without --topic: %s" % call)
            topics[topic] = int(parts) if parts else 1
            rf = option_value(call, "--replication-factor")
            if rf is not None:
                testcase.assertEqual(int(rf), 1, "a single broker cannot hold %s replicas of %s"
                                     % (rf, topic))
    return name, topics, servers, calls


# ---------------------------------------------------------------- static


class ComposeFileTest(unittest.TestCase):
    maxDiff = None

    def test_compose_file_parses(self):
        self.assertEqual(FILES.missing_vars, [], "variables without a value or default")
        services = FILES.services
        self.assertTrue(services, "services")
        declared_volumes = set((FILES.compose.get("volumes") or {}).keys())
        for name, svc in services.items():
            with self.subTest(service=name):
                self.assertIsInstance(svc, dict)
                self.assertTrue(svc.get("image") or svc.get("build"), "an image or a build")
                deps = svc.get("depends_on") or {}
                if isinstance(deps, list):
                    deps = {d: {"condition": "service_started"} for d in deps}
                for dep, spec in deps.items():
                    self.assertIn(dep, services, "depends on an unknown service")
                    cond = (spec or {}).get("condition", "service_started")
                    self.assertIn(cond, ("service_started", "service_healthy",
                                         "service_completed_successfully"))
                    if cond == "service_healthy":
                        has_check = bool(services[dep].get("healthcheck")) or (
                            dep in FILES.aftercare and
                            FILES.dockerfile.healthcheck(FILES.dockerfile.final))
                        self.assertTrue(has_check, "waits for %s to be healthy, which has no "
                                        "healthcheck" % dep)
                    if cond == "service_completed_successfully":
                        self.assertEqual(str(services[dep].get("restart", "no")), "no",
                                         "%s must not restart to complete" % dep)
                for v in svc.get("volumes") or []:
                    source = v.split(":")[0] if isinstance(v, str) else v.get("source")
                    if source and not source.startswith((".", "/", "~")):
                        self.assertIn(source, declared_volumes, "named volume declared")
                if "stop_grace_period" in svc:
                    parse_duration(svc["stop_grace_period"])

    def test_services_run_binaries_the_image_has(self):
        self.assertTrue(FILES.aftercare, "no service is built from docker/Dockerfile")
        for name in FILES.aftercare:
            with self.subTest(service=name):
                exe = FILES.check_binary(name)
                self.assertTrue(os.access(os.path.join(stack.BIN_DIR, exe), os.X_OK),
                                "%s is not a binary the build produces (%s)"
                                % (exe, stack.BIN_DIR))

    def test_every_worker_is_in_the_image_and_runs(self):
        workers = worker_binaries()
        self.assertTrue(workers, "no workers/*/main.c")
        running = {FILES.binary_of(n) for n in FILES.aftercare}
        for w in workers:
            with self.subTest(worker=w):
                self.assertIn(w, FILES.copied, "the Dockerfile does not copy %s" % w)
                self.assertIn(w, running, "no compose service runs %s" % w)
        for exe, src in FILES.copy_sources.items():
            with self.subTest(copied=exe):
                self.assertTrue(os.access(os.path.join(stack.BIN_DIR, exe), os.X_OK),
                                "the Dockerfile copies %s, which the build does not produce"
                                % src)

    def test_worker_settings(self):
        workers = set(worker_binaries())
        seen = set()
        for name in FILES.aftercare:
            exe = FILES.binary_of(name)
            env = env_map(FILES.services[name])
            known = settings_of(exe) if exe in workers else {}
            with self.subTest(service=name):
                for key, value in env.items():
                    self.assertTrue(key in known or (key.startswith("RDKAFKA_") and exe in workers),
                                    "%s is not a setting of %s (%s)"
                                    % (key, exe, ", ".join(sorted(known)) or "it has none"))
                    self.assertIsNotNone(value, "%s takes its value from the host" % key)
                if exe not in workers:
                    continue
                seen.add(exe)
                for key, s in known.items():
                    if s["required"]:
                        self.assertTrue(env.get(key), "%s is required by %s" % (key, exe))
                # Provider-specific requirements: "required with sendgrid",
                # and the webhook URL whenever a channel uses the webhook.
                providers = {effective(exe, env, k) for k in known
                             if k.endswith(("_PROVIDER", "_FALLBACK"))} - {None, "none"}
                for key, s in known.items():
                    m = re.search(r"required with (\w+)", s["text"])
                    if m and m.group(1) in providers:
                        self.assertTrue(env.get(key), "%s is required with %s"
                                        % (key, m.group(1)))
                    m = re.search(r"using the (\w+) provider.*required then", s["text"])
                    if m and m.group(1) in providers:
                        self.assertTrue(env.get(key), "%s is required: a channel of %s uses "
                                        "the %s provider" % (key, exe, m.group(1)))
        self.assertEqual(seen, workers, "services running each worker")

    def test_files_the_settings_name_are_mounted(self):
        # The image holds only the binaries: a setting naming a file in the
        # container (the gateway's STORE_SETTINGS) needs a bind mount of a
        # file that exists here, read-only like the root file system.
        for name in FILES.aftercare:
            svc = FILES.services[name]
            for key, path in container_paths(env_map(svc)).items():
                with self.subTest(service=name, setting=key):
                    found = host_path(svc, path)
                    self.assertIsNotNone(found, "%s=%s is in no bind mount of %s (volumes: %s)"
                                         % (key, path, name, svc.get("volumes")))
                    local, ro = found
                    self.assertTrue(os.path.isfile(local), "%s=%s is mounted from %s, which "
                                    "does not exist" % (key, path, os.path.relpath(local, REPO)))
                    self.assertTrue(ro, "%s is mounted read-only (:ro)" % path)

    def test_kafka_brokers_is_kafkas_advertised_listener(self):
        kname, ksvc = FILES.kafka_service()
        kenv = env_map(ksvc)
        names = {kname, ksvc.get("hostname"), ksvc.get("container_name")} - {None}
        advertised = parse_listeners(kenv["KAFKA_ADVERTISED_LISTENERS"])
        listeners = {n: p for n, _, p in parse_listeners(kenv["KAFKA_LISTENERS"])}
        protocols = dict(kv.split(":") for kv in
                         kenv.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "").split(",") if kv)
        controllers = set(kenv.get("KAFKA_CONTROLLER_LISTENER_NAMES", "").split(","))
        in_network = {(h, p): n for n, h, p in advertised if h in names}
        self.assertTrue(in_network, "Kafka advertises no listener under its service name %s"
                        % sorted(names))
        for n, _, p in advertised:
            self.assertEqual(listeners.get(n), p, "advertised listener %s has no listener on "
                             "port %d" % (n, p))
        for name in FILES.aftercare:
            exe = FILES.binary_of(name)
            env = env_map(FILES.services[name])
            if exe not in worker_binaries() or "KAFKA_BROKERS" not in settings_of(exe):
                continue
            with self.subTest(service=name):
                self.assertTrue(env.get("KAFKA_BROKERS"), "KAFKA_BROKERS is not set")
                for hp in env["KAFKA_BROKERS"].split(","):
                    host, port = split_hostport(hp)
                    self.assertIn((host, port), in_network,
                                  "KAFKA_BROKERS %s is not an advertised listener of %s (%s)"
                                  % (hp, kname, kenv["KAFKA_ADVERTISED_LISTENERS"]))
                    lname = in_network[(host, port)]
                    self.assertNotIn(lname, controllers, "workers must not use the controller "
                                     "listener")
                    if not env.get("RDKAFKA_SECURITY_PROTOCOL"):
                        self.assertEqual(protocols.get(lname, lname), "PLAINTEXT",
                                         "listener %s needs a security protocol the workers "
                                         "are not configured for" % lname)
                deps = FILES.services[name].get("depends_on") or {}
                self.assertEqual((deps.get(kname) or {}).get("condition"), "service_healthy",
                                 "waits for a healthy Kafka")

    def test_kafka_is_a_working_single_node(self):
        kname, ksvc = FILES.kafka_service()
        kenv = env_map(ksvc)
        self.assertTrue(ksvc.get("healthcheck"), "Kafka has a healthcheck")
        roles = set(kenv.get("KAFKA_PROCESS_ROLES", "").split(","))
        self.assertEqual(roles, {"broker", "controller"}, "combined broker and controller")
        node = kenv.get("KAFKA_NODE_ID")
        listeners = {n: p for n, _, p in parse_listeners(kenv["KAFKA_LISTENERS"])}
        voters = kenv.get("KAFKA_CONTROLLER_QUORUM_VOTERS", "").split(",")
        self.assertEqual(len(voters), 1, "one voter")
        vid, _, vaddr = voters[0].partition("@")
        self.assertEqual(vid, node, "the voter is this node")
        controller = kenv.get("KAFKA_CONTROLLER_LISTENER_NAMES")
        self.assertEqual(listeners.get(controller), split_hostport(vaddr)[1],
                         "the voter's port is the controller listener's")
        # Internal topics default to 3 replicas, which one broker cannot
        # hold: consumer groups would never work.
        self.assertEqual(kenv.get("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"), "1")
        for k, v in kenv.items():
            if k.endswith("REPLICATION_FACTOR") or k.endswith("_MIN_ISR"):
                self.assertEqual(v, "1", "%s on a single broker" % k)

    def test_topics_the_workers_use_are_created(self):
        init, topics, servers, calls = kafka_init_topics(self)
        self.assertTrue(topics, "%s creates no topics (calls: %s)" % (init, calls))
        kname, ksvc = FILES.kafka_service()
        advertised = {"%s:%d" % (h, p) for _, h, p in
                      parse_listeners(env_map(ksvc)["KAFKA_ADVERTISED_LISTENERS"])}
        for s in servers:
            self.assertIn(s, advertised, "%s talks to Kafka at an address it does not advertise"
                          % init)
        init_deps = FILES.services[init].get("depends_on") or {}
        self.assertEqual((init_deps.get(kname) or {}).get("condition"), "service_healthy")
        workers = set(worker_binaries())
        read = {}  # topic -> the services that read it
        for name in FILES.aftercare:
            exe = FILES.binary_of(name)
            if exe in workers and "KAFKA_TOPIC" in settings_of(exe):
                topic = effective(exe, env_map(FILES.services[name]), "KAFKA_TOPIC")
                read.setdefault(topic, []).append(name)
        for name in FILES.aftercare:
            exe = FILES.binary_of(name)
            if exe not in workers:
                continue
            env = env_map(FILES.services[name])
            roles = topic_settings(exe)
            with self.subTest(service=name):
                if not roles["reads"]:
                    # No input topic: the ingest gateway takes its input
                    # over HTTP and produces what the event workers read.
                    self.assertIn("INGEST_PORT", settings_of(exe),
                                  "%s reads no topic and receives nothing over HTTP" % exe)
                    self.assertTrue(roles["produces to"], "%s neither reads nor produces "
                                    "to a topic" % exe)
                self.assertTrue(roles["dead-letters to"], "%s has no dead-letter topic" % exe)
                for what, keys in roles.items():
                    for key in keys:
                        topic = effective(exe, env, key)
                        self.assertTrue(topic, "%s: no topic it %s (%s)" % (exe, what, key))
                        self.assertIn(topic, topics, "%s %s %s (%s), which %s does not create"
                                      % (exe, what, topic, key, init))
                        if what == "produces to":
                            self.assertIn(topic, read, "%s produces to %s (%s), which no "
                                          "service reads" % (exe, topic, key))
                deps = FILES.services[name].get("depends_on") or {}
                self.assertEqual((deps.get(init) or {}).get("condition"),
                                 "service_completed_successfully",
                                 "starts once the topics exist")

    def test_mock_provider_is_wired_to_notify_worker(self):
        sinks = [n for n in FILES.aftercare if FILES.binary_of(n) == "ac-sink"]
        self.assertEqual(len(sinks), 1, "one mock provider (ac-sink)")
        sink = sinks[0]
        argv = FILES.argv(sink)
        host = option_value(argv, "--host")
        self.assertIn(host, ("0.0.0.0", "::"), "the mock provider must listen on every "
                      "interface to be reachable from other containers")
        port = int(option_value(argv, "--port") or 0)
        self.assertTrue(port, "the mock provider needs a fixed --port")
        secret = option_value(argv, "--secret")
        self.assertTrue(secret, "the mock provider verifies signatures (--secret)")
        notifiers = [n for n in FILES.aftercare if FILES.binary_of(n) == "notify-worker"]
        self.assertTrue(notifiers)
        for name in notifiers:
            env = env_map(FILES.services[name])
            with self.subTest(service=name):
                url = urllib.parse.urlsplit(env.get("WEBHOOK_URL", ""))
                self.assertEqual(url.hostname, sink, "WEBHOOK_URL points at the mock provider")
                self.assertEqual(url.port or 80, port, "WEBHOOK_URL uses the mock provider's "
                                 "port")
                self.assertIn(secret, (env.get("WEBHOOK_SECRET") or "").split(),
                              "notify-worker signs with the mock provider's secret")

    def test_redis_keeps_its_data(self):
        """Each redis-server of the configuration (the one Redis, or every
        node of the cluster) keeps its data on a named volume and never
        evicts; the workers' REDIS_URL names it (the cluster's: seeds among
        its nodes, with REDIS_CLUSTER=on) and they wait for it."""
        servers = redis_servers()
        self.assertTrue(servers, "no service runs redis-server")
        volumes = []
        for name in servers:
            svc = FILES.services[name]
            argv = as_argv(svc.get("command")) or []
            with self.subTest(service=name):
                self.assertEqual(option_value(argv, "--appendonly"), "yes", "append-only file")
                self.assertIn(option_value(argv, "--appendfsync"), ("everysec", "always"))
                self.assertEqual(option_value(argv, "--maxmemory-policy"), "noeviction",
                                 "Redis must never evict the workers' state")
                datadir = option_value(argv, "--dir") or "/data"
                mounts = [v.split(":") for v in svc.get("volumes") or [] if isinstance(v, str)]
                data = [m for m in mounts if len(m) >= 2 and m[1] == datadir]
                self.assertTrue(data, "Redis's data directory is on a volume")
                self.assertIn(data[0][0], FILES.compose.get("volumes") or {}, "a named volume")
                volumes.append(data[0][0])
                self.assertTrue(svc.get("healthcheck"), "Redis has a healthcheck")
                if option_value(argv, "--cluster-enabled") == "yes":
                    # A node that forgets its nodes.conf forgets its cluster.
                    conf = os.path.normpath(os.path.join(datadir, option_value(
                        argv, "--cluster-config-file") or "nodes.conf"))
                    self.assertTrue(conf.startswith(datadir.rstrip("/") + "/"),
                                    "%s is not on the data volume %s" % (conf, datadir))
        self.assertEqual(len(set(volumes)), len(volumes), "two Redis servers share a volume")
        cluster = [n for n in servers if option_value(as_argv(FILES.services[n]["command"]),
                                                      "--cluster-enabled") == "yes"]
        self.assertIn(len(cluster), (0, len(servers)), "some servers are cluster nodes, "
                      "some not: %s" % servers)
        if cluster:
            init = cluster_init_service(self)
        else:
            self.assertEqual(len(servers), 1, "one Redis service")
        ports = {n: int(option_value(as_argv(FILES.services[n]["command"]), "--port") or 6379)
                 for n in servers}
        for wname in FILES.aftercare:
            env = env_map(FILES.services[wname])
            if "REDIS_URL" not in env:
                continue
            with self.subTest(service=wname):
                deps = FILES.services[wname].get("depends_on") or {}
                url = urllib.parse.urlsplit(env["REDIS_URL"])
                seeds = [split_hostport(h if ":" in h else h + ":6379")
                         for h in url.netloc.rpartition("@")[2].split(",")]
                if not cluster:
                    self.assertEqual(seeds, [(servers[0], ports[servers[0]])])
                    self.assertEqual((deps.get(servers[0]) or {}).get("condition"),
                                     "service_healthy")
                    continue
                self.assertEqual(env.get("REDIS_CLUSTER"), "on", "a cluster is required")
                self.assertGreaterEqual(len(seeds), 2, "one seed: no start while it is down")
                for host, port in seeds:
                    self.assertIn(host, cluster, "seed %s is no node" % host)
                    self.assertEqual(port, ports[host], "seed %s:%d" % (host, port))
                self.assertIn(url.path, ("", "/", "/0"), "a cluster has database 0 only")
                self.assertEqual((deps.get(init) or {}).get("condition"),
                                 "service_completed_successfully",
                                 "starts once the cluster is formed")

    def test_profiles(self):
        """Profiles are known ones; what `docker compose up` starts never
        depends on a profile's service; and each worker of a profile takes
        the host ports of its counterpart without profile, so that the two
        sets (same consumer groups, different Redis) cannot run at once."""
        every = FILES.all_services
        for name, svc in every.items():
            with self.subTest(service=name):
                self.assertLessEqual(set(svc.get("profiles") or []), KNOWN_PROFILES)
                if not svc.get("profiles"):
                    for dep in svc.get("depends_on") or {}:
                        self.assertFalse(every[dep].get("profiles"), "depends on %s, which "
                                         "`docker compose up` does not start" % dep)
        workers = set(worker_binaries())
        plain = {}
        for name, svc in every.items():
            if not svc.get("profiles") and name in FILES.aftercare_all:
                plain.setdefault(FILES.binary_of(name), []).append(name)
        for name, svc in every.items():
            exe = FILES.binary_of(name) if name in FILES.aftercare_all else None
            if not svc.get("profiles") or exe not in workers:
                continue
            with self.subTest(service=name):
                self.assertEqual(len(plain.get(exe, [])), 1, "one %s without profile" % exe)
                host = lambda n: sorted((parse_port_mapping(p)[0], parse_port_mapping(p)[1])
                                        for p in every[n].get("ports") or [])
                self.assertTrue(host(name), "publishes nothing")
                self.assertEqual(host(name), host(plain[exe][0]),
                                 "%s and %s must publish the same host ports"
                                 % (name, plain[exe][0]))
        for cfg in [""] + sorted(KNOWN_PROFILES):
            seen = {}
            for name, svc in configuration(every, cfg).items():
                for p in svc.get("ports") or []:
                    ip, port, _ = parse_port_mapping(p)
                    with self.subTest(profile=cfg or "(none)", port=port):
                        self.assertNotIn((ip, port), seen, "%s and %s publish the same port"
                                         % (seen.get((ip, port)), name))
                        seen[(ip, port)] = name

    def test_workers_stop_gracefully_and_unprivileged(self):
        workers = set(worker_binaries())
        final_user = FILES.dockerfile.last(FILES.dockerfile.final, "USER")
        for name in FILES.aftercare:
            svc = FILES.services[name]
            exe = FILES.binary_of(name)
            with self.subTest(service=name):
                self.assertIs(svc.get("read_only"), True, "read_only")
                user = str(svc.get("user", final_user or ""))
                self.assertTrue(user and user.split(":")[0] not in ("0", "root"), "non-root user")
                if final_user:
                    self.assertEqual(user.split(":")[0], final_user.split(":")[0],
                                     "the user the image was made for")
                self.assertIn("ALL", svc.get("cap_drop") or [], "cap_drop: [ALL]")
                self.assertIn("no-new-privileges:true", svc.get("security_opt") or [])
                self.assertEqual(svc.get("restart"), "unless-stopped")
                if exe not in workers:
                    continue
                env = env_map(svc)
                timeout = effective(exe, env, "SHUTDOWN_TIMEOUT") or DEFAULT_SHUTDOWN_TIMEOUT
                grace = parse_duration(svc.get("stop_grace_period", "10s"))
                self.assertGreater(grace, parse_duration(timeout),
                                   "stop_grace_period %s must exceed SHUTDOWN_TIMEOUT %s"
                                   % (svc.get("stop_grace_period", "10s (default)"), timeout))
                http = int(effective(exe, env, "HTTP_PORT") or 0)
                self.assertTrue(http, "health and metrics endpoints on")
                serving = {http: "HTTP_PORT"}
                if "INGEST_PORT" in settings_of(exe):
                    ingest = int(effective(exe, env, "INGEST_PORT") or 0)
                    self.assertTrue(ingest, "INGEST_PORT, where the webhooks arrive")
                    self.assertNotEqual(ingest, http, "INGEST_PORT and HTTP_PORT differ")
                    serving[ingest] = "INGEST_PORT"
                published = set()
                for item in svc.get("ports") or []:
                    target = parse_port_mapping(item)[2]
                    published.add(target)
                    self.assertIn(target, serving, "published port %s is not %s"
                                  % (item, " or ".join(sorted(serving.values()))))
                if "INGEST_PORT" in serving.values():
                    self.assertIn(ingest, published, "INGEST_PORT %d is not published: the "
                                  "platforms' webhooks cannot reach it" % ingest)

    def test_image_healthcheck_port_is_where_services_listen(self):
        check = FILES.dockerfile.healthcheck(FILES.dockerfile.final)
        if not check:
            self.skipTest("the image has no HEALTHCHECK")
        for name in FILES.aftercare:
            svc = FILES.services[name]
            if svc.get("healthcheck"):
                continue  # the service's own check replaces the image's
            exe = FILES.binary_of(name)
            env = env_map(svc)
            port = env.get("HTTP_PORT") or "8080"  # what ${HTTP_PORT:-8080} gives
            with self.subTest(service=name):
                if exe == "ac-sink":
                    self.assertEqual(option_value(FILES.argv(name), "--port"), port)
                elif exe in worker_binaries():
                    self.assertEqual(effective(exe, env, "HTTP_PORT"), port)


class DockerfileTest(unittest.TestCase):

    def test_multi_stage_with_make_build(self):
        df = FILES.dockerfile
        self.assertGreaterEqual(len(df.stages), 2, "a build stage and a runtime stage")
        self.assertTrue(FILES.copy_stage, "the runtime stage copies from a build stage")
        build = df.stage(FILES.copy_stage)
        self.assertIsNotNone(build, "COPY --from=%s names no earlier stage" % FILES.copy_stage)
        self.assertLess(build["index"], df.final["index"])
        runs = df.runs(build)
        self.assertTrue(any(re.search(r"(^|&&|;|\|\|)\s*make\s+(\S+=\S+\s+)*build(\s|$)", r)
                            for r in runs),
                        "the build stage runs `make build`, the build CI runs: %s" % runs)
        for r in runs:
            self.assertNotRegex(r, r"(^|&&|;|\s)cmake\s", "the build stage calls cmake itself "
                                "instead of through `make build`")
        # The binaries are copied from where `make build` puts them.
        with open(os.path.join(REPO, "Makefile")) as f:
            m = re.search(r"^BUILD\s*\?=\s*(\S+)", f.read(), re.M)
        build_dir = m.group(1) if m else "build"
        workdir = df.last(build, "WORKDIR") or "/"
        expected = os.path.normpath(os.path.join(workdir, build_dir, "bin"))
        for exe, src in FILES.copy_sources.items():
            self.assertEqual(os.path.dirname(os.path.normpath(src)), expected,
                             "%s is not where `make build` puts it" % src)

    def test_runtime_stage_is_slim_and_unprivileged(self):
        df = FILES.dockerfile
        final = df.final
        user = df.last(final, "USER")
        self.assertTrue(user, "the runtime stage sets USER")
        uid = user.split(":")[0]
        self.assertNotIn(uid, ("0", "root"), "non-root USER")
        if not uid.isdigit():
            self.assertTrue(any(re.search(r"useradd\b.*\b%s\b" % re.escape(uid), r)
                                for r in df.runs(final)), "USER %s is created" % uid)
        for r in df.runs(final):
            for pkg in re.findall(r"\S+", r):
                self.assertFalse(pkg.endswith("-dev") or pkg in ("build-essential", "cmake",
                                                                 "gcc", "make", "pkg-config"),
                                 "build tool %s in the runtime image" % pkg)
        self.assertIn("8080", (df.last(final, "EXPOSE") or "").split())


# ---------------------------------------------------------------- live


def run_healthcheck(port):
    """Runs the image's HEALTHCHECK command against HTTP_PORT=port; returns
    (status, stderr), or None when the image has none."""
    check = FILES.dockerfile.healthcheck(FILES.dockerfile.final)
    if not check:
        return None
    env = dict(os.environ, HTTP_PORT=str(port))
    r = subprocess.run(check, env=env, capture_output=True, text=True, timeout=30)
    return r.returncode, r.stderr


def http_status(port, path):
    """The status of GET http://127.0.0.1:port/path; 0 if nothing answers."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def listening_addresses(port):
    """The local addresses of the sockets listening on a TCP port."""
    out = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    addr, hport = cols[1].split(":")
                    if int(hport, 16) == port and cols[3] == "0A":  # LISTEN
                        out.append(addr)
        except FileNotFoundError:
            continue
    return out


class MockProviderLiveTest(unittest.TestCase):

    def test_listens_on_every_interface_and_answers_healthz(self):
        sinks = [n for n in FILES.aftercare if FILES.binary_of(n) == "ac-sink"]
        self.assertEqual(len(sinks), 1)
        argv = FILES.argv(sinks[0])
        with tempfile.TemporaryDirectory(prefix="ac-docker-sink-") as tmp:
            port_file = os.path.join(tmp, "port")
            # The compose command line, on a free port instead of 8080.
            cmd = [binary("ac-sink")] + without_options(argv[1:], ("--port",)) + \
                ["--port", "0", "--port-file", port_file]
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 preexec_fn=stack._die_with_parent)
            try:
                def ready():
                    if p.poll() is not None:
                        raise AssertionError("ac-sink exited with %s: %s"
                                             % (p.returncode, p.stderr.read().decode()))
                    try:
                        with open(port_file) as f:
                            text = f.read().strip()
                    except FileNotFoundError:
                        return None
                    return int(text) if text.isdigit() else None
                port = wait_until(ready, 15, "ac-sink's port file")
                addrs = listening_addresses(port)
                self.assertTrue(addrs, "nothing listens on port %d" % port)
                for a in addrs:
                    self.assertEqual(set(a), {"0"}, "ac-sink %s listens on %s, not on every "
                                     "interface" % (" ".join(argv[1:]), a))
                with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port,
                                            timeout=5) as r:
                    self.assertEqual((r.status, r.read()), (200, b"ok"))
                hc = run_healthcheck(port)
                if hc is not None:
                    self.assertEqual(hc[0], 0, "the image's HEALTHCHECK fails against ac-sink: "
                                     "%s" % hc[1])
            finally:
                p.terminate()
                p.wait(10)
                p.stderr.close()
            self.assertEqual(p.returncode, 0, "ac-sink exits 0 on SIGTERM")


def redis_command(port, *args):
    """One Redis command over a raw socket; the raw reply."""
    payload = b"*%d\r\n" % len(args)
    for a in args:
        a = str(a).encode()
        payload += b"$%d\r\n%s\r\n" % (len(a), a)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        return s.recv(1 << 16)


FAKE_GETENT = """#!%(python)s
# getent hosts NAME for the cluster's node services: a made-up address each.
import json, sys
hosts = json.load(open(%(map)r))["hosts"]
if len(sys.argv) == 3 and sys.argv[1] == "hosts" and sys.argv[2] in hosts:
    print("%%-15s %%s" %% (hosts[sys.argv[2]], sys.argv[2]))  # as glibc's getent prints it
    sys.exit(0)
sys.exit(2)
"""

FAKE_REDIS_CLI = """#!%(python)s
# redis-cli as the cluster's one-shot service calls it, logged, then run for
# real with the nodes' service names (-h) and made-up addresses (ip:port)
# replaced by 127.0.0.1 and the port each node listens on here.
import json, os, sys
m = json.load(open(%(map)r))
with open(%(log)r, "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
args, i = [], 1
while i < len(sys.argv):
    a = sys.argv[i]
    if a == "-h" and i + 1 < len(sys.argv) and sys.argv[i + 1] in m["ports"]:
        name = sys.argv[i + 1]
        args += ["-h", "127.0.0.1", "-p", str(m["ports"][name])]
        i += 2
        continue
    host, _, port = a.rpartition(":")
    if host in m["by_ip"] and port == str(m["container_ports"][m["by_ip"][host]]):
        a = "127.0.0.1:%%d" %% m["ports"][m["by_ip"][host]]
    args.append(a)
    i += 1
os.execv(m["redis_cli"], ["redis-cli"] + args)
"""


def run_cluster_init(testcase, init, nodes, tmp):
    """Runs the cluster's one-shot service's own command against the nodes
    started here ({service: (local port, container port)}), with stand-ins
    for getent and redis-cli that translate its names and addresses.
    Returns (CompletedProcess, [the redis-cli calls' arguments])."""
    cli = os.environ.get("REDIS_CLI") or shutil.which("redis-cli")
    testcase.assertTrue(cli, "redis-cli not found on PATH (apt-get install redis-tools)")
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir, exist_ok=True)
    mpath, log = os.path.join(tmp, "map.json"), os.path.join(tmp, "redis-cli-calls.jsonl")
    hosts = {n: "10.99.0.%d" % (i + 1) for i, n in enumerate(sorted(nodes))}
    with open(mpath, "w") as f:
        json.dump({"hosts": hosts, "by_ip": {ip: n for n, ip in hosts.items()},
                   "ports": {n: p for n, (p, _) in nodes.items()},
                   "container_ports": {n: c for n, (_, c) in nodes.items()},
                   "redis_cli": cli}, f)
    for name, text in (("getent", FAKE_GETENT), ("redis-cli", FAKE_REDIS_CLI)):
        path = os.path.join(bindir, name)
        with open(path, "w") as f:
            f.write(text % {"python": sys.executable, "map": mpath, "log": log})
        os.chmod(path, 0o755)
    if os.path.exists(log):
        os.unlink(log)
    svc = FILES.services[init]
    argv = (as_argv(svc.get("entrypoint")) or []) + (as_argv(svc.get("command")) or [])
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=tmp, env=env)
    calls = []
    if os.path.exists(log):
        with open(log) as f:
            calls = [json.loads(line) for line in f]
    return r, calls


class RedisLiveTest(unittest.TestCase):

    def test_compose_arguments_take_effect(self):
        exe = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
        self.assertTrue(exe, "redis-server not found on PATH (apt-get install redis-server)")
        servers = redis_servers()
        self.assertTrue(servers, "no service runs redis-server")
        argv = as_argv(FILES.services[servers[0]].get("command"))
        if option_value(argv, "--cluster-enabled") == "yes":
            return self.check_cluster(exe, servers)
        self.assertEqual(os.path.basename(argv[0]), "redis-server")
        with tempfile.TemporaryDirectory(prefix="ac-docker-redis-") as tmp:
            port = free_port()
            log_path = os.path.join(tmp, "redis.log")
            with open(log_path, "wb") as log:
                p = subprocess.Popen([exe] + argv[1:] + ["--port", str(port), "--bind",
                                                         "127.0.0.1", "--dir", tmp,
                                                         "--daemonize", "no"],
                                     stdout=log, stderr=subprocess.STDOUT,
                                     preexec_fn=stack._die_with_parent)
            try:
                wait_until(lambda: Stack._redis_ping(port) or p.poll() is not None, 15,
                           "redis-server")
                if p.poll() is not None:
                    with open(log_path, errors="replace") as f:
                        self.fail("redis-server refuses the compose arguments: %s"
                                  % f.read().strip())

                def config(key):
                    reply = redis_command(port, "CONFIG", "GET", key).decode()
                    return reply.split("\r\n")[-2]  # *2 $n key $n value
                self.assertEqual(config("appendonly"), "yes")
                self.assertEqual(config("appendfsync"), option_value(argv, "--appendfsync"))
                self.assertEqual(config("maxmemory-policy"), "noeviction")
            finally:
                p.terminate()
                p.wait(10)

    def check_cluster(self, exe, servers):
        """Every node started with its compose arguments (its data
        directory a directory here), joined by the one-shot service's own
        script: a cluster of half masters, half replicas, every node ok and
        with the settings asked for, nodes.conf where the volume is; the
        script run again leaves the formed cluster alone."""
        init = cluster_init_service(self)
        procs, nodes = {}, {}
        with tempfile.TemporaryDirectory(prefix="ac-docker-cluster-") as tmp:
            try:
                taken = set()
                for name in servers:
                    argv = as_argv(FILES.services[name]["command"])
                    datadir = (option_value(argv, "--dir") or "/data").rstrip("/")
                    local = os.path.join(tmp, name)
                    os.makedirs(local)
                    port = stack.cluster_port(taken)
                    taken.update((port, port + 10000))
                    args = [local + a[len(datadir):] if a.startswith(datadir + "/") else a
                            for a in argv[1:]]
                    with open(os.path.join(local, "log"), "wb") as log:
                        procs[name] = subprocess.Popen(
                            [exe] + args + ["--port", str(port), "--bind", "127.0.0.1",
                                            "--dir", local, "--daemonize", "no"],
                            stdout=log, stderr=subprocess.STDOUT,
                            preexec_fn=stack._die_with_parent)
                    nodes[name] = (port, int(option_value(argv, "--port") or 6379))
                for name, (port, _) in nodes.items():
                    p = procs[name]
                    wait_until(lambda: Stack._redis_ping(port) or p.poll() is not None, 15,
                               name)
                    if p.poll() is not None:
                        with open(os.path.join(tmp, name, "log"), errors="replace") as f:
                            self.fail("%s refuses its compose arguments: %s"
                                      % (name, f.read().strip()[-2000:]))

                r, calls = run_cluster_init(self, init, nodes, tmp)
                self.assertEqual(r.returncode, 0, "%s's script failed:\n%s%s"
                                 % (init, r.stdout[-2000:], r.stderr[-2000:]))
                creates = [c for c in calls if c[:2] == ["--cluster", "create"]]
                self.assertEqual(len(creates), 1, "one redis-cli --cluster create: %s" % calls)
                with open(os.path.join(tmp, "map.json")) as f:
                    hosts = json.load(f)["hosts"]
                addrs = [a for a in creates[0][2:] if not a.startswith("--")
                         and ":" in a]
                self.assertEqual(sorted(addrs), sorted("%s:%d" % (hosts[n], nodes[n][1])
                                                       for n in nodes),
                                 "every node once, at its address and port")
                self.assertEqual(option_value(creates[0], "--cluster-replicas"), "1")
                self.assertIn("--cluster-yes", creates[0], "no prompt in a one-shot service")

                roles = collections.Counter()
                for name, (port, _) in nodes.items():
                    with self.subTest(node=name):
                        info = stack.decode_reply(stack.redis_call(port, "CLUSTER", "INFO"))
                        self.assertIn(b"cluster_state:ok", info, "ok when the script is done")
                        roles[stack.decode_reply(stack.redis_call(port, "ROLE"))[0]] += 1

                        def config(key):
                            return stack.decode_reply(stack.redis_call(
                                port, "CONFIG", "GET", key))[1].decode()
                        argv = as_argv(FILES.services[name]["command"])
                        self.assertEqual(config("cluster-enabled"), "yes")
                        self.assertEqual(config("appendonly"), "yes")
                        self.assertEqual(config("appendfsync"),
                                         option_value(argv, "--appendfsync"))
                        self.assertEqual(config("maxmemory-policy"), "noeviction")
                        conf = config("cluster-config-file")
                        self.assertTrue(os.path.isfile(conf) and conf.startswith(
                            os.path.join(tmp, name) + "/"), "nodes.conf at %s" % conf)
                self.assertEqual(roles, {b"master": len(nodes) // 2, b"slave": len(nodes) // 2},
                                 "a replica for every master")

                again, calls = run_cluster_init(self, init, nodes, tmp)
                self.assertEqual(again.returncode, 0, "run again: %s" % again.stderr[-2000:])
                self.assertFalse([c for c in calls if "create" in c],
                                 "run again, it must leave the formed cluster alone")
            finally:
                for p in procs.values():
                    p.terminate()
                    p.wait(10)


def live_overrides(name, st, in_container=False):
    """The environment a service of the aftercare image gets on the stack:
    the compose file's, with only the addresses replaced by the stack's, the
    ports by free ones and, unless it runs in a container with the compose
    file's mounts (tests/image), the container's files by the ones they are
    mounted from."""
    svc = FILES.services[name]
    env = env_map(svc)
    overrides = {k: v for k, v in env.items() if k not in ADDRESS_SETTINGS}
    # Only what the compose file says: none of the stack's own
    # test settings (quiet hours, cap, log level).
    for k in ("LOG_LEVEL", "QUIET_HOURS", "MARKETING_CAP"):
        overrides.setdefault(k, None)
    if env.get("WEBHOOK_URL"):
        path = urllib.parse.urlsplit(env["WEBHOOK_URL"]).path
        overrides["WEBHOOK_URL"] = "http://127.0.0.1:%d%s" % (st.sink_port, path)
    if "INGEST_PORT" in settings_of(FILES.binary_of(name)):
        # Published to the host in the compose file; a free port here.
        overrides["INGEST_PORT"] = str(free_port())
    for key, path in container_paths(env).items():
        found = host_path(svc, path)
        if found is None:
            raise AssertionError("%s: %s=%s is in no bind mount" % (name, key, path))
        if not in_container:
            overrides[key] = found[0]
    return overrides


def host_file(name, path):
    """The host file a service's setting names: through its bind mounts
    when the value is a path in the container, else the value itself."""
    found = host_path(FILES.services[name], path)
    return found[0] if found else path


def http_get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
        return r.status, r.read().decode("utf-8", errors="replace")


class ComposeWiringLiveTest(unittest.TestCase):
    """The compose configuration run without Docker. tests/image runs the
    same test with every service in its container (the three methods
    below), from the image make image built."""

    def service_env(self, name, st):
        return live_overrides(name, st)

    def start_service(self, st, name, env):
        return st.start_worker(FILES.binary_of(name), env, wait=False)

    def healthcheck(self, name, proc):
        """(status, stderr) of the image's HEALTHCHECK against a running
        service, or None when the image has none."""
        return run_healthcheck(proc.http_port)

    def test_order_confirmation_end_to_end(self):
        _, topics, _, _ = kafka_init_topics(self)
        sink = [n for n in FILES.aftercare if FILES.binary_of(n) == "ac-sink"][0]
        sink_args = without_options(FILES.argv(sink)[1:], ("--host", "--port"))
        workers = set(worker_binaries())
        services = [n for n in FILES.aftercare if FILES.binary_of(n) in workers]
        order_svc = [n for n in services if FILES.binary_of(n) == "order-worker"][0]
        gateways = [n for n in services if "INGEST_PORT" in settings_of(FILES.binary_of(n))]
        t0 = time.monotonic()
        # The cluster profile's workers run against a Redis Cluster, the
        # others against one Redis, whatever AC_TEST_REDIS_CLUSTER says.
        cluster = any(option_value(as_argv(FILES.services[n]["command"]), "--cluster-enabled")
                      == "yes" for n in redis_servers())
        with Stack(topics=["%s:%d" % kv for kv in sorted(topics.items())],
                   sink_args=sink_args, redis_cluster=cluster) as st:
            procs, envs = {}, {}
            for name in services:
                envs[name] = self.service_env(name, st)
                procs[name] = self.start_service(st, name, envs[name])
            for name, proc in procs.items():
                # st.wait_until gives up as soon as any process exits (a
                # setting the worker refuses), instead of after the timeout.
                st.wait_until(lambda p=proc: http_status(p.http_port, "/readyz") == 200, 60,
                              "%s (%s) to report ready" % (name, proc.label), interval=0.1)
                hc = self.healthcheck(name, proc)
                if hc is not None:
                    self.assertEqual(hc[0], 0, "the image's HEALTHCHECK fails against %s: %s"
                                     % (name, hc[1]))

            for name in gateways:
                proc = procs[name]
                with self.subTest(service=name):
                    port = int(envs[name]["INGEST_PORT"])
                    addrs = listening_addresses(port)
                    self.assertTrue(addrs, "nothing listens on INGEST_PORT %d" % port)
                    for a in addrs:
                        self.assertEqual(set(a), {"0"}, "%s listens on %s, not on every "
                                         "interface: the published port cannot reach it"
                                         % (name, a))
                    status, text = http_get(proc.http_port, "/metrics")
                    self.assertEqual(status, 200)
                    self.assertRegex(text, r"(?m)^# TYPE aftercare_ingest_requests_total "
                                     r"counter$", "/metrics declares the gateway's requests")

            event = gen_events.orders_placed(1, seed=20250101)[0]
            order_env = env_map(FILES.services[order_svc])
            st.produce(effective("order-worker", order_env, "KAFKA_TOPIC"),
                       [gen_events.encode(event)])
            stats = st.wait_until(
                lambda: (lambda s: s if s["delivered"] or s["bad_signatures"] else None)(
                    st.sink_stats()), 60, "the order confirmation at the mock provider",
                interval=0.2)
            self.assertEqual(stats["bad_signatures"], 0, "signed with the mock's secret")
            self.assertEqual(stats["by_kind"], {"order_confirmation": 1})
            (msg,) = st.sink_messages()
            self.assertEqual(str(msg["order_id"]), str(event["order"]["id"]))
            self.assertEqual(msg["event_id"], event["event_id"])

            # An order posted to each gateway as a store's backend posts it
            # (Standard Webhooks, signed with the store's secret from the
            # mounted settings file) reaches the customer the same way.
            expected = [event]
            for i, name in enumerate(gateways):
                with open(host_file(name, envs[name]["STORE_SETTINGS"])) as f:
                    stores = json.load(f)["stores"]
                secrets = {sid: (s.get("events") or {}).get("webhook_secret")
                           for sid, s in stores.items()}
                candidates = [e for e in gen_events.orders_placed(20, seed=20250102 + i)
                              if secrets.get(e["store"]["id"])]
                self.assertTrue(candidates, "%s: no store with an events secret in %s"
                                % (name, envs[name]["STORE_SETTINGS"]))
                posted = candidates[0]
                status, text = platforms.events(int(envs[name]["INGEST_PORT"]),
                                                posted["store"]["id"],
                                                secrets[posted["store"]["id"]], posted)
                self.assertEqual(status, 200, "%s answers a signed order: %s" % (name, text))
                expected.append(posted)
                metrics = st.metrics(procs[name])
                self.assertGreaterEqual(metrics.value("aftercare_ingest_requests_total"), 1,
                                        "%s counts the request" % name)
                self.assertGreaterEqual(
                    metrics.value("aftercare_ingest_events_produced_total"), 1,
                    "%s counts the event it produced" % name)
            stats = st.wait_until(
                lambda: (lambda s: s if s["delivered"] >= len(expected) or s["bad_signatures"]
                         else None)(st.sink_stats()), 60,
                "the gateways' order confirmations at the mock provider", interval=0.2)
            self.assertEqual(stats["bad_signatures"], 0)
            self.assertEqual(stats["by_kind"], {"order_confirmation": len(expected)})
            self.assertEqual(sorted(str(m["order_id"]) for m in st.sink_messages()),
                             sorted(str(e["order"]["id"]) for e in expected))

            for name, proc in procs.items():
                grace = parse_duration(FILES.services[name].get("stop_grace_period", "10s"))
                rc = st.kill(proc, signal.SIGTERM, timeout=grace)
                self.assertEqual(rc, 0, "%s exits 0 on SIGTERM within stop_grace_period" % name)
        print("\ncompose configuration: %d services ready (%d gateway), orders confirmed "
              "(%d through a gateway) and stopped in %.1fs"
              % (len(procs), len(gateways), len(expected) - 1, time.monotonic() - t0))


if __name__ == "__main__":
    unittest.main()
