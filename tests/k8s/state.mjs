// The official JavaScript client against an API server (the simulator in the
// tests) for what lb's shared state needs: a ConfigMap created, read, replaced
// with optimistic concurrency (a stale resourceVersion must be refused with
// 409), patched and watched; a Lease created and renewed. Prints one JSON
// line per step. Usage: node state.mjs URL NAMESPACE
import * as k8s from "@kubernetes/client-node";
import { simConfig } from "./simconfig.mjs";

const [url, namespace] = process.argv.slice(2);
const kc = simConfig(url, namespace);
const core = kc.makeApiClient(k8s.CoreV1Api);
const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
const say = (step, doc) => console.log(JSON.stringify({ step, ...doc }));
const code = async (f) => {
  try {
    await f();
    return 0;
  } catch (e) {
    return e.code ?? -1;
  }
};

const events = [];
const informer = k8s.makeInformer(
  kc,
  `/api/v1/namespaces/${namespace}/configmaps`,
  () => core.listNamespacedConfigMap({ namespace }),
);
for (const ev of ["add", "update", "delete"]) {
  informer.on(ev, (obj) => events.push({ ev, name: obj.metadata?.name, data: obj.data }));
}
informer.on("error", (err) => say("informer-error", { message: String(err) }));
await informer.start();

const name = "lb-state-backend";
const created = await core.createNamespacedConfigMap({
  namespace, body: { metadata: { name }, data: { state: '{"generation":1}' } },
});
say("created", { rv: created.metadata.resourceVersion });
say("create-again", { code: await code(() => core.createNamespacedConfigMap({
  namespace, body: { metadata: { name }, data: {} } })) });
const read = await core.readNamespacedConfigMap({ name, namespace });
const replaced = await core.replaceNamespacedConfigMap({
  name, namespace, body: { ...read, data: { state: '{"generation":2}' } },
});
say("replaced", { rv: replaced.metadata.resourceVersion, data: replaced.data });
say("replace-stale", { code: await code(() => core.replaceNamespacedConfigMap({
  name, namespace, body: { ...read, data: { state: '{"generation":3}' } } })) });
const patched = await core.patchNamespacedConfigMap(
  { name, namespace, body: { data: { extra: "1" } } },
  k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
);
say("patched", { data: patched.data });

const lease = await coordination.createNamespacedLease({
  namespace,
  body: {
    metadata: { name: "lb-backend-pod-a" },
    spec: { holderIdentity: "pod-a", leaseDurationSeconds: 10,
            renewTime: new k8s.V1MicroTime() },
  },
});
say("lease-created", { holder: lease.spec.holderIdentity, rv: lease.metadata.resourceVersion });
const renewed = await coordination.replaceNamespacedLease({
  name: "lb-backend-pod-a", namespace,
  body: { ...lease, spec: { ...lease.spec, renewTime: new k8s.V1MicroTime() } },
});
say("lease-renewed", { rv: renewed.metadata.resourceVersion });
say("lease-stale", { code: await code(() => coordination.replaceNamespacedLease({
  name: "lb-backend-pod-a", namespace, body: lease })) });
const leases = await coordination.listNamespacedLease({ namespace });
say("leases", { names: leases.items.map((l) => l.metadata.name) });

await core.deleteNamespacedConfigMap({ name, namespace });
const deadline = Date.now() + 10000;
while (!events.some((e) => e.ev === "delete") && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 20));
}
say("informer", { events });
informer.stop();
process.exit(0);
