#!/usr/bin/env node
// Validates rendered Kubernetes manifests offline against the schemas of the
// npm packages kubernetes-models, @kubernetes-models/keda and
// @kubernetes-models/prometheus-operator.
//
//   kubectl kustomize deploy/overlays/prod | node validate.mjs
//   node validate.mjs a.yaml b.yaml
//   node validate.mjs --self-test
//
// On top of the packages' validate() (types, enums, required fields), this
// rejects what the API server would reject with strict field validation but
// the packages let through:
//   - fields the schema does not know (a typo such as runAsNonroot),
//   - kinds with no model here (never passed unchecked),
//   - objects without metadata.name, and duplicate objects.
// Exits 0 when every object is valid, 1 when any is not (one line per
// problem), 2 on a usage or YAML error.

import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const MODULES = [
  "kubernetes-models/v1",
  "kubernetes-models/apps/v1",
  "kubernetes-models/policy/v1",
  "kubernetes-models/networking.k8s.io/v1",
  "kubernetes-models/autoscaling/v2",
  "kubernetes-models/rbac.authorization.k8s.io/v1",
  "@kubernetes-models/keda/keda.sh/v1alpha1",
  "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
];

async function loadModels() {
  const models = new Map();
  for (const name of MODULES) {
    const mod = await import(name);
    for (const cls of Object.values(mod)) {
      if (typeof cls === "function" && cls.apiVersion && cls.kind) {
        models.set(`${cls.apiVersion}/${cls.kind}`, cls);
      }
    }
  }
  return models;
}

// Runs the package's validate(); returns its ajv errors ([] when valid).
function schemaErrors(cls, obj) {
  try {
    new cls(obj).validate();
    return [];
  } catch (e) {
    if (Array.isArray(e.errors)) return e.errors;
    throw e;
  }
}

