"""Checks the Kubernetes manifests in deploy/ offline.

Every overlay in deploy/overlays is rendered with `kubectl kustomize` and
  - validated against Kubernetes, KEDA and Prometheus Operator schemas by
    validate.mjs (npm packages in package.json, installed here by `npm ci`);
  - checked against what the workers need and accept: restricted security
    context, probes on the paths and port the binaries serve, a termination
    grace period above SHUTDOWN_TIMEOUT, a PodDisruptionBudget, an autoscaler
    bounded by the topic's partitions and agreeing with the worker's topic,
    group and brokers, a PodMonitor, a NetworkPolicy, settings the worker
    accepts (`<worker> --help`), alerts on metrics the workers export;
  - run for real: each Deployment's worker binary starts with the rendered
    settings against a throwaway stack (tests/integration/stack.py) and must
    answer its probe paths with 200 and /metrics with aftercare_ metrics.

    cd tests/deploy && AC_BIN_DIR=/path/to/build/bin python3 -m unittest -v test_deploy

Needs kubectl (kustomize built in), node and npm (a registry only when
node_modules is missing or stale), redis-server, and the built binaries in
$AC_BIN_DIR (default build/bin).
"""

import base64
import hashlib
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
IMAGE = "ghcr.io/aftercare/aftercare"
UID = 10001

# Which autoscaler each overlay must have (None: none at all). A new overlay
# fails the tests until it is listed here.
OVERLAYS = {
    "dev": None,
    "prod": "ScaledObject",
    "prod-hpa": "HorizontalPodAutoscaler",
}
# Overlays that must render the same replica bounds and partition counts.
SAME_BOUNDS = [("prod", "prod-hpa")]

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
AFTERCARE_HISTOGRAMS = {"aftercare_event_processing_seconds", "aftercare_message_delivery_seconds"}
ALLOWED_ALERT_METRICS = (AFTERCARE_METRICS
                         | {h + s for h in AFTERCARE_HISTOGRAMS for s in ("_bucket", "_sum", "_count")})
EXTERNAL_ALERT_METRICS = {"up", "kube_deployment_status_replicas_unavailable"}


# Settings the live check replaces with the throwaway stack's, and librdkafka
# properties that describe how to reach the real brokers (SASL, TLS), which
# the stack's plaintext broker cannot offer.
STACK_SETTINGS = {"KAFKA_BROKERS", "REDIS_URL", "HTTP_PORT"}
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


def overlays():
    return [(n, RENDERS[n]) for n in OVERLAYS]


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
                self.assertEqual(sorted(render.deployments()), sorted(WORKERS))
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
        """check(overlay name, render, worker, Deployment) for every worker of
        every overlay, each in its own subTest."""
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
            grace = d["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
            self.assertGreater(grace, parse_duration_s(value),
                               "terminationGracePeriodSeconds %s <= SHUTDOWN_TIMEOUT %s"
                               % (grace, value))

        self.each_deployment(check)

    def test_settings_are_accepted_by_the_worker(self):
        def check(name, render, worker, d):
            known, _ = worker_settings(worker)
            unknown = sorted(v for v in render.container_env(d)
                             if v not in known and not v.startswith("RDKAFKA_"))
            self.assertFalse(unknown, "not settings of %s (see `%s --help`): %s"
                             % (worker, worker, unknown))

        self.each_deployment(check)

    def test_secret_references(self):
        def check(name, render, worker, d):
            ns = d["metadata"]["namespace"]
            c = d["spec"]["template"]["spec"]["containers"][0]
            self.assertFalse([s for s in c.get("envFrom") or [] if "secretRef" in s],
                             "whole Secrets in envFrom would hand every worker every key")
            for e in c.get("env") or []:
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if not ref:
                    continue
                self.assertTrue(ref["name"].startswith("aftercare-secrets"), ref["name"])
                sec = render.get("Secret", ref["name"], ns)
                if sec is not None and not ref.get("optional"):
                    self.assertIn(ref["key"], sec.get("data") or {},
                                  "required key %s missing from rendered Secret %s"
                                  % (ref["key"], ref["name"]))

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

    def test_bounds_agree_between_variants(self):
        for a, b in SAME_BOUNDS:
            sa, sb = RENDERS[a].autoscalers(), RENDERS[b].autoscalers()
            for worker in WORKERS:
                with self.subTest(overlays=(a, b), worker=worker):
                    ka, oa = sa[worker]
                    kb, ob = sb[worker]
                    self.assertEqual(bounds(ka, oa), bounds(kb, ob))
                    self.assertEqual(oa["metadata"]["annotations"][PARTITIONS_ANNOTATION],
                                     ob["metadata"]["annotations"][PARTITIONS_ANNOTATION])

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
            number = [x["containerPort"] for x in d["spec"]["template"]["spec"]["containers"][0]
                      ["ports"] if x.get("name") == "http"][0]
            for p in pols:
                for rule in p["spec"].get("ingress") or []:
                    self.assertTrue(rule.get("from"), "ingress from anywhere")
                    ports = [x.get("port") for x in rule.get("ports") or []]
                    self.assertTrue(ports and set(ports) <= {"http", number},
                                    "ingress to ports %s" % ports)
            egress_ports = {x.get("port") for p in pols for r in p["spec"].get("egress") or []
                            for x in r.get("ports") or []}
            self.assertIn(53, egress_ports, "no DNS egress")

        self.each_deployment(check)


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
            # The brief's examples: lag, stalls, dead letters, delivery, Redis, readiness.
            for must in ("aftercare_consumer_lag", "aftercare_partition_stalled",
                         "aftercare_events_dead_lettered_total",
                         "aftercare_messages_dead_lettered_total",
                         "aftercare_provider_requests_total", "aftercare_redis_errors_total"):
                self.assertIn(must, used, "%s: no alert on %s" % (name, must))


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

    def live_env(self, render, d, worker, st):
        env = {}
        for k, (v, source) in render.container_env(d).items():
            if source not in ("configmap", "literal") or k in STACK_SETTINGS:
                continue
            if BROKER_SECURITY.match(k):
                continue
            env[k] = v
        if worker == "notify-worker":
            env["WEBHOOK_URL"] = st.sink_url
        return env

    def test_probe_paths_answer(self):
        for name, render in overlays():
            deps = render.deployments()
            with stack.Stack(partitions=2, name="aftercare-deploy") as st:
                procs = {}
                for worker, d in sorted(deps.items()):
                    procs[worker] = st.start_worker(worker, self.live_env(render, d, worker, st),
                                                    wait=False)
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


if __name__ == "__main__":
    unittest.main()
