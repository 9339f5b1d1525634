// Validates lb's Kubernetes manifests: each document against the Kubernetes
// schemas (kubernetes-models), then the cross-references a cluster would only
// reveal at run time. Usage: node validate.mjs [DIR...] [--extract OUTDIR]
// (the documents of every DIR's .yaml files are checked together, default
// k8s/; --extract writes each ConfigMap's files to OUTDIR/NAME/ for the tests).
// The Gateway API's kinds are checked against @kubernetes-models/gateway-api.
import fs from "node:fs";
import path from "node:path";
import yaml from "js-yaml";

const args = process.argv.slice(2);
const extractAt = args.indexOf("--extract");
const outDir = extractAt >= 0 ? args[extractAt + 1] : null;
const dirs = args.filter((a, i) => !a.startsWith("--") && (extractAt < 0 || i !== extractAt + 1));
if (!dirs.length) dirs.push(path.join(path.dirname(new URL(import.meta.url).pathname), "..", "..", "k8s"));
const dir = dirs.join(" ");

const problems = [];
const docs = [];
for (const [d, file] of dirs.flatMap((d) => fs.readdirSync(d).filter((f) => f.endsWith(".yaml")).sort()
  .map((f) => [d, f]))) {
  const text = fs.readFileSync(path.join(d, file), "utf8");
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
    mod = await import(doc.apiVersion.startsWith("gateway.networking.k8s.io/")
      ? `@kubernetes-models/gateway-api/${doc.apiVersion}` : `kubernetes-models/${doc.apiVersion}`);
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
// The Gateway API. A Gateway's class is defined; a route's parentRefs name a
// Gateway defined, its backendRefs a Service defined with that port (in another
// namespace only with a ReferenceGrant there allowing it). An lb-discover
// --gateway NS/NAME names a Gateway defined whose class's controllerName is its
// --gateway-controller, and every listener's port is one its pod's lb-proxy
// listens on (--listen [tls:]ADDR:PORT).
const flagsOf = (c) => {
  const argv = [...(c.command ?? []).slice(1), ...(c.args ?? [])], flags = {};
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith("--")) continue;
    const [k, v] = argv[i].includes("=") ? argv[i].slice(2).split(/=(.*)/s) :
      [argv[i].slice(2), i + 1 < argv.length && !argv[i + 1].startsWith("--") ? argv[++i] : true];
    (flags[k] ??= []).push(v);
  }
  return flags;
};
for (const gw of of("Gateway")) {
  if (!of("GatewayClass").some((c) => c.metadata.name === gw.spec.gatewayClassName)) problems.push(`Gateway ${ns(gw)}/${gw.metadata.name}: GatewayClass ${gw.spec.gatewayClassName} is not defined`);
}
for (const route of [...of("HTTPRoute"), ...of("TLSRoute"), ...of("TCPRoute")]) {
  const where = `${route.kind} ${ns(route)}/${route.metadata.name}`;
  for (const p of route.spec.parentRefs ?? []) {
    if ((p.kind ?? "Gateway") === "Gateway" && !named("Gateway", p.namespace ?? ns(route), p.name)) problems.push(`${where}: parentRef Gateway ${p.namespace ?? ns(route)}/${p.name} is not defined`);
  }
  for (const ref of (route.spec.rules ?? []).flatMap((r) => r.backendRefs ?? [])) {
    if ((ref.kind ?? "Service") !== "Service" || (ref.group ?? "") !== "") continue;
    const at = ref.namespace ?? ns(route), svc = named("Service", at, ref.name);
    if (!svc) { problems.push(`${where}: backendRef Service ${at}/${ref.name} is not defined`); continue; }
    if (!svc.spec.ports.some((p) => p.port === ref.port)) problems.push(`${where}: backendRef ${at}/${ref.name} port ${ref.port} is no port of the Service`);
    if (at !== ns(route) && !of("ReferenceGrant").some((g) => ns(g) === at &&
        g.spec.from.some((f) => f.group === GATEWAY && f.kind === route.kind && f.namespace === ns(route)) &&
        g.spec.to.some((t) => t.group === "" && t.kind === "Service" && (t.name ?? ref.name) === ref.name))) {
      problems.push(`${where}: backendRef Service ${at}/${ref.name} is in another namespace and no ReferenceGrant there allows it`);
    }
  }
}
for (const dep of of("Deployment")) {
  const cs = dep.spec.template.spec.containers;
  for (const c of cs.filter((c) => (c.command ?? [])[0] === "lb-discover")) {
    const f = flagsOf(c);
    if (!f.gateway) continue;
    const at = `Deployment ${dep.metadata.name}/${c.name}`;
    const [gns, gname] = String(f.gateway[0]).includes("/") ? String(f.gateway[0]).split("/") : [ns(dep), f.gateway[0]];
    const gw = named("Gateway", gns, gname);
    if (!gw) { problems.push(`${at}: --gateway ${f.gateway[0]}: no such Gateway`); continue; }
    const cls = of("GatewayClass").find((k) => k.metadata.name === gw.spec.gatewayClassName);
    const controller = f["gateway-controller"]?.[0] ?? "lb.dev/gateway-controller";
    if (cls && cls.spec.controllerName !== controller) problems.push(`${at}: --gateway-controller ${controller} is not the controllerName of GatewayClass ${cls.metadata.name} (${cls.spec.controllerName})`);
    const listens = cs.filter((p) => (p.command ?? [])[0] === "lb-proxy")
      .flatMap((p) => flagsOf(p).listen ?? []).map((l) => Number(String(l).split(":").pop()));
    for (const l of gw.spec.listeners) {
      if (!listens.includes(l.port)) problems.push(`${at}: Gateway ${gns}/${gname} listener ${l.name} port ${l.port} is not a port lb-proxy listens on (--listen ${listens.join(", ") || "none"})`);
    }
  }
}
// RBAC: the ServiceAccount that runs lb-discover may make exactly the calls
// lb-discover makes with its config, and no more. A rule allows a request
// (group, resource, verb, name) as the API server's RBAC authorizer decides:
// each list holds the value or "*", and resourceNames, when given, the name.
// A create carries no name (it is in the body, which the authorizer does not
// see), nor does a list or watch without fieldSelector=metadata.name=NAME.
const allows = (r, group, res, verb, name) =>
  (r.apiGroups ?? []).some((g) => g === "*" || g === group) &&
  (r.resources ?? []).some((x) => x === "*" || x === res) &&
  (r.verbs ?? []).some((v) => v === "*" || v === verb) &&
  (!(r.resourceNames ?? []).length || r.resourceNames.includes(name));
