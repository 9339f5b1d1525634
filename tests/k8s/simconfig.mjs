// The KubeConfig the tests' JavaScript clients use to reach an API server
// (the simulator): no credentials, TLS not verified, one namespace.
import * as k8s from "@kubernetes/client-node";

export function simConfig(url, namespace) {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "sim", server: url, skipTLSVerify: true }],
    users: [{ name: "anonymous" }],
    contexts: [{ name: "sim", cluster: "sim", user: "anonymous", namespace }],
    currentContext: "sim",
  });
  return kc;
}
