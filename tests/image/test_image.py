"""The container image, run for real (make test-image).

tools/test-image.sh builds the image with make image and runs this with
    AC_TEST_IMAGE            the image (aftercare:latest)
    AC_TEST_ENGINE           the engine's command (podman --runtime runc)
    AC_TEST_ENGINE_RUN_ARGS  what every `run` needs on this host (host
                             network, explicit ulimits) and the label by
                             which test-image.sh removes what is left
    AC_BIN_DIR               the host build, for the dev stack (devbroker,
                             redis-server, ac-sink) the containers talk to

Every container runs as the deployment runs it: the user, read-only root
file system, dropped capabilities and no-new-privileges of the compose
file's aftercare services, which must be the same as deploy/'s
securityContext; the compose file's mounts and environment, with only the
addresses and ports made the host's. So a runtime library missing from the
image, a binary copied to the wrong path, a file the user cannot read or a
write to the root file system fails here, as it would in a cluster.
"""

import glob
import json
import os
import re
import shlex
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "docker"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import yaml  # noqa: E402

import test_docker as td  # noqa: E402
from stack import Container  # noqa: E402

IMAGE = os.environ.get("AC_TEST_IMAGE", "")
ENGINE = shlex.split(os.environ.get("AC_TEST_ENGINE", ""))
RUN_ARGS = shlex.split(os.environ.get("AC_TEST_ENGINE_RUN_ARGS", ""))


def setUpModule():
    if not IMAGE or not ENGINE:
        raise RuntimeError("AC_TEST_IMAGE and AC_TEST_ENGINE are not set: run make test-image")
    td.setUpModule()


def project_version():
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        return re.search(r"project\(aftercare VERSION ([0-9.]+)", f.read()).group(1)


def compose_security(svc):
    """The run options a compose service's security settings amount to, as
    a set of (option, value) pairs: user, read-only root, capabilities,
    no-new-privileges."""
    out = set()
    if svc.get("user"):
        out.add(("--user", str(svc["user"])))
    if svc.get("read_only"):
        out.add(("--read-only", None))
    for cap in svc.get("cap_drop") or []:
        out.add(("--cap-drop", cap))
    for cap in svc.get("cap_add") or []:
        out.add(("--cap-add", cap))
    for opt in svc.get("security_opt") or []:
        if opt in ("no-new-privileges", "no-new-privileges:true"):
            out.add(("--security-opt", "no-new-privileges"))
        else:
            out.add(("--security-opt", opt))
    return out


def deploy_security(container, pod):
    """The same for a Kubernetes container's and pod's securityContext."""
    psc, sc = pod.get("securityContext") or {}, container.get("securityContext") or {}
    uid = sc.get("runAsUser", psc.get("runAsUser"))
    gid = sc.get("runAsGroup", psc.get("runAsGroup"))
    out = set()
    if uid is not None:
        out.add(("--user", "%s:%s" % (uid, gid) if gid is not None else str(uid)))
    if sc.get("readOnlyRootFilesystem"):
        out.add(("--read-only", None))
    caps = sc.get("capabilities") or {}
    for cap in caps.get("drop") or []:
        out.add(("--cap-drop", cap))
    for cap in caps.get("add") or []:
        out.add(("--cap-add", cap))
    if sc.get("allowPrivilegeEscalation") is False:
        out.add(("--security-opt", "no-new-privileges"))
    return out


def deployments():
    """{(file, container name): (container, pod spec)} of deploy/base."""
    out = {}
    for path in sorted(glob.glob(os.path.join(REPO, "deploy", "base", "*.yaml"))):
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if not isinstance(doc, dict) or doc.get("kind") != "Deployment":
                    continue
                pod = doc["spec"]["template"]["spec"]
                for c in pod.get("containers") or []:
                    out[(os.path.basename(path), c["name"])] = (c, pod)
    return out


def security_args(pairs):
    args = []
    for opt, value in sorted(pairs, key=lambda p: (p[0], p[1] or "")):
        args += [opt] if value is None else [opt, value]
    if "--read-only" in args and ENGINE and os.path.basename(ENGINE[0]) == "podman":
        # podman, unlike docker and Kubernetes, mounts writable tmpfs on
        # /tmp, /var/tmp and /run of a read-only container unless told not
        # to; a worker that needed them would pass here and fail there.
        args.append("--read-only-tmpfs=false")
    return args


def service_args(name):
    """`run` options for a compose service: its security settings, its
    bind mounts (read-only where the compose file says so) and its tmpfs
    mounts, the only places a read-only container could write."""
    svc = td.FILES.services[name]
    args = security_args(compose_security(svc))
    for source, target, ro in td.bind_mounts(svc):
        args += ["--volume", "%s:%s%s" % (source, target, ":ro" if ro else "")]
    tmpfs = svc.get("tmpfs") or []
    for path in [tmpfs] if isinstance(tmpfs, str) else tmpfs:
        args += ["--tmpfs", path]
    return args