const truthy = (v) => v === true || ["true", "on", "yes", "1"].includes(String(v).toLowerCase());
const camel = (s, sep) => s.toLowerCase().replace(new RegExp(`${sep}([a-z])`, "g"), (_, c) => c.toUpperCase());

// lb-discover's settings in a container, as lb-discover reads them: its
// --config file (a key of a mounted ConfigMap), then LB_DISCOVER_* variables,
// then flags (--key VALUE, --key=VALUE, a bare --flag is true). Returns
// { settings, problem }.
function discoverSettings(pod, c) {
  const argv = [...(c.command ?? []).slice(1), ...(c.args ?? [])];
  const flags = {};
  let config = null;
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith("--")) continue;
    const [name, value] = argv[i].includes("=") ? [argv[i].slice(2, argv[i].indexOf("=")),
      argv[i].slice(argv[i].indexOf("=") + 1)] :
      [argv[i].slice(2), i + 1 < argv.length && !argv[i + 1].startsWith("--") ? argv[++i] : true];
    if (name === "config") config = value;
    else flags[camel(name, "-")] = value;
  }
  let file = {};
  if (config) {
    const mount = (c.volumeMounts ?? []).find((m) => m.subPath ? config === m.mountPath :
      config.startsWith(m.mountPath.replace(/\/$/, "") + "/"));
    const vol = mount && (pod.volumes ?? []).find((v) => v.name === mount.name);
    const rel = mount && (mount.subPath ?? config.slice(mount.mountPath.replace(/\/$/, "").length + 1));
    const key = vol?.configMap && ((vol.configMap.items ?? []).find((it) => it.path === rel)?.key ??
      (vol.configMap.items ? null : rel));
    const cm = key && named("ConfigMap", ns(pod), vol.configMap.name);
    if (!cm || cm.data?.[key] === undefined) return { problem: `--config ${config} is no key of a mounted ConfigMap` };
    try { file = JSON.parse(cm.data[key]); } catch { return { problem: `--config ${config}: not JSON` }; }
  }
  const env = {};
  for (const e of c.env ?? []) {
    if (e.name.startsWith("LB_DISCOVER_") && e.value !== undefined) env[camel(e.name.slice(12), "_")] = e.value;
  }
  return { settings: { ...file, ...env, ...flags } };
}

