// Validates lb's Kubernetes manifests: each document against the Kubernetes
// schemas (kubernetes-models), then the cross-references a cluster would only
// reveal at run time. Usage: node validate.mjs [DIR] [--extract OUTDIR]
// (--extract writes each ConfigMap's files to OUTDIR/NAME/ for the tests).
import fs from "node:fs";
import path from "node:path";
import yaml from "js-yaml";

const args = process.argv.slice(2);
const extractAt = args.indexOf("--extract");
const outDir = extractAt >= 0 ? args[extractAt + 1] : null;
const dir = args.find((a, i) => !a.startsWith("--") && (extractAt < 0 || i !== extractAt + 1)) ??
  path.join(path.dirname(new URL(import.meta.url).pathname), "..", "..", "k8s");

const problems = [];
const docs = [];
for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort()) {
  const text = fs.readFileSync(path.join(dir, file), "utf8");
  let n = 0;
  for (const doc of yaml.loadAll(text)) {
    n++;
    if (doc) docs.push({ file, n, doc });
  }
}

// 1. every document against its schema
for (const { file, n, doc } of docs) {
  const where = `${file} #${n} ${doc.kind ?? "?"}/${doc.metadata?.name ?? "?"}`;
  if (doc.apiVersion === "kind.x-k8s.io/v1alpha4") {
    if (doc.kind !== "Cluster" || !Array.isArray(doc.nodes)) problems.push(`${where}: not a kind Cluster`);
    continue;
  }
  if (!doc.apiVersion || !doc.kind) {
    problems.push(`${where}: apiVersion and kind are required`);
    continue;
  }
  let mod;
  try {
    mod = await import(`kubernetes-models/${doc.apiVersion}`);
  } catch {
    problems.push(`${where}: unknown apiVersion ${doc.apiVersion}`);
    continue;
  }
  const Model = mod[doc.kind];
  if (!Model) {
    problems.push(`${where}: unknown kind ${doc.kind} in ${doc.apiVersion}`);
    continue;
  }
  try {
    new Model(doc).validate();
  } catch (e) {
    problems.push(`${where}: ${e.message}`);
  }
}

// 2. cross-references
const k8s = docs.map((d) => d.doc).filter((d) => d.apiVersion !== "kind.x-k8s.io/v1alpha4");
const of = (kind) => k8s.filter((d) => d.kind === kind);
const ns = (d) => d.metadata?.namespace ?? "default";
const named = (kind, n, name) => of(kind).find((d) => ns(d) === n && d.metadata.name === name);
const sub = (small = {}, big = {}) => Object.entries(small).every(([k, v]) => big[k] === v);

for (const dep of of("Deployment")) {
  const where = `Deployment ${dep.metadata.name}`;
  const pod = dep.spec.template.spec;
  const labels = dep.spec.template.metadata?.labels ?? {};
  if (!sub(dep.spec.selector?.matchLabels, labels)) problems.push(`${where}: selector does not match the pod labels`);
  if (!named("Namespace", "default", ns(dep)) && ns(dep) !== "default") problems.push(`${where}: namespace ${ns(dep)} is not defined`);
  if (pod.serviceAccountName && !named("ServiceAccount", ns(dep), pod.serviceAccountName)) problems.push(`${where}: ServiceAccount ${pod.serviceAccountName} is not defined`);
  const volumes = new Set((pod.volumes ?? []).map((v) => v.name));
  for (const v of pod.volumes ?? []) {
    if (v.configMap && !named("ConfigMap", ns(dep), v.configMap.name)) problems.push(`${where}: ConfigMap ${v.configMap.name} is not defined`);
  }
  for (const c of pod.containers) {
    const ports = c.ports ?? [];
    for (const m of c.volumeMounts ?? []) if (!volumes.has(m.name)) problems.push(`${where}/${c.name}: volume ${m.name} is not in the pod`);
    for (const probe of [c.readinessProbe, c.livenessProbe].filter(Boolean)) {
      const p = probe.httpGet?.port;
      if (typeof p === "string" && !ports.some((q) => q.name === p)) problems.push(`${where}/${c.name}: probe port ${p} is not a container port`);
    }
  }
}
for (const svc of of("Service")) {
  const where = `Service ${svc.metadata.name}`;
  const deps = of("Deployment").filter((d) => ns(d) === ns(svc) && sub(svc.spec.selector, d.spec.template.metadata?.labels));
  if (deps.length === 0) { problems.push(`${where}: its selector matches no Deployment's pods`); continue; }
  for (const port of svc.spec.ports) {
    const target = port.targetPort ?? port.port;
    const ok = deps.some((d) => d.spec.template.spec.containers.some((c) =>
      (c.ports ?? []).some((q) => q.name === target || q.containerPort === target)));
    if (!ok) problems.push(`${where}: targetPort ${target} is no container port of ${deps.map((d) => d.metadata.name)}`);
  }
}
// RBAC: the ServiceAccount that runs lb-discover may get/list/watch exactly
// what lb-discover reads, and nothing more.
const needs = [["discovery.k8s.io", "endpointslices"], ["", "endpoints"]];
for (const dep of of("Deployment")) {
  const pod = dep.spec.template.spec;
  if (!pod.containers.some((c) => (c.command ?? [])[0] === "lb-discover")) continue;
  const sa = pod.serviceAccountName ?? "default";
  const rules = of("RoleBinding").filter((b) => ns(b) === ns(dep) &&
      b.subjects?.some((s) => s.kind === "ServiceAccount" && s.name === sa && (s.namespace ?? ns(b)) === ns(dep)))
    .flatMap((b) => named(b.roleRef.kind, ns(dep), b.roleRef.name)?.rules ?? []);
  for (const [group, res] of needs) {
    const ok = rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(res) &&
      ["get", "list", "watch"].every((v) => r.verbs.includes(v)));
    if (!ok) problems.push(`Deployment ${dep.metadata.name}: ServiceAccount ${sa} cannot get/list/watch ${group || "core"} ${res}`);
  }
  for (const r of rules) {
    const extra = r.verbs.filter((v) => !["get", "list", "watch"].includes(v));
    const wild = [...r.apiGroups, ...r.resources, ...r.verbs].includes("*");
    const other = r.resources.filter((res) => !needs.some(([, n]) => n === res));
    if (extra.length || wild || other.length) problems.push(`Deployment ${dep.metadata.name}: RBAC grants more than lb-discover needs (${JSON.stringify(r)})`);
  }
}
// ConfigMaps holding config.json: valid JSON
for (const cm of of("ConfigMap")) {
  for (const [name, text] of Object.entries(cm.data ?? {})) {
    if (name.endsWith(".json")) {
      try { JSON.parse(text); } catch (e) { problems.push(`ConfigMap ${cm.metadata.name}: ${name}: ${e.message}`); }
    }
    if (outDir) {
      fs.mkdirSync(path.join(outDir, cm.metadata.name), { recursive: true });
      fs.writeFileSync(path.join(outDir, cm.metadata.name, name), text);
    }
  }
}

if (problems.length) {
  for (const p of problems) console.error(`invalid: ${p}`);
  process.exit(1);
}
console.log(`${docs.length} documents valid in ${dir}`);