const escapePointer = (k) => String(k).replace(/~/g, "~0").replace(/\//g, "~1");
const isPlainObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

// The generated validators ignore properties they do not know. To find
// them, every property in turn is replaced by a value no schema accepts (a
// Symbol): a property the schema knows then fails its type check at its own
// path; one it does not know passes silently. Maps (labels, ConfigMap data,
// KEDA trigger metadata) type their values too, so their keys count as known.
const PROBE = Symbol("unknown-field-probe");

function unknownFields(cls, root) {
  const found = [];
  const visit = (node, path) => {
    if (Array.isArray(node)) {
      node.forEach((item, i) => visit(item, [...path, i]));
      return;
    }
    if (!isPlainObject(node)) return;
    for (const key of Object.keys(node)) {
      const p = [...path, key];
      const pointer = "/" + p.map(escapePointer).join("/");
      const copy = structuredClone(root);
      let parent = copy;
      for (const step of path) parent = parent[step];
      parent[key] = PROBE;
      const errs = schemaErrors(cls, copy);
      if (errs.some((e) => e.instancePath === pointer)) {
        visit(node[key], p);
      } else {
        found.push(pointer);
      }
    }
  };
  visit(root, []);
  return found;
}

function describe(obj) {
  const md = isPlainObject(obj?.metadata) ? obj.metadata : {};
  const ns = md.namespace ? `${md.namespace}/` : "";
  return `${obj?.kind ?? "?"} ${ns}${md.name ?? "<no name>"}`;
}

function checkObject(models, obj) {
  const problems = [];
  if (!isPlainObject(obj)) return ["not a mapping"];
  const key = `${obj.apiVersion}/${obj.kind}`;
  const cls = models.get(key);
  if (!cls) {
    return [`no schema for apiVersion ${obj.apiVersion}, kind ${obj.kind} (add its model to validate.mjs)`];
  }
  if (!isPlainObject(obj.metadata) || typeof obj.metadata.name !== "string" || !obj.metadata.name) {
    problems.push("metadata.name is missing");
  }
  for (const e of schemaErrors(cls, obj)) {
    const params = e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : "";
    problems.push(`${e.instancePath || "/"}: ${e.message}${params}`);
  }
  for (const pointer of unknownFields(cls, obj)) {
    problems.push(`${pointer}: unknown field`);
  }
  return problems;
}

// Validates the YAML documents of one source; returns the problem lines.
function validateText(models, text, source, seen = new Map()) {
  const lines = [];
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  let count = 0;
  docs.forEach((doc, i) => {
    const where = `${source} document ${i + 1}`;
    if (doc.errors.length) {
      lines.push(`${where}: YAML error: ${doc.errors.map((e) => e.message).join("; ")}`);
      return;
    }
    const obj = doc.toJS();
    if (obj === null || obj === undefined) return; // empty document
    count++;
    const what = describe(obj);
    for (const p of checkObject(models, obj)) lines.push(`${where}: ${what}: ${p}`);
    const id = `${obj.apiVersion}/${obj.kind}/${obj.metadata?.namespace ?? ""}/${obj.metadata?.name}`;
    if (seen.has(id)) lines.push(`${where}: ${what}: duplicate of ${seen.get(id)}`);
    else seen.set(id, where);
  });
  return { lines, count };
}

// Proves the checks above reject what they should: each case must fail.
function selfTest(models) {
  const deployment = () => ({
    apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "d" },
    spec: {
      selector: { matchLabels: { a: "b" } },
      template: {
        metadata: { labels: { a: "b" } },
        spec: { containers: [{ name: "c", image: "i", ports: [{ name: "http", containerPort: 8080 }],
                               securityContext: { runAsNonRoot: true } }] },
      },
    },
  });
  const scaledObject = () => ({
    apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", metadata: { name: "s" },
    spec: { scaleTargetRef: { name: "d" }, maxReplicaCount: 4,
            triggers: [{ type: "kafka", metadata: { topic: "orders", lagThreshold: "10" } }] },
  });
  const podMonitor = () => ({
    apiVersion: "monitoring.coreos.com/v1", kind: "PodMonitor", metadata: { name: "p" },
    spec: { selector: { matchLabels: { a: "b" } }, podMetricsEndpoints: [{ port: "http", path: "/metrics" }] },
  });
  const rule = () => ({
    apiVersion: "monitoring.coreos.com/v1", kind: "PrometheusRule", metadata: { name: "r" },
    spec: { groups: [{ name: "g", rules: [{ alert: "A", expr: "up == 0", for: "5m" }] }] },
  });
  const edit = (make, fn) => { const o = make(); fn(o); return o; };
  const good = [deployment(), scaledObject(), podMonitor(), rule()];
  const bad = {
    "unknown field in a container securityContext": edit(deployment, (o) => {
      o.spec.template.spec.containers[0].securityContext.runAsNonroot = true; }),
    "unknown top-level field": edit(deployment, (o) => { o.extra = 1; }),
    "wrong type (replicas as a string)": edit(deployment, (o) => { o.spec.replicas = "2"; }),
    "wrong type (containerPort as a string)": edit(deployment, (o) => {
      o.spec.template.spec.containers[0].ports[0].containerPort = "8080"; }),
    "missing required (container name)": edit(deployment, (o) => { delete o.spec.template.spec.containers[0].name; }),
    "missing required (selector)": edit(deployment, (o) => { delete o.spec.selector; }),
    "missing metadata.name": edit(deployment, (o) => { delete o.metadata.name; }),
    "ScaledObject unknown field (maxReplicas)": edit(scaledObject, (o) => { o.spec.maxReplicas = 4; }),
    "ScaledObject wrong type (maxReplicaCount)": edit(scaledObject, (o) => { o.spec.maxReplicaCount = "4"; }),
    "ScaledObject trigger metadata not a string": edit(scaledObject, (o) => { o.spec.triggers[0].metadata.lagThreshold = 10; }),
    "ScaledObject missing triggers": edit(scaledObject, (o) => { delete o.spec.triggers; }),
    "PodMonitor unknown field (endpoints)": edit(podMonitor, (o) => { o.spec.endpoints = []; }),
    "PodMonitor missing selector": edit(podMonitor, (o) => { delete o.spec.selector; }),
    "PrometheusRule unknown rule field": edit(rule, (o) => { o.spec.groups[0].rules[0].expression = "x"; }),
    "PrometheusRule missing expr": edit(rule, (o) => { delete o.spec.groups[0].rules[0].expr; }),
    "unknown kind": { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } },
  };
  let failures = 0;
  for (const obj of good) {
    const p = checkObject(models, obj);
    if (p.length) { failures++; console.log(`self-test: valid ${obj.kind} was rejected: ${p.join("; ")}`); }
  }
  for (const [name, obj] of Object.entries(bad)) {
    const p = checkObject(models, obj);
    if (!p.length) { failures++; console.log(`self-test: NOT rejected: ${name}`); }
    else console.log(`self-test: rejected ${name}: ${p[0]}`);
  }
  const dup = validateText(models, "kind: ConfigMap\napiVersion: v1\nmetadata: {name: x}\n---\n" +
                                   "kind: ConfigMap\napiVersion: v1\nmetadata: {name: x}\n", "dup");
  if (!dup.lines.length) { failures++; console.log("self-test: NOT rejected: duplicate object"); }
  const dupKey = validateText(models, "kind: ConfigMap\napiVersion: v1\nmetadata: {name: x}\nkind: Secret\n", "dupkey");
  if (!dupKey.lines.length) { failures++; console.log("self-test: NOT rejected: duplicate YAML key"); }
  console.log(failures ? `self-test: ${failures} failure(s)` : "self-test: ok");
  return failures ? 1 : 0;
}

async function main(argv) {
  const models = await loadModels();
  if (argv[0] === "--self-test") return selfTest(models);
  if (argv.some((a) => a.startsWith("-") && a !== "-")) {
    console.error("usage: validate.mjs [--self-test | FILE... | -]");
    return 2;
  }
  const sources = argv.length ? argv : ["-"];
  const seen = new Map();
  let total = 0;
  const problems = [];
  for (const src of sources) {
    let text;
    try {
      text = readFileSync(src === "-" ? 0 : src, "utf8");
    } catch (e) {
      console.error(`validate.mjs: cannot read ${src}: ${e.message}`);
      return 2;
    }
    const { lines, count } = validateText(models, text, src === "-" ? "<stdin>" : src, seen);
    total += count;
    problems.push(...lines);
  }
  for (const line of problems) console.log(`INVALID ${line}`);
  if (!total) {
    console.log("validate.mjs: no objects found");
    return 1;
  }
  console.log(`validate.mjs: ${total} object(s), ${problems.length} problem(s)`);
  return problems.length ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
  console.error(e?.stack ?? String(e));
  process.exit(2);
});
