"""Checks the Kubernetes manifests in deploy/ offline.

Every overlay in deploy/overlays is rendered with `kubectl kustomize` and
  - validated against Kubernetes, KEDA and Prometheus Operator schemas by
    validate.mjs (npm packages in package.json, installed here by `npm ci`);
  - checked against what the workers and the ingest gateway need and
    accept: restricted security context, probes on the paths and port the
    binaries serve, a termination grace period above SHUTDOWN_TIMEOUT, a
    PodDisruptionBudget, an autoscaler bounded by the topic's partitions and
    agreeing with the worker's topic, group and brokers (the gateway's: on
    CPU, never below two), a PodMonitor, a NetworkPolicy, settings the binary
    accepts (`<binary> --help`), alerts on metrics the binaries export; for
    the gateway also its Service, its Ingress (TLS, webhook paths only), its
    topics against the workers' and its STORE_SETTINGS file and the Secret
    files that file names;
  - run for real: each Deployment's binary starts with the rendered settings
    (and the gateway with its mounted files) against a throwaway stack
    (tests/integration/stack.py) and must answer its probe paths with 200 and
    /metrics with aftercare_ metrics; the gateway also its webhook port, and
    it must declare every metric family of its contract.

    cd tests/deploy && AC_BIN_DIR=/path/to/build/bin python3 -m unittest -v test_deploy

AC_DEPLOY_REDIS=single or cluster checks only the overlays for one Redis or
for a Redis Cluster (REDIS_CLUSTER=on): ctest runs the two apart
(deploy_manifests, deploy_manifests_cluster), so that the cluster overlay,
which needs issue 16's cluster client in the binaries, fails on its own
until that lands. Unset, every overlay is checked.

Needs kubectl (kustomize built in), node and npm (a registry only when
node_modules is missing or stale), redis-server, and the built binaries in
$AC_BIN_DIR (default build/bin).
"""

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import unittest
import urllib.error
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEPLOY = os.path.join(REPO, "deploy")
OVERLAYS_DIR = os.path.join(DEPLOY, "overlays")

sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import stack  # noqa: E402  (tests/integration/stack.py)

# Each worker, the topic it consumes. The image holds every binary.
WORKERS = {
    "order-worker": "orders",
    "shipment-worker": "shipments",
    "return-worker": "returns",
    "notify-worker": "notifications",
}
# The ingest gateway: an HTTP server, not a consumer. Its topic settings
# name the topics of the workers that read what it produces.
GATEWAY = "ingest-gateway"
GATEWAY_TOPICS = {"TOPIC_ORDERS": "order-worker", "TOPIC_SHIPMENTS": "shipment-worker",
                  "TOPIC_RETURNS": "return-worker"}
# The Secret holding the stores' platform secrets, which only the gateway
# mounts, and the fields of STORE_SETTINGS that hold secrets (each may be
# given inline, as <field>_env or as <field>_file).
PLATFORM_SECRETS = "aftercare-platform-secrets"
SECRET_FIELDS = ("webhook_secret", "api_token", "client_secret")
DEPLOYMENTS = sorted(list(WORKERS) + [GATEWAY])
IMAGE = "ghcr.io/aftercare/aftercare"
UID = 10001

# Which autoscaler each overlay must have (None: none at all). A new overlay
# fails the tests until it is listed here.
OVERLAYS = {
    "dev": None,
    "prod": "ScaledObject",
    "prod-hpa": "HorizontalPodAutoscaler",
    "prod-cluster": "ScaledObject",
}
# Overlays that must render the same replica bounds and partition counts.
SAME_BOUNDS = [("prod", "prod-hpa"), ("prod", "prod-cluster")]
# Which overlays this run checks (module documentation): "single", "cluster"
# or all.
REDIS_MODE = os.environ.get("AC_DEPLOY_REDIS", "")
# Kubernetes' dependent environment variables: $(NAME) in an env value is
# replaced by an earlier variable's value; $$( escapes it.
ENV_REFERENCE = re.compile(r"(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)")

PARTITIONS_ANNOTATION = "aftercare.io/topic-partitions"

# The metrics the workers export (the contract), and the few from elsewhere
# that the alerts may use: Prometheus' own scrape health and kube-state-metrics.
AFTERCARE_METRICS = {
    "aftercare_consumer_lag", "aftercare_partition_stalled",
    "aftercare_events_consumed_total", "aftercare_events_processed_total",
    "aftercare_events_dead_lettered_total", "aftercare_messages_sent_total",
    "aftercare_messages_failed_total", "aftercare_messages_retried_total",
    "aftercare_messages_dead_lettered_total", "aftercare_provider_requests_total",
    "aftercare_redis_errors_total", "aftercare_scheduled_pending",
    "aftercare_watermark_lag_seconds", "aftercare_circuit_open",
}
# The gateway's, which its /metrics must declare (the live test checks).
GATEWAY_METRICS = {
    "aftercare_ingest_requests_total", "aftercare_ingest_signature_failures_total",
    "aftercare_ingest_events_produced_total", "aftercare_ingest_ignored_total",
    "aftercare_ingest_waiting", "aftercare_ingest_bigcommerce_jobs",
    "aftercare_ingest_dead_letters_total",
}
GATEWAY_HISTOGRAMS = {"aftercare_ingest_request_duration_seconds"}
AFTERCARE_METRICS |= GATEWAY_METRICS
AFTERCARE_HISTOGRAMS = ({"aftercare_event_processing_seconds", "aftercare_message_delivery_seconds"}
                        | GATEWAY_HISTOGRAMS)
ALLOWED_ALERT_METRICS = (AFTERCARE_METRICS
                         | {h + s for h in AFTERCARE_HISTOGRAMS for s in ("_bucket", "_sum", "_count")})
EXTERNAL_ALERT_METRICS = {"up", "kube_deployment_status_replicas_unavailable"}


# Settings the live check replaces with the throwaway stack's, and librdkafka
# properties that describe how to reach the real brokers (SASL, TLS), which
# the stack's plaintext broker cannot offer.
STACK_SETTINGS = {"KAFKA_BROKERS", "REDIS_URL", "HTTP_PORT", "INGEST_PORT"}
BROKER_SECURITY = re.compile(r"^RDKAFKA_(SECURITY_PROTOCOL|SASL_|SSL_)")


# ----------------------------------------------------------------- helpers

def run(argv, timeout=120, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)


def parse_duration_s(text):
    """'20s', '1m30s', '500ms', '7d' -> seconds (float)."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    text = str(text).strip()
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError("not a duration: %r" % text)
    return sum(float(n) * units[u] for n, u in parts)


def parse_nginx_size(text):
    """ingress-nginx's proxy-body-size ('1m', '512k', '8192') -> bytes."""
    m = re.fullmatch(r"(\d+)([kKmMgG]?)", str(text).strip())
    if not m:
        raise ValueError("not a size: %r" % text)
    return int(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]


def prestop_seconds(container):
    """How long a container's preStop hook delays its SIGTERM: a sleep
    action or an exec of `sleep N`; 0 without a hook."""
    pre = (container.get("lifecycle") or {}).get("preStop")
    if not pre:
        return 0.0
    if "sleep" in pre:
        return float(pre["sleep"]["seconds"])
    cmd = (pre.get("exec") or {}).get("command") or []
    if len(cmd) == 2 and os.path.basename(cmd[0]) == "sleep":
        return float(cmd[1]) if re.fullmatch(r"\d+(\.\d+)?", cmd[1]) else parse_duration_s(cmd[1])
    raise AssertionError("a preStop hook this check cannot time: %s" % pre)