// What a container's lb-discover calls: [group, resource, verbs, name]
// ("" when the request carries no name, or one RBAC cannot know: a Lease's
// carries the pod's name), and the verbs granted beyond them that are fine.
const GATEWAY = "gateway.networking.k8s.io";
const READ = ["get", "list", "watch"];
function discoverNeeds(s) {
  if (s.gateway) {
    // --gateway NAMESPACE/NAME: the Gateway API controller (a 5th element true: a
    // need only a ClusterRole bound cluster-wide grants, GatewayClasses being
    // cluster-scoped)
    const routes = ["gateways", "httproutes", "tlsroutes", "tcproutes"];
    const needs = [[GATEWAY, "gatewayclasses", READ, "", true], [GATEWAY, "gatewayclasses/status", ["update"], "", true],
      ...[...routes, "referencegrants"].map((r) => [GATEWAY, r, READ, ""]),
      ...routes.map((r) => [GATEWAY, `${r}/status`, ["update"], ""]),
      ["", "services", READ, ""], ["discovery.k8s.io", "endpointslices", READ, ""],
      // the Secrets HTTPS listeners' certificateRefs name (a Role in their namespace will do)
      ["", "secrets", READ, ""],
      ["coordination.k8s.io", "leases", ["create", "get", "list", "watch", "update"], ""]];
    const allowed = [["coordination.k8s.io", "leases", ["patch"], ""],
      ...["gatewayclasses", ...routes].map((r) => [GATEWAY, `${r}/status`, ["patch"], ""])];
    return { needs, allowed, shared: true };
  }
  const needs = [["discovery.k8s.io", "endpointslices", ["get", "list", "watch"], ""],
    ["", "endpoints", ["get", "list", "watch"], ""]];
  const allowed = [];
  const service = s.kubernetes ?? s.backendServiceName;
  if (service && !truthy(s.noSharedState ?? false)) {
    const cm = `lb-state-${service}`;
    needs.push(["", "configmaps", ["get", "list", "watch", "update"], cm],
      ["", "configmaps", ["create"], ""],
      ["coordination.k8s.io", "leases", ["create", "get", "list", "watch", "update"], ""]);
    allowed.push(["", "configmaps", ["patch"], cm], ["coordination.k8s.io", "leases", ["patch"], ""]);
  }
  return { needs, allowed, shared: needs.length > 2 };
}

const fieldEnv = (c, name, field) => (c.env ?? []).some((e) => e.name === name &&
  e.valueFrom?.fieldRef?.fieldPath === field);