def run(args, entrypoint, timeout=60):
    """Runs the image once, as the aftercare services run, with entrypoint
    and args; returns the CompletedProcess."""
    svc = td.FILES.services[next(iter(td.FILES.aftercare))]
    argv = ENGINE + ["run", "--rm", "--no-healthcheck"] + RUN_ARGS + \
        security_args(compose_security(svc)) + \
        ["--entrypoint", entrypoint, IMAGE] + list(args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


class SecurityContextTest(unittest.TestCase):
    """The compose file and deploy/ run the image the same way, so running
    it the compose way here also tests the way Kubernetes runs it."""

    def test_compose_services_match_deploy(self):
        deps = deployments()
        self.assertTrue(deps, "no Deployment in deploy/base")
        compose = {n: compose_security(s) for n, s in td.FILES.aftercare.items()}
        for name, want in compose.items():
            with self.subTest(service=name):
                self.assertIn(("--read-only", None), want, "read_only")
                self.assertIn(("--cap-drop", "ALL"), want, "cap_drop")
        for where, (c, pod) in deps.items():
            with self.subTest(deployment=where):
                got = deploy_security(c, pod)
                for name, want in compose.items():
                    self.assertEqual(got, want, "deploy/base/%s container %s runs the image "
                                     "unlike compose service %s" % (where[0], where[1], name))


class ImageTest(unittest.TestCase):
    """What is in the image and how it runs, without a stack."""

    def inspect(self):
        r = subprocess.run(ENGINE + ["image", "inspect", IMAGE], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)[0]

    def test_configuration(self):
        info = self.inspect()
        cfg = info["Config"]
        self.assertEqual(cfg.get("User"), "10001:10001")
        self.assertEqual(cfg.get("Entrypoint"), ["/usr/local/bin/order-worker"])
        # docker keeps it in Config, podman beside it; an OCI-format build
        # drops it altogether.
        check = cfg.get("Healthcheck") or info.get("Healthcheck") or {}
        self.assertTrue(check.get("Test"), "the image lost its HEALTHCHECK (OCI format?)")
        self.assertEqual(check["Test"][1:],
                         td.FILES.dockerfile.healthcheck(td.FILES.dockerfile.final),
                         "the image's HEALTHCHECK is the Dockerfile's")

    def test_every_binary_answers_help_and_version(self):
        version = project_version()
        binaries = sorted(td.FILES.copied)
        self.assertIn("order-worker", binaries)
        for name in binaries:
            path = td.FILES.copied[name]
            with self.subTest(binary=name):
                r = run(["--version"], path)
                self.assertEqual(r.returncode, 0, "%s --version: %s" % (name, r.stderr))
                self.assertRegex(r.stdout, r"^%s %s\b" % (re.escape(name), re.escape(version)))
                r = run(["--help"], path)
                self.assertEqual(r.returncode, 0, "%s --help: %s" % (name, r.stderr))
                self.assertRegex(r.stdout, r"(?mi)^usage: %s\b" % re.escape(name))

    def test_runs_unprivileged_on_a_read_only_root(self):
        # What the process is and may do, asked from inside as the
        # services run: uid and gid, effective capabilities, whether the
        # root file system and the binaries can be written.
        script = ("id -u; id -g; grep ^CapEff: /proc/self/status; "
                  "grep ^NoNewPrivs: /proc/self/status; "
                  "touch /usr/local/bin/x 2>/dev/null && echo bin-writable; "
                  "touch /tmp/x 2>/dev/null && echo tmp-writable; "
                  "for t in gcc cc make cmake apt-get python3 curl; do command -v $t; done; "
                  "true")
        r = run(["-c", script], "/bin/sh")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.split("\n")
        self.assertEqual(lines[0:2], ["10001", "10001"], "uid and gid")
        self.assertRegex(lines[2], r"^CapEff:\s+0+$", "no effective capabilities")
        self.assertRegex(lines[3], r"^NoNewPrivs:\s+1$", "no-new-privileges")
        self.assertNotIn("bin-writable", r.stdout)
        self.assertNotIn("tmp-writable", r.stdout, "the root file system is read-only")
        # The runtime stage has no compiler or build tools; apt-get is
        # Debian's own and stays.
        found = [os.path.basename(p) for p in lines[4:] if p.startswith("/")]
        self.assertEqual([f for f in found if f != "apt-get"], [],
                         "build tools in the runtime image")


class ImageComposeLiveTest(td.ComposeWiringLiveTest):
    """tests/docker's live compose test, each aftercare service in its
    container: readiness, the image's own HEALTHCHECK, an order placed on
    Kafka and orders posted to the ingest gateway confirmed at the mock
    provider, and exit 0 on SIGTERM."""

    def service_env(self, name, st):
        return td.live_overrides(name, st, in_container=True)

    def start_service(self, st, name, env):
        argv = td.FILES.argv(name)
        # Health checks are run on demand below; without systemd there is
        # no timer to run them.
        args = RUN_ARGS + service_args(name)
        if os.path.basename(ENGINE[0]) == "podman":
            args += ["--health-interval", "disable"]
        container = Container(ENGINE, IMAGE, args, entrypoint=argv[0], command=argv[1:])
        return st.start_worker(td.FILES.binary_of(name), env, wait=False, container=container)

    def healthcheck(self, name, proc):
        """podman runs the image's HEALTHCHECK on demand; docker's daemon
        runs it on its own schedule, so there the state it records is
        awaited (through the image's start period and first interval)."""
        if os.path.basename(ENGINE[0]) == "podman":
            r = subprocess.run(ENGINE + ["healthcheck", "run", proc.container_name],
                               capture_output=True, text=True, timeout=60)
            return r.returncode, (r.stdout + r.stderr).strip()
        deadline = time.monotonic() + 90
        while True:
            r = subprocess.run(ENGINE + ["inspect", "--format", "{{json .State.Health}}",
                                         proc.container_name],
                               capture_output=True, text=True, timeout=60)
            health = json.loads(r.stdout or "null") or {}
            if health.get("Status") in ("healthy", "unhealthy") or \
                    time.monotonic() > deadline:
                return (0 if health.get("Status") == "healthy" else 1), r.stdout.strip()
            time.sleep(1)


if __name__ == "__main__":
    unittest.main()