_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
             "group_right", "offset", "bool", "inf", "nan"}


def promql_metric_names(expr):
    """The metric names a PromQL expression selects (a lexical scan: strings,
    label matchers, ranges and grouping clauses removed; what remains and is
    neither a function call, a keyword nor part of a number is a metric)."""
    if "__name__" in expr:
        raise ValueError("selects metrics by __name__, which this check cannot follow")
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", s):
        tok = m.group(0)
        if m.start() > 0 and (s[m.start() - 1].isdigit() or s[m.start() - 1] == "."):
            continue  # 1e3, 0.5e-2
        if re.match(r"\s*\(", s[m.end():]) or tok.lower() in _KEYWORDS:
            continue
        names.add(tok)
    return names


_help_cache = {}


def worker_settings(worker):
    """(names, defaults) from `<worker> --help`: the setting names in its left
    column and their documented defaults."""
    if worker in _help_cache:
        return _help_cache[worker]
    r = run([stack.binary(worker), "--help"], timeout=30)
    if r.returncode != 0:
        raise AssertionError("%s --help exited %d: %s" % (worker, r.returncode, r.stderr))
    names, defaults, last = set(), {}, None
    for line in r.stdout.splitlines():
        m = re.match(r"^  ([A-Z][A-Z0-9_]*)\s+--", line)
        if m:
            last = m.group(1)
            names.add(last)
            continue
        m = re.match(r"^\s+default: (\S+)", line)
        if m and last:
            defaults[last] = m.group(1)
    if "KAFKA_BROKERS" not in names:
        raise AssertionError("could not parse %s --help:\n%s" % (worker, r.stdout))
    if not re.search(r"^  RDKAFKA_<PROPERTY>", r.stdout, re.M):
        raise AssertionError("%s --help no longer documents RDKAFKA_<PROPERTY>" % worker)
    _help_cache[worker] = (names, defaults)
    return names, defaults


def effective(render, d, binary, setting):
    """The value a Deployment's binary uses for a setting: its rendered
    environment, else the default `<binary> --help` documents (None if
    neither)."""
    value = render.container_env(d).get(setting, (None,))[0]
    return value if value is not None else worker_settings(binary)[1].get(setting)


def container_port(container, ref):
    """A container port by name or number -> its number (None if absent)."""
    for p in container.get("ports") or []:
        if ref in (p.get("name"), p["containerPort"]):
            return p["containerPort"]
    return None


