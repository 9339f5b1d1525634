// The official JavaScript client's informer against an API server (the
// simulator in the tests): prints one JSON line per add/update/delete of the
// service's EndpointSlices. Usage: node informer.mjs URL NAMESPACE SERVICE
import * as k8s from "@kubernetes/client-node";
import { simConfig } from "./simconfig.mjs";

const [url, namespace, service] = process.argv.slice(2);
const kc = simConfig(url, namespace);
const api = kc.makeApiClient(k8s.DiscoveryV1Api);
const selector = `kubernetes.io/service-name=${service}`;
const informer = k8s.makeInformer(
  kc,
  `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
  () => api.listNamespacedEndpointSlice({ namespace, labelSelector: selector }),
  selector,
);
const show = (event) => (obj) => console.log(JSON.stringify({
  event,
  name: obj.metadata?.name,
  resourceVersion: obj.metadata?.resourceVersion,
  endpoints: (obj.endpoints ?? []).map((e) => ({ ip: e.addresses[0], ...e.conditions })),
}));
informer.on("add", show("add"));
informer.on("update", show("update"));
informer.on("delete", show("delete"));
informer.on("error", (err) => {
  console.log(JSON.stringify({ event: "error", message: String(err) }));
  setTimeout(() => informer.start(), 500);
});
await informer.start();
console.log(JSON.stringify({ event: "started" }));