const fileOf = (d) => docs.find((x) => x.doc === d)?.file ?? "?";
const bySa = new Map();        // namespace/ServiceAccount -> { deps, needs, allowed }
for (const dep of of("Deployment")) {
  const pod = dep.spec.template.spec;
  const at = `${fileOf(dep)}: Deployment ${dep.metadata.name}`;
  const sa = pod.serviceAccountName ?? "default";
  const bindings = [...of("RoleBinding").filter((b) => ns(b) === ns(dep)), ...of("ClusterRoleBinding")].filter((b) =>
    b.subjects?.some((s) => s.kind === "ServiceAccount" && s.name === sa && (s.namespace ?? ns(b)) === ns(dep)));
  // a ClusterRoleBinding grants its ClusterRole everywhere; a RoleBinding, in its namespace only
  const roles = bindings.map((b) => {
    const role = b.roleRef.kind === "ClusterRole" ? of("ClusterRole").find((r) => r.metadata.name === b.roleRef.name)
      : named("Role", ns(dep), b.roleRef.name);
    return role && { role, cluster: b.kind === "ClusterRoleBinding" };
  }).filter(Boolean);
  const rules = roles.flatMap((r) => r.role.rules ?? []);
  const clusterRules = roles.filter((r) => r.cluster).flatMap((r) => r.role.rules ?? []);
  const bound = roles.length ? roles.map((r) => `${r.role.kind} ${r.role.metadata.name} in ${fileOf(r.role)}`).join(", ") :
    "no Role is bound to it";
  for (const c of pod.containers.filter((c) => (c.command ?? [])[0] === "lb-discover")) {
    const { settings, problem } = discoverSettings({ ...pod, metadata: dep.metadata }, c);
    if (problem) { problems.push(`${at}/${c.name}: ${problem}`); continue; }
    const { needs, allowed, shared } = discoverNeeds(settings);
    const key = `${ns(dep)}/${sa}`;
    if (!bySa.has(key)) bySa.set(key, { deps: new Set(), rules, needs: [], allowed: [] });
    const g = bySa.get(key);
    g.deps.add(dep.metadata.name);
    g.needs.push(...needs);
    g.allowed.push(...allowed);
    for (const [group, res, verbs, name, cluster] of needs) {
      const missing = verbs.filter((v) => !(cluster ? clusterRules : rules).some((r) => allows(r, group, res, v, name)));
      if (missing.length) problems.push(`${at}/${c.name}: ServiceAccount ${sa} cannot ${missing.join("/")} ` +
        `${group || "core"} ${res}${name ? ` "${name}"` : ""}${cluster ? " at the cluster scope" : ""} (${bound})`);
    }
    if (shared) {
      if (!fieldEnv(c, "POD_NAME", "metadata.name")) problems.push(`${at}/${c.name}: env POD_NAME must come ` +
        `from fieldRef metadata.name (each replica's Lease is named after its pod)`);
      if (!fieldEnv(c, "POD_UID", "metadata.uid")) problems.push(`${at}/${c.name}: env POD_UID must come ` +
        `from fieldRef metadata.uid (the Lease's ownerReference to its pod)`);
    }
  }
}
// no rule grants what no lb-discover run by the ServiceAccount needs: each
// (group, resource, verb, name) a rule grants, a name being one of its
// resourceNames or "" for any, is needed or allowed with that name or any
for (const { deps, rules, needs, allowed } of bySa.values()) {
  const ok = [...needs, ...allowed];
  for (const r of rules) {
    const names = (r.resourceNames ?? []).length ? r.resourceNames : [""];
    const wild = [...(r.apiGroups ?? []), ...(r.resources ?? []), ...(r.verbs ?? [])].includes("*");
    const more = wild || (r.apiGroups ?? []).some((group) => (r.resources ?? []).some((res) =>
      (r.verbs ?? []).some((v) => names.some((name) => !ok.some(([g, x, vs, n]) =>
        g === group && x === res && vs.includes(v) && (n === "" || n === name))))));
    if (more) for (const d of deps) problems.push(`Deployment ${d}: RBAC grants more than lb-discover needs (${JSON.stringify(r)})`);
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