def secret_references(settings):
    """[(json path, field, value)] of every secret reference (<field>_env,
    <field>_file) and inline secret (<field>) in a STORE_SETTINGS document."""
    out = []

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                for field in SECRET_FIELDS:
                    if k in (field, field + "_env", field + "_file"):
                        out.append(("%s.%s" % (path, k), k, v))
                walk(v, "%s.%s" % (path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, "%s[%d]" % (path, i))

    walk(settings, "$")
    return out


def labels_match(selector, labels):
    """Does a LabelSelector (matchLabels and matchExpressions) select labels?"""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        k, op, vals = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and labels.get(k) in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


class Render:
    """The objects of one rendered overlay."""

    def __init__(self, name, text):
        self.name = name
        self.text = text
        self.objects = [d for d in yaml.safe_load_all(text) if d]

    def of(self, kind):
        return [o for o in self.objects if o.get("kind") == kind]

    def get(self, kind, name, namespace=None):
        for o in self.of(kind):
            md = o.get("metadata", {})
            if md.get("name") == name and (namespace is None or md.get("namespace") == namespace):
                return o
        return None

    def deployments(self):
        return {d["metadata"]["labels"]["app.kubernetes.io/component"]: d
                for d in self.of("Deployment")}

    def container_env(self, deployment):
        """{name: (value or None when it is not in the render, source)} as the
        kubelet would build it: envFrom in order, then env."""
        ns = deployment["metadata"].get("namespace")
        c = deployment["spec"]["template"]["spec"]["containers"][0]
        env = {}
        for src in c.get("envFrom") or []:
            if "configMapRef" in src:
                cm = self.get("ConfigMap", src["configMapRef"]["name"], ns)
                if cm is None:
                    raise AssertionError("%s: envFrom ConfigMap %s is not in the render"
                                         % (self.name, src["configMapRef"]["name"]))
                for k, v in (cm.get("data") or {}).items():
                    env[k] = (v, "configmap")
            elif "secretRef" in src:
                sec = self.get("Secret", src["secretRef"]["name"], ns)
                for k, v in ((sec or {}).get("data") or {}).items():
                    env[k] = (base64.b64decode(v).decode(), "secret")
        for e in c.get("env") or []:
            if "value" in e:
                env[e["name"]] = (e["value"], "literal")
                continue
            vf = e.get("valueFrom") or {}
            if "configMapKeyRef" in vf:
                ref = vf["configMapKeyRef"]
                cm = self.get("ConfigMap", ref["name"], ns) or {}
                env[e["name"]] = ((cm.get("data") or {}).get(ref["key"]), "configmap")
            elif "secretKeyRef" in vf:
                ref = vf["secretKeyRef"]
                sec = self.get("Secret", ref["name"], ns)
                val = None
                if sec and ref["key"] in (sec.get("data") or {}):
                    val = base64.b64decode(sec["data"][ref["key"]]).decode()
                env[e["name"]] = (val, "secret")
            else:
                env[e["name"]] = (None, "field")
        return env

    def volume_files(self, volume, namespace):
        """{file name: bytes} a configMap or secret volume mounts, or None
        when its ConfigMap or Secret is not in the render."""
        if "configMap" in volume:
            src = volume["configMap"]
            obj = self.get("ConfigMap", src["name"], namespace)
            if obj is None:
                return None
            data = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
            data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
        elif "secret" in volume:
            src = volume["secret"]
            obj = self.get("Secret", src["secretName"], namespace)
            if obj is None:
                return None
            data = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
            data.update({k: v.encode() for k, v in (obj.get("stringData") or {}).items()})
        else:
            raise AssertionError("not a configMap or secret volume: %s" % volume)
        if src.get("items"):
            data = {i["path"]: data[i["key"]] for i in src["items"] if i["key"] in data}
        return data

    def mounts(self, deployment):
        """[(mountPath, volume)] of the first container's volume mounts."""
        pod = deployment["spec"]["template"]["spec"]
        vols = {v["name"]: v for v in pod.get("volumes") or []}
        out = []
        for m in pod["containers"][0].get("volumeMounts") or []:
            if m.get("subPath") or m.get("subPathExpr"):
                raise AssertionError("%s: subPath mounts are not followed by these checks"
                                     % m["name"])
            out.append((m["mountPath"].rstrip("/"), vols[m["name"]]))
        return out

    def mounted_file(self, deployment, path):
        """(volume, file name, bytes or None) of the file at path in the
        container, from the render; None when no mount holds path."""
        ns = deployment["metadata"].get("namespace")
        for mount, vol in sorted(self.mounts(deployment), key=lambda m: -len(m[0])):
            if path.startswith(mount + "/"):
                name = path[len(mount) + 1:]
                if "configMap" not in vol and "secret" not in vol:
                    return vol, name, None
                files = self.volume_files(vol, ns)
                return vol, name, None if files is None else files.get(name)
        return None

    def autoscalers(self):
        """{worker: (kind, object)} for ScaledObjects and HPAs."""
        out = {}
        for kind in ("ScaledObject", "HorizontalPodAutoscaler"):
            for o in self.of(kind):
                target = o["spec"]["scaleTargetRef"]["name"]
                if target in out:
                    raise AssertionError("%s: %s has two autoscalers" % (self.name, target))
                out[target] = (kind, o)
        return out


def bounds(kind, obj):
    spec = obj["spec"]
    if kind == "ScaledObject":
        # KEDA's defaults when the fields are left out.
        return spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
    return spec.get("minReplicas", 1), spec["maxReplicas"]


# -------------------------------------------------------------- module setup

RENDERS = {}


def ensure_node_modules():
    """npm ci when node_modules is missing or was installed from another
    package-lock.json; fails with a clear message when npm cannot."""
    lock = os.path.join(HERE, "package-lock.json")
    stamp = os.path.join(HERE, "node_modules", ".aftercare-lock.sha256")
    with open(lock, "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    try:
        with open(stamp) as f:
            if f.read().strip() == want:
                return
    except FileNotFoundError:
        pass
    npm = shutil.which("npm")
    if not npm:
        raise AssertionError("npm not found: install Node.js and npm (apt-get install nodejs npm)")
    r = run([npm, "ci", "--no-audit", "--no-fund"], timeout=300, cwd=HERE)
    if r.returncode != 0:
        raise AssertionError(
            "`npm ci` in %s failed (exit %d), so the schema packages are not installed. Without "
            "access to the npm registry, copy a tests/deploy/node_modules installed from the same "
            "package-lock.json. npm said:\n%s" % (HERE, r.returncode, (r.stderr or r.stdout)[-3000:]))
    with open(stamp, "w") as f:
        f.write(want + "\n")


def setUpModule():
    if not shutil.which("kubectl"):
        raise AssertionError("kubectl not found: it renders the overlays (kubectl kustomize)")
    if not shutil.which("node"):
        raise AssertionError("node not found: it runs validate.mjs")
    ensure_node_modules()
    names = sorted(d for d in os.listdir(OVERLAYS_DIR)
                   if os.path.isfile(os.path.join(OVERLAYS_DIR, d, "kustomization.yaml")))
    unknown = set(names) ^ set(OVERLAYS)
    if unknown:
        raise AssertionError("overlays on disk %s and in OVERLAYS %s differ: %s"
                             % (names, sorted(OVERLAYS), sorted(unknown)))
    for name in ["base"] + names:
        path = os.path.join(DEPLOY, "base") if name == "base" else os.path.join(OVERLAYS_DIR, name)
        r = run(["kubectl", "kustomize", path])
        if r.returncode != 0:
            raise AssertionError("kubectl kustomize %s failed:\n%s" % (path, r.stderr))
        RENDERS[name] = Render(name, r.stdout)
    if REDIS_MODE not in ("", "single", "cluster"):
        raise AssertionError("AC_DEPLOY_REDIS=%s: single, cluster or unset" % REDIS_MODE)
    if not overlays():
        raise AssertionError("no overlay for AC_DEPLOY_REDIS=%s: the run would check nothing"
                             % REDIS_MODE)


def redis_cluster_mode(render):
    """Whether an overlay's Deployments run against a Redis Cluster
    (REDIS_CLUSTER=on); raises when they disagree."""
    modes = {worker: (render.container_env(d).get("REDIS_CLUSTER", (None,))[0] or "auto")
             for worker, d in render.deployments().items()}
    if len(set(modes.values())) != 1:
        raise AssertionError("%s: the Deployments disagree on REDIS_CLUSTER: %s"
                             % (render.name, modes))
    return set(modes.values()) == {"on"}


def overlays():
    """(name, render) of the overlays this run checks (REDIS_MODE)."""
    out = []
    for n in OVERLAYS:
        cluster = redis_cluster_mode(RENDERS[n])
        if REDIS_MODE == "" or (REDIS_MODE == "cluster") == cluster:
            out.append((n, RENDERS[n]))
    return out


def env_references(container):
    """{name: [names its value refers to with $(...)]} of a container's env
    entries, in order."""
    return [(e["name"], ENV_REFERENCE.findall(e.get("value") or ""))
            for e in container.get("env") or []]


# ------------------------------------------------------------------- tests

class SchemaTest(unittest.TestCase):
    def test_validator_rejects_bad_objects(self):
        """validate.mjs must reject an unknown field, a wrong type, a missing
        required field and an unknown kind before its 'valid' means anything."""
        r = run(["node", os.path.join(HERE, "validate.mjs"), "--self-test"], cwd=HERE)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("self-test: ok", r.stdout)

    def test_every_render_is_valid(self):
        for name, render in RENDERS.items():
            with self.subTest(render=name):
                r = run(["node", os.path.join(HERE, "validate.mjs"), "-"], input=render.text,
                        cwd=HERE)
                self.assertEqual(r.returncode, 0, "%s:\n%s%s" % (name, r.stdout, r.stderr))

    def test_expected_objects(self):
        for name, render in overlays():
            with self.subTest(overlay=name):
                self.assertEqual(sorted(render.deployments()), DEPLOYMENTS)
                for worker, d in render.deployments().items():
                    self.assertEqual(d["metadata"]["name"], worker)
                ns = {o["metadata"].get("namespace") for o in render.objects
                      if o["kind"] != "Namespace"}
                self.assertEqual(len(ns), 1, "objects in several namespaces: %s" % ns)
                nsobj = render.of("Namespace")
                self.assertEqual([n["metadata"]["name"] for n in nsobj], list(ns))
                labels = nsobj[0]["metadata"].get("labels", {})
                self.assertEqual(labels.get("pod-security.kubernetes.io/enforce"), "restricted")


class WorkloadTest(unittest.TestCase):
    def each_deployment(self, check):
        """check(overlay name, render, worker, Deployment) for every worker
        (and the ingest gateway) of every overlay, each in its own subTest."""
        for name, render in overlays():
            for worker, d in sorted(render.deployments().items()):
                with self.subTest(overlay=name, worker=worker):
                    check(name, render, worker, d)

    def test_image_and_command(self):
        def check(name, render, worker, d):
            pod = d["spec"]["template"]["spec"]
            self.assertEqual(len(pod["containers"]), 1)
            c = pod["containers"][0]
            image, _, tag = c["image"].rpartition(":")
            self.assertEqual(image, IMAGE)
            self.assertTrue(tag and tag != "latest", "image tag not pinned: %s" % c["image"])
            self.assertEqual(c["command"], ["/usr/local/bin/%s" % worker])
            self.assertTrue(labels_match(d["spec"]["selector"], d["spec"]["template"]["metadata"]
                                         ["labels"]), "the selector misses its own pods")
            self.assertEqual(d["spec"]["selector"]["matchLabels"],
                             {"app.kubernetes.io/name": "aftercare",
                              "app.kubernetes.io/component": worker})

        self.each_deployment(check)

    def test_restricted_security_context(self):
        def check(name, render, worker, d):
            pod = d["spec"]["template"]["spec"]
            psc = pod.get("securityContext") or {}
            self.assertIs(psc.get("runAsNonRoot"), True, "pod runAsNonRoot")
            self.assertEqual(psc.get("runAsUser"), UID, "pod runAsUser")
            self.assertEqual(psc.get("runAsGroup"), UID, "pod runAsGroup")
            self.assertEqual((psc.get("seccompProfile") or {}).get("type"), "RuntimeDefault",
                             "pod seccompProfile")
            for host in ("hostNetwork", "hostPID", "hostIPC"):
                self.assertFalse(pod.get(host), host)
            self.assertIs(pod.get("automountServiceAccountToken"), False,
                          "pod automountServiceAccountToken")
            sa = render.get("ServiceAccount", pod.get("serviceAccountName"),
                            d["metadata"]["namespace"])
            self.assertIsNotNone(sa, "ServiceAccount %s not in the render"
                                 % pod.get("serviceAccountName"))
            self.assertIs(sa.get("automountServiceAccountToken"), False)
            c = pod["containers"][0]
            sc = c.get("securityContext") or {}
            self.assertIs(sc.get("runAsNonRoot"), True, "container runAsNonRoot")
            self.assertEqual(sc.get("runAsUser"), UID, "container runAsUser")
            self.assertEqual(sc.get("runAsGroup"), UID, "container runAsGroup")
            self.assertIs(sc.get("readOnlyRootFilesystem"), True, "readOnlyRootFilesystem")
            self.assertIs(sc.get("allowPrivilegeEscalation"), False, "allowPrivilegeEscalation")
            self.assertFalse(sc.get("privileged"), "privileged")
            caps = sc.get("capabilities") or {}
            self.assertEqual(caps.get("drop"), ["ALL"], "capabilities.drop")
            self.assertFalse(caps.get("add"), "capabilities.add")
            self.assertEqual((sc.get("seccompProfile") or {}).get("type"), "RuntimeDefault",
                             "container seccompProfile")
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts") or []}
            vols = {v["name"]: v for v in pod.get("volumes") or []}
            self.assertIn("/tmp", mounts, "no volume at /tmp")
            self.assertIn("emptyDir", vols.get(mounts["/tmp"], {}), "/tmp is not an emptyDir")

        self.each_deployment(check)

    def test_resources(self):
        def check(name, render, worker, d):
            res = d["spec"]["template"]["spec"]["containers"][0].get("resources") or {}
            for part in ("requests", "limits"):
                for what in ("cpu", "memory"):
                    self.assertIn(what, res.get(part) or {}, "%s.%s" % (part, what))

        self.each_deployment(check)

    def test_probes_match_http_port(self):
        def check(name, render, worker, d):
            c = d["spec"]["template"]["spec"]["containers"][0]
            http = [p for p in c.get("ports") or [] if p.get("name") == "http"]
            self.assertEqual(len(http), 1, "one container port named http")
            number = http[0]["containerPort"]
            env = render.container_env(d)
            _, defaults = worker_settings(worker)
            port_setting = env.get("HTTP_PORT", (defaults.get("HTTP_PORT"), "default"))[0]
            self.assertEqual(str(number), str(port_setting),
                             "port http is %s but HTTP_PORT is %s" % (number, port_setting))
            if worker == GATEWAY:
                ingest = effective(render, d, worker, "INGEST_PORT")
                self.assertEqual(str(container_port(c, "ingest")), str(ingest),
                                 "port ingest is %s but INGEST_PORT is %s"
                                 % (container_port(c, "ingest"), ingest))
                self.assertNotEqual(str(ingest), str(number), "webhooks and probes share a port")
            want = {"livenessProbe": "/healthz", "readinessProbe": "/readyz",
                    "startupProbe": "/healthz"}
            for probe, path in want.items():
                p = c.get(probe)
                self.assertIsNotNone(p, probe)
                get = p.get("httpGet")
                self.assertIsNotNone(get, "%s is not an httpGet" % probe)
                self.assertEqual(get.get("path"), path, probe)
                self.assertIn(get.get("port"), ("http", number),
                              "%s port %s is not the http port" % (probe, get.get("port")))
                self.assertIn(get.get("scheme", "HTTP"), ("HTTP",), probe)

        self.each_deployment(check)

    def test_grace_period_exceeds_shutdown_timeout(self):
        def check(name, render, worker, d):
            env = render.container_env(d)
            _, defaults = worker_settings(worker)
            value = env.get("SHUTDOWN_TIMEOUT", (None, None))[0] or defaults["SHUTDOWN_TIMEOUT"]
            pod = d["spec"]["template"]["spec"]
            grace = pod.get("terminationGracePeriodSeconds", 30)
            # The grace period runs from the start of the preStop hook.
            pre = prestop_seconds(pod["containers"][0])
            self.assertGreater(grace, pre + parse_duration_s(value),
                               "terminationGracePeriodSeconds %s <= preStop %gs + "
                               "SHUTDOWN_TIMEOUT %s" % (grace, pre, value))

        self.each_deployment(check)

    def test_settings_are_accepted_by_the_worker(self):
        def check(name, render, worker, d):
            known, _ = worker_settings(worker)
            # A variable that only feeds another's $(...) (the cluster
            # overlay's REDIS_PASSWORD into REDIS_URL) is the manifest's
            # input, not a setting.
            inputs = {r for _, refs in env_references(d["spec"]["template"]["spec"]
                                                      ["containers"][0]) for r in refs}
            unknown = sorted(v for v in render.container_env(d)
                             if v not in known and not v.startswith("RDKAFKA_")
                             and v not in inputs)
            self.assertFalse(unknown, "not settings of %s (see `%s --help`): %s"
                             % (worker, worker, unknown))

        self.each_deployment(check)

    def test_env_references_resolve(self):
        """$(NAME) expands only to a variable defined before it (envFrom,
        then earlier env entries); anything else stays in the value
        verbatim, e.g. a REDIS_URL with a literal "$(REDIS_PASSWORD)"."""
        def check(name, render, worker, d):
            c = d["spec"]["template"]["spec"]["containers"][0]
            defined = set()
            for src in c.get("envFrom") or []:
                if "configMapRef" in src:
                    cm = render.get("ConfigMap", src["configMapRef"]["name"],
                                    d["metadata"]["namespace"]) or {}
                    defined |= set((cm.get("data") or {}))
            for env_name, refs in env_references(c):
                for ref in refs:
                    self.assertTrue(ref in defined, "%s refers to $(%s), which is not "
                                    "defined before it" % (env_name, ref))
                defined.add(env_name)

        self.each_deployment(check)

    def test_secret_references(self):
        def check(name, render, worker, d):
            ns = d["metadata"]["namespace"]
            c = d["spec"]["template"]["spec"]["containers"][0]
            self.assertFalse([s for s in c.get("envFrom") or [] if "secretRef" in s],
                             "whole Secrets in envFrom would hand every worker every key")
            # The stores' platform secrets are the gateway's alone.
            allowed = ("aftercare-secrets",) + ((PLATFORM_SECRETS,) if worker == GATEWAY else ())
            for e in c.get("env") or []:
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if not ref:
                    continue
                self.assertTrue(ref["name"].startswith(allowed), ref["name"])
                sec = render.get("Secret", ref["name"], ns)
                if sec is not None and not ref.get("optional"):
                    self.assertIn(ref["key"], sec.get("data") or {},
                                  "required key %s missing from rendered Secret %s"
                                  % (ref["key"], ref["name"]))
            for v in d["spec"]["template"]["spec"].get("volumes") or []:
                if "secret" not in v:
                    continue
                name = v["secret"]["secretName"]
                self.assertEqual(worker, GATEWAY, "%s mounts Secret %s" % (worker, name))
                self.assertTrue(name.startswith(PLATFORM_SECRETS), name)
                # The operator creates it: without optional, no pod would
                # start before it exists, even with no store naming a file.
                if render.get("Secret", name, ns) is None:
                    self.assertIs(v["secret"].get("optional"), True,
                                  "Secret %s is not in the render and not optional" % name)

        self.each_deployment(check)

    def test_disruption_budget(self):
        def check(name, render, worker, d):
            labels = d["spec"]["template"]["metadata"]["labels"]
            pdbs = [p for p in render.of("PodDisruptionBudget")
                    if p["metadata"]["namespace"] == d["metadata"]["namespace"]
                    and labels_match(p["spec"].get("selector"), labels)]
            self.assertEqual(len(pdbs), 1, "PodDisruptionBudgets for %s: %d" % (worker, len(pdbs)))
            spec = pdbs[0]["spec"]
            scaler = render.autoscalers().get(worker)
            low = bounds(*scaler)[0] if scaler else d["spec"].get("replicas", 1)
            if "minAvailable" in spec:
                # Equal to the replica count, no voluntary eviction ever succeeds.
                self.assertLess(int(spec["minAvailable"]), low,
                                "minAvailable %s blocks every drain with %s replica(s)"
                                % (spec["minAvailable"], low))
            else:
                self.assertGreaterEqual(int(spec["maxUnavailable"]), 1)

        self.each_deployment(check)

    def test_autoscaler(self):
        def check(name, render, worker, d):
            want = OVERLAYS[name]
            scaler = render.autoscalers().get(worker)
            if want is None:
                self.assertIsNone(scaler, "%s wants no autoscaler" % name)
                return
            if worker == GATEWAY:
                self.check_gateway_autoscaler(render, d, scaler)
                return
            self.assertIsNotNone(scaler, "no %s for %s" % (want, worker))
            kind, obj = scaler
            self.assertEqual(kind, want)
            self.assertNotIn("replicas", d["spec"],
                             "an autoscaled Deployment must leave replicas to the autoscaler")
            ann = obj["metadata"].get("annotations") or {}
            self.assertIn(PARTITIONS_ANNOTATION, ann)
            partitions = int(ann[PARTITIONS_ANNOTATION])
            low, high = bounds(kind, obj)
            self.assertGreaterEqual(low, 1, "min replicas below 1 stops the scheduler")
            self.assertLessEqual(low, high)
            self.assertLessEqual(high, partitions,
                                 "max replicas %d > %d partitions of %s"
                                 % (high, partitions, WORKERS[worker]))
            env = render.container_env(d)
            _, defaults = worker_settings(worker)
            topic = env.get("KAFKA_TOPIC", (defaults.get("KAFKA_TOPIC"),))[0]
            group = env.get("KAFKA_GROUP", (defaults.get("KAFKA_GROUP"),))[0]
            self.assertEqual(topic, WORKERS[worker])
            if kind == "ScaledObject":
                triggers = obj["spec"]["triggers"]
                self.assertEqual(len(triggers), 1)
                t = triggers[0]
                self.assertEqual(t["type"], "kafka")
                md = t["metadata"]
                self.assertEqual(md.get("topic"), topic)
                self.assertEqual(md.get("consumerGroup"), group)
                self.assertEqual(md.get("bootstrapServers"), env["KAFKA_BROKERS"][0])
                self.assertGreater(int(md.get("lagThreshold", "0")), 0)
                self.assertNotEqual(md.get("allowIdleConsumers"), "true")
                auth = (t.get("authenticationRef") or {}).get("name")
                if auth:
                    ta = render.get("TriggerAuthentication", auth, d["metadata"]["namespace"])
                    self.assertIsNotNone(ta, "TriggerAuthentication %s not in the render" % auth)
                    for ref in ta["spec"].get("secretTargetRef") or []:
                        self.assertTrue(ref["name"].startswith("aftercare-secrets"))
                if env.get("RDKAFKA_SECURITY_PROTOCOL", ("",))[0].upper().startswith("SASL"):
                    self.assertTrue(auth, "the workers use SASL but the scaler has no credentials")
            else:
                self.assertEqual(obj["spec"]["scaleTargetRef"].get("kind"), "Deployment")
                lag = [m for m in obj["spec"].get("metrics") or [] if m["type"] == "External"]
                for m in lag:
                    sel = m["external"]["metric"].get("selector") or {}
                    self.assertEqual(m["external"]["metric"]["name"], "aftercare_consumer_lag")
                    self.assertEqual((sel.get("matchLabels") or {}).get("topic"), topic)

        self.each_deployment(check)

    def check_gateway_autoscaler(self, render, d, scaler):
        """The gateway, wherever an overlay autoscales: an HPA on CPU (there
        is no lag to scale on), never below two replicas."""
        self.assertIsNotNone(scaler, "no HorizontalPodAutoscaler for %s" % GATEWAY)
        kind, obj = scaler
        self.assertEqual(kind, "HorizontalPodAutoscaler")
        self.assertEqual(obj["spec"]["scaleTargetRef"].get("kind"), "Deployment")
        self.assertNotIn("replicas", d["spec"],
                         "an autoscaled Deployment must leave replicas to the autoscaler")
        low, high = bounds(kind, obj)
        self.assertGreaterEqual(low, 2, "one gateway replica leaves webhooks nowhere to go "
                                "while it restarts")
        self.assertLessEqual(low, high)
        metrics = obj["spec"].get("metrics") or []
        self.assertTrue(metrics)
        for m in metrics:
            self.assertEqual(m["type"], "Resource", "the gateway consumes no topic: %s" % m)
        self.assertIn("cpu", [m["resource"]["name"] for m in metrics])
        requests = d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
        self.assertIn("cpu", requests, "CPU utilization is relative to the request")

    def test_lag_thresholds_follow_the_capacity_plan(self):
        """Every KEDA trigger's lagThreshold is the one docs/capacity.md
        derives for its topic (the lag one replica clears in 30 s with the
        half of its capacity the plan leaves free)."""
        with open(os.path.join(REPO, "docs", "capacity.md"), encoding="utf-8") as f:
            text = f.read()
        section = text[text.index("### `lagThreshold`"):]
        section = section[:section.index("\n### ", 1)]
        rows = re.findall(r"^\| `([a-z]+)` \| [^|]+\| [^|]*\*\*([\d,]+)\*\* \|",
                          section, re.M)
        planned = {topic: int(v.replace(",", "")) for topic, v in rows}
        self.assertEqual(set(planned), set(WORKERS.values()), "the plan's lagThreshold table")
        seen = 0
        for name, render in overlays():
            for worker, (kind, obj) in sorted(render.autoscalers().items()):
                if kind != "ScaledObject":
                    continue
                md = obj["spec"]["triggers"][0]["metadata"]
                with self.subTest(overlay=name, worker=worker):
                    self.assertEqual(int(md["lagThreshold"]), planned[md["topic"]])
                    seen += 1
        self.assertGreater(seen, 0, "no overlay renders a ScaledObject")

    def test_bounds_agree_between_variants(self):
        for a, b in SAME_BOUNDS:
            sa, sb = RENDERS[a].autoscalers(), RENDERS[b].autoscalers()
            for worker in DEPLOYMENTS:
                with self.subTest(overlays=(a, b), worker=worker):
                    ka, oa = sa[worker]
                    kb, ob = sb[worker]
                    self.assertEqual(bounds(ka, oa), bounds(kb, ob))
                    self.assertEqual(
                        (oa["metadata"].get("annotations") or {}).get(PARTITIONS_ANNOTATION),
                        (ob["metadata"].get("annotations") or {}).get(PARTITIONS_ANNOTATION))

    def test_pod_monitor_covers_worker(self):
        def check(name, render, worker, d):
            labels = d["spec"]["template"]["metadata"]["labels"]
            ns = d["metadata"]["namespace"]
            found = []
            for pm in render.of("PodMonitor"):
                nssel = pm["spec"].get("namespaceSelector") or {}
                in_ns = (pm["metadata"]["namespace"] == ns or nssel.get("any")
                         or ns in (nssel.get("matchNames") or []))
                if in_ns and labels_match(pm["spec"].get("selector"), labels):
                    found += [e for e in pm["spec"].get("podMetricsEndpoints") or []
                              if e.get("port") == "http" and e.get("path", "/metrics") == "/metrics"]
            self.assertTrue(found, "no PodMonitor scrapes /metrics on port http of %s" % worker)

        self.each_deployment(check)

    def test_network_policy(self):
        def check(name, render, worker, d):
            labels = d["spec"]["template"]["metadata"]["labels"]
            ns = d["metadata"]["namespace"]
            pols = [p for p in render.of("NetworkPolicy")
                    if p["metadata"]["namespace"] == ns
                    and labels_match(p["spec"]["podSelector"], labels)]
            types = {t for p in pols for t in p["spec"].get("policyTypes") or []}
            self.assertEqual(types, {"Ingress", "Egress"}, "policy types selecting %s" % worker)
            c = d["spec"]["template"]["spec"]["containers"][0]
            # Scrapes on "http"; the gateway's webhooks on "ingest" too.
            names = ("http", "ingest") if worker == GATEWAY else ("http",)
            allowed = set(names) | {container_port(c, n) for n in names}
            admitted = set()
            for p in pols:
                for rule in p["spec"].get("ingress") or []:
                    self.assertTrue(rule.get("from"), "ingress from anywhere")
                    ports = [x.get("port") for x in rule.get("ports") or []]
                    self.assertTrue(ports and set(ports) <= allowed,
                                    "ingress to ports %s" % ports)
                    admitted |= set(ports)
            egress_ports = {x.get("port") for p in pols for r in p["spec"].get("egress") or []
                            for x in r.get("ports") or []}
            self.assertIn(53, egress_ports, "no DNS egress")
            if worker == GATEWAY:
                self.assertTrue(admitted & {"ingest", container_port(c, "ingest")},
                                "nothing may reach the gateway's webhook port")
                # BIGCOMMERCE_API_URL: https unless changed.
                self.assertIn(443, egress_ports, "no HTTPS egress for the BigCommerce API")

        self.each_deployment(check)


class GatewayTest(unittest.TestCase):
    """The ingest gateway's Service, Ingress, topics and store settings."""

    def each_overlay(self, check):
        for name, render in overlays():
            with self.subTest(overlay=name):
                check(name, render, render.deployments()[GATEWAY])

    def service(self, render, d):
        labels = d["spec"]["template"]["metadata"]["labels"]
        ns = d["metadata"]["namespace"]
        svcs = [s for s in render.of("Service") if s["metadata"]["namespace"] == ns
                and s["spec"].get("selector")
                and labels_match({"matchLabels": s["spec"]["selector"]}, labels)]
        self.assertEqual(len(svcs), 1, "Services selecting %s: %d" % (GATEWAY, len(svcs)))
        return svcs[0]

    def test_service_routes_to_the_webhook_port(self):
        def check(name, render, d):
            svc = self.service(render, d)
            c = d["spec"]["template"]["spec"]["containers"][0]
            ingest = container_port(c, "ingest")
            for p in svc["spec"]["ports"]:
                target = container_port(c, p.get("targetPort", p["port"]))
                # /metrics and the probes stay off the Service.
                self.assertEqual(target, ingest, "Service port %s goes to container port %s, "
                                 "not to ingest (%s)" % (p["port"], target, ingest))
            self.assertNotEqual(svc["spec"].get("type", "ClusterIP"), "LoadBalancer",
                                "plain HTTP to the world: the Ingress ends TLS")

        self.each_overlay(check)

    def test_ingress_is_tls_and_webhook_paths_only(self):
        def check(name, render, d):
            svc = self.service(render, d)
            ns = d["metadata"]["namespace"]
            ings = [i for i in render.of("Ingress") if i["metadata"]["namespace"] == ns]
            self.assertEqual(len(ings), 1, "Ingresses: %d" % len(ings))
            ing = ings[0]
            spec = ing["spec"]
            ann = ing["metadata"].get("annotations") or {}
            self.assertTrue(spec.get("ingressClassName")
                            or "kubernetes.io/ingress.class" in ann, "no ingress class")
            self.assertTrue({"cert-manager.io/cluster-issuer", "cert-manager.io/issuer"} & set(ann),
                            "no cert-manager issuer annotation: who issues the certificate?")
            tls_hosts = {h for t in spec.get("tls") or [] if t.get("secretName")
                         for h in t.get("hosts") or []}
            self.assertNotIn("defaultBackend", spec, "a default backend takes every path")
            self.assertTrue(spec.get("rules"))
            svc_ports = {x for p in svc["spec"]["ports"] for x in (p["port"], p.get("name"))}
            for rule in spec["rules"]:
                self.assertIn(rule.get("host"), tls_hosts,
                              "host %s has no TLS certificate" % rule.get("host"))
                for path in rule["http"]["paths"]:
                    # What the gateway serves on INGEST_PORT (ingest.h), nothing else.
                    self.assertIn(path["path"].rstrip("/"), ("/webhooks", "/events", "/r"),
                                  "path %s" % path["path"])
                    self.assertIn(path["pathType"], ("Prefix", "Exact"),
                                  "%s: an ImplementationSpecific path may match more"
                                  % path["path"])
                    backend = path["backend"]["service"]
                    self.assertEqual(backend["name"], svc["metadata"]["name"])
                    port = backend["port"].get("number", backend["port"].get("name"))
                    self.assertIn(port, svc_ports, "backend port %s is not the Service's" % port)
            size = ann.get("nginx.ingress.kubernetes.io/proxy-body-size")
            if size is not None:
                limit = int(effective(render, d, GATEWAY, "MAX_BODY_BYTES"))
                self.assertEqual(parse_nginx_size(size), limit,
                                 "proxy-body-size %s is not MAX_BODY_BYTES %d" % (size, limit))

        self.each_overlay(check)

    def test_produces_to_the_workers_topics(self):
        def check(name, render, d):
            deps = render.deployments()
            for setting, worker in GATEWAY_TOPICS.items():
                produced = effective(render, d, GATEWAY, setting)
                read = effective(render, deps[worker], worker, "KAFKA_TOPIC")
                self.assertEqual(produced, read, "the gateway's %s is %s, but %s reads %s"
                                 % (setting, produced, worker, read))
            dlq = effective(render, d, GATEWAY, "INGEST_DLQ_TOPIC")
            self.assertTrue(dlq)
            for worker in WORKERS:
                self.assertNotEqual(dlq, effective(render, deps[worker], worker, "KAFKA_TOPIC"),
                                    "dead letters into a topic %s reads" % worker)

        self.each_overlay(check)

    def test_store_settings_are_mounted_and_their_secrets_are_in_secrets(self):
        def check(name, render, d):
            c = d["spec"]["template"]["spec"]["containers"][0]
            env = render.container_env(d)
            path = env.get("STORE_SETTINGS", (None,))[0]
            self.assertTrue(path, "STORE_SETTINGS is not set (it is required)")
            found = render.mounted_file(d, path)
            self.assertIsNotNone(found, "no volume is mounted at %s" % path)
            vol, fname, data = found
            self.assertIn("configMap", vol, "STORE_SETTINGS is not from a ConfigMap")
            self.assertIsNotNone(data, "ConfigMap %s has no %s" % (vol["configMap"]["name"], fname))
            settings = json.loads(data)
            self.assertIsInstance(settings.get("stores"), dict, '{"stores": {...}} expected')
            for where, field, value in secret_references(settings):
                if field.endswith("_file"):
                    f = render.mounted_file(d, value)
                    self.assertIsNotNone(f, "%s: %s is on no volume" % (where, value))
                    svol, key, secret = f
                    self.assertIn("secret", svol, "%s: %s is not from a Secret" % (where, value))
                    if render.volume_files(svol, d["metadata"]["namespace"]) is not None:
                        self.assertIsNotNone(secret, "%s: Secret %s has no key %s"
                                             % (where, svol["secret"]["secretName"], key))
                elif field.endswith("_env"):
                    self.assertEqual(env.get(value, (None, None))[1], "secret",
                                     "%s: %s is not set from a Secret" % (where, value))
                else:
                    self.fail("%s: a secret in a ConfigMap; use %s_file or %s_env"
                              % (where, field, field))

        self.each_overlay(check)


class AlertTest(unittest.TestCase):
    def test_metric_name_scan(self):
        """The scan below must find what an expression selects, or the alert
        check proves nothing."""
        self.assertEqual(promql_metric_names(
            'sum by (topic, le) (rate(foo_total{a="b",c=~"x|y"}[5m])) / ignoring(x) bar > 1e3 '
            'and on (pod) baz unless absent(qux offset 5m)'),
            {"foo_total", "bar", "baz", "qux"})
        with self.assertRaises(ValueError):
            promql_metric_names('{__name__="x"}')

    def test_alerts_use_known_metrics(self):
        for name, render in overlays():
            rules = [r for pr in render.of("PrometheusRule") for g in pr["spec"]["groups"]
                     for r in g.get("rules") or []]
            alerts = [r for r in rules if "alert" in r]
            self.assertGreaterEqual(len(alerts), 6, "%s: only %d alerts" % (name, len(alerts)))
            used = set()
            for r in rules:
                with self.subTest(overlay=name, rule=r.get("alert") or r.get("record")):
                    names = promql_metric_names(r["expr"])
                    self.assertTrue(names, "no metric in %r" % r["expr"])
                    unknown = names - ALLOWED_ALERT_METRICS - EXTERNAL_ALERT_METRICS
                    self.assertFalse(unknown, "unknown metric(s) %s in %r" % (sorted(unknown),
                                                                             r["expr"]))
                    used |= names
                    if "alert" in r:
                        self.assertIn("severity", r.get("labels") or {})
                        self.assertIn("summary", r.get("annotations") or {})
            # The brief's examples: lag, stalls, dead letters, delivery, Redis, readiness;
            # for the gateway: signature failures, refusals, events waiting for their order.
            for must in ("aftercare_consumer_lag", "aftercare_partition_stalled",
                         "aftercare_events_dead_lettered_total",
                         "aftercare_messages_dead_lettered_total",
                         "aftercare_provider_requests_total", "aftercare_redis_errors_total",
                         "aftercare_ingest_signature_failures_total",
                         "aftercare_ingest_requests_total", "aftercare_ingest_waiting"):
                self.assertIn(must, used, "%s: no alert on %s" % (name, must))


def service_namespace(host):
    """The namespace of a cluster DNS name (<pod>.<service>.<ns>.svc... or
    <service>.<ns>.svc...), or None for any other host."""
    parts = host.split(".")
    if "svc" in parts[2:]:
        return parts[parts.index("svc", 2) - 1]
    return None


def egress_allows(render, d, namespace, port):
    """Whether the NetworkPolicies selecting a Deployment's pods let them
    connect to port in namespace (or, namespace None, to an ipBlock)."""
    labels = d["spec"]["template"]["metadata"]["labels"]
    for p in render.of("NetworkPolicy"):
        if p["metadata"]["namespace"] != d["metadata"]["namespace"] or \
                not labels_match(p["spec"]["podSelector"], labels):
            continue
        for rule in p["spec"].get("egress") or []:
            ports = rule.get("ports") or []
            if ports and not any(x.get("port") == port or (
                    isinstance(x.get("port"), int) and x["port"] <= port <= x.get("endPort", 0))
                    for x in ports):
                continue
            for to in rule.get("to") or []:
                if namespace is None and "ipBlock" in to:
                    return True
                sel = (to.get("namespaceSelector") or {}).get("matchLabels") or {}
                if namespace is not None and sel.get("kubernetes.io/metadata.name") == namespace:
                    return True
    return False


class RedisTest(unittest.TestCase):
    """Where each overlay's binaries find Redis."""

    def test_every_deployment_reaches_the_same_redis(self):
        for name, render in overlays():
            with self.subTest(overlay=name):
                redis_cluster_mode(render)  # raises when they disagree on REDIS_CLUSTER
                sources = {}
                for worker, d in render.deployments().items():
                    env = d["spec"]["template"]["spec"]["containers"][0].get("env") or []
                    entries = [e for e in env if e["name"] == "REDIS_URL"]
                    self.assertEqual(len(entries), 1, "%s sets REDIS_URL once" % worker)
                    e = entries[0]
                    sources[worker] = json.dumps(e.get("valueFrom") or e.get("value"),
                                                 sort_keys=True)
                self.assertEqual(len(set(sources.values())), 1,
                                 "the workers and the gateway would reach different Redis "
                                 "servers: %s" % sources)

    def test_cluster_seed_list_and_password(self):
        """A cluster overlay names its seeds in REDIS_URL (two at least,
        reachable through the NetworkPolicy) and takes the password from
        aftercare-secrets through $(...), defined before REDIS_URL."""
        cluster = [(n, r) for n, r in overlays() if redis_cluster_mode(r)]
        if REDIS_MODE == "cluster":
            self.assertTrue(cluster, "no cluster overlay checked")
        for name, render in cluster:
            for worker, d in sorted(render.deployments().items()):
                with self.subTest(overlay=name, worker=worker):
                    env = d["spec"]["template"]["spec"]["containers"][0].get("env") or []
                    names = [e["name"] for e in env]
                    url = env[names.index("REDIS_URL")]
                    self.assertIn("value", url, "a cluster overlay's REDIS_URL is its seed "
                                  "list, written in the manifest")
                    m = re.fullmatch(r"redis://(?::([^@]*)@)?([^/@]+?)(?:/(\d+))?",
                                     url["value"])
                    self.assertTrue(m, "REDIS_URL is not redis://[:password@]host:port,.../db")
                    password, hosts, db = m.groups()
                    self.assertIn(db, (None, "0"), "a Redis Cluster has database 0 only")
                    seeds = hosts.split(",")
                    self.assertGreaterEqual(len(seeds), 2, "one seed: no worker starts while "
                                            "that node is down")
                    self.assertEqual(len(set(seeds)), len(seeds), "a seed named twice")
                    # Never the password itself in the manifest (nor in this
                    # message): a reference to a variable from the Secret.
                    self.assertTrue(password and ENV_REFERENCE.fullmatch(password),
                                    "REDIS_URL carries no $(VAR) password reference")
                    var = ENV_REFERENCE.fullmatch(password).group(1)
                    self.assertIn(var, names)
                    self.assertLess(names.index(var), names.index("REDIS_URL"),
                                    "$(%s) must be defined before REDIS_URL" % var)
                    ref = (env[names.index(var)].get("valueFrom") or {}).get("secretKeyRef")
                    self.assertTrue(ref, "%s is not from a Secret" % var)
                    self.assertTrue(ref["name"].startswith("aftercare-secrets"), ref["name"])
                    self.assertFalse(ref.get("optional"), "%s is optional, but no node answers "
                                     "without it" % var)
                    for seed in seeds:
                        host, _, port = seed.rpartition(":")
                        self.assertTrue(host and port.isdigit() and 0 < int(port) < 65536,
                                        "seed %s is not host:port" % seed)
                        ns = service_namespace(host)
                        # Past the seeds, the workers connect to every
                        # master the slot map names: the whole namespace.
                        self.assertTrue(egress_allows(render, d, ns, int(port)),
                                        "no NetworkPolicy egress to %s on port %s (seed %s)"
                                        % ("namespace " + ns if ns else "an ipBlock", port,
                                           seed))
                    self.assertEqual(render.container_env(d).get("REDIS_CLUSTER", (None,))[0],
                                     "on")


class LiveProbeTest(unittest.TestCase):
    """The probe paths of every rendered Deployment against the real binary."""

    def get(self, port, path):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=3) as r:
                return r.status, r.headers.get("Content-Type", ""), r.read().decode("utf-8",
                                                                                    "replace")
        except urllib.error.HTTPError as e:
            return e.code, "", e.read(300).decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as e:
            return None, "", str(e)

    def post(self, port, path, body, headers=None):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=body,
                                     headers=dict({"Content-Type": "application/json"},
                                                  **(headers or {})), method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read(300).decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as e:
            return None, str(e)

    def mount_volumes(self, render, d, root):
        """Writes the Deployment's ConfigMap and Secret volumes from the
        render under root, as the kubelet would mount them (a Secret not in
        the render, which must be optional, as an empty directory); returns
        {mountPath: local directory}. Files' mount paths inside ConfigMap
        files (STORE_SETTINGS naming a Secret file) are rewritten too."""
        ns = d["metadata"]["namespace"]
        local = {}
        for i, (mount, vol) in enumerate(render.mounts(d)):
            if "configMap" not in vol and "secret" not in vol:
                continue
            local[mount] = os.path.join(root, "%d-%s" % (i, vol["name"]))
            os.makedirs(local[mount])
        for i, (mount, vol) in enumerate(render.mounts(d)):
            if mount not in local:
                continue
            for fname, data in (render.volume_files(vol, ns) or {}).items():
                if "configMap" in vol:
                    data = self.localize(data.decode(), local).encode()
                with open(os.path.join(local[mount], fname), "wb") as f:
                    f.write(data)
        return local

    @staticmethod
    def localize(text, local):
        for mount in sorted(local, key=len, reverse=True):
            text = text.replace(mount + "/", local[mount] + "/")
        return text

    def live_env(self, render, d, worker, st, root):
        env = {}
        for k, (v, source) in render.container_env(d).items():
            if k in STACK_SETTINGS or BROKER_SECURITY.match(k):
                continue
            # A store secret given as <field>_env comes from a Secret.
            if source == "secret" and worker == GATEWAY and v is not None:
                env[k] = v
            if source not in ("configmap", "literal"):
                continue
            env[k] = v
        if worker == "notify-worker":
            env["WEBHOOK_URL"] = st.sink_url
        if worker == GATEWAY:
            env["INGEST_PORT"] = str(stack.free_port())
            local = self.mount_volumes(render, d, root)
            env = {k: self.localize(v, local) for k, v in env.items()}
        return env

    def stack_topics(self, render):
        """The workers' topics and dead-letter topics, and the gateway's."""
        deps = render.deployments()
        topics = set()
        for worker in WORKERS:
            for setting in ("KAFKA_TOPIC", "DLQ_TOPIC"):
                topics.add(effective(render, deps[worker], worker, setting))
        for setting in list(GATEWAY_TOPICS) + ["INGEST_DLQ_TOPIC"]:
            topics.add(effective(render, deps[GATEWAY], GATEWAY, setting))
        return sorted(t for t in topics if t)

    @staticmethod
    def woocommerce_secret(stores, env):
        """(store id, one of its WooCommerce webhook secrets) of the first
        store connected to WooCommerce, read the way the gateway reads it
        (inline, from the environment or from a mounted file); None if none."""
        for sid, st in sorted(stores.items()):
            woo = st.get("woocommerce") or {}
            value = woo.get("webhook_secret")
            if isinstance(value, list):
                value = " ".join(value)
            if woo.get("webhook_secret_env"):
                value = env.get(woo["webhook_secret_env"])
            if woo.get("webhook_secret_file"):
                with open(woo["webhook_secret_file"]) as f:
                    value = f.read()
            if value and value.split():
                return sid, value.split()[0]
        return None

    def check_gateway(self, name, render, d, proc, env, body):
        """/metrics declares the gateway's metrics; the webhook port (the
        Service's target) refuses an unsigned webhook and, where a store is
        connected to WooCommerce, takes one signed with its secret as
        mounted from the render (a topic aftercare ignores: 200, nothing
        produced)."""
        for family in sorted(GATEWAY_METRICS | GATEWAY_HISTOGRAMS):
            self.assertRegex(body, r"(?m)^# TYPE %s " % re.escape(family),
                             "%s: /metrics does not declare %s" % (name, family))
        port = int(env["INGEST_PORT"])
        with open(env["STORE_SETTINGS"]) as f:
            stores = json.load(f)["stores"]
        woo = self.woocommerce_secret(stores, env)
        path = "/webhooks/woocommerce/%s" % (woo[0] if woo else "st_not_configured")
        payload = b'{"id": 1}'
        status, text = self.post(port, path, payload, {"X-WC-Webhook-Topic": "coupon.created"})
        self.assertEqual(status, 401 if woo else 404,
                         "%s: an unsigned webhook on INGEST_PORT: %s" % (name, text))
        if woo:
            mac = base64.b64encode(hmac.new(woo[1].encode(), payload, hashlib.sha256).digest())
            status, text = self.post(port, path, payload,
                                     {"X-WC-Webhook-Topic": "coupon.created",
                                      "X-WC-Webhook-Signature": mac.decode()})
            self.assertEqual(status, 200, "%s: a webhook signed with %s's mounted secret: %s"
                             % (name, woo[0], text))

    def test_probe_paths_answer(self):
        for name, render in overlays():
            deps = render.deployments()
            # A cluster overlay's binaries run against a Redis Cluster, and
            # a single-Redis overlay's against one Redis, whatever
            # AC_TEST_REDIS_CLUSTER says.
            with stack.Stack(partitions=2, name="aftercare-deploy",
                             redis_cluster=redis_cluster_mode(render),
                             topics=self.stack_topics(render)) as st:
                procs, envs = {}, {}
                for worker, d in sorted(deps.items()):
                    envs[worker] = self.live_env(render, d, worker, st,
                                                 os.path.join(st.dir, "mounts-" + worker))
                    procs[worker] = st.start_worker(worker, envs[worker], wait=False)
                for worker, d in sorted(deps.items()):
                    with self.subTest(overlay=name, worker=worker):
                        c = d["spec"]["template"]["spec"]["containers"][0]
                        proc = procs[worker]
                        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                            path = c[probe]["httpGet"]["path"]
                            last = []

                            def answered(port=proc.http_port, path=path, last=last):
                                status, _, body = self.get(port, path)
                                last[:] = [status, body.strip()[:200]]
                                return status == 200

                            try:
                                st.wait_until(answered, 30, "%s %s" % (worker, path))
                            except stack.StackError as e:
                                self.fail("%s: %s %s (%s) never answered 200; last: %s; %s"
                                          % (name, worker, path, probe, last, e))
                        status, ctype, body = self.get(proc.http_port, "/metrics")
                        self.assertEqual(status, 200, body)
                        self.assertTrue(ctype.startswith("text/plain"), ctype)
                        self.assertIn("aftercare_", body)
                        if worker == GATEWAY:
                            self.check_gateway(name, render, d, proc, envs[worker], body)


if __name__ == "__main__":
    unittest.main()
