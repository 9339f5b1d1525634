#!/usr/bin/env bash
# Exercises lb on kind: traffic through the NodePort, scaling, lb-ctl status,
# a drain, a pod deletion under traffic, the replicas' shared state (its
# ConfigMap, their Leases, a drain made on one seen by the other). Run after
# k8s/up.sh.
set -euo pipefail
URL=${URL:-http://localhost:8080}
ns=(-n demo)

hits() { for _ in $(seq "$1"); do curl -sf "$URL/" | grep -o '"podName":"[^"]*"'; done | sort | uniq -c; }
# until_ok N CMD...: runs CMD once a second until it succeeds, N times at most
until_ok() {
	local n=$1
	shift
	until "$@"; do
		((--n > 0)) || { echo "smoke: timed out waiting for: $*" >&2; return 1; }
		sleep 1
	done
}
ctl() { local pod=$1; shift; kubectl "${ns[@]}" exec "$pod" -c lb-discover -- lb-ctl --runtime-dir /run/lb/bus "$@"; }
# shows POD ADDR STATE: POD's lb-ctl status lists ADDR in STATE
shows() {
	local out
	out=$(ctl "$1" status) && awk -v a="$2" -v s="$3" '$1 == a && $2 == s { f = 1 } END { exit !f }' <<<"$out"
}

echo "== traffic through the NodePort"
hits 30
lbpod=$(kubectl "${ns[@]}" get pods -l app=lb -o jsonpath='{.items[0].metadata.name}')

echo "== scale the backend to 5"
kubectl "${ns[@]}" scale deployment/backend --replicas=5
kubectl "${ns[@]}" rollout status deployment/backend --timeout=120s
sleep 2
kubectl "${ns[@]}" exec "$lbpod" -c lb-discover -- lb-ctl --runtime-dir /run/lb/bus status
hits 30

echo "== drain one backend pod"
addr=$(kubectl "${ns[@]}" exec "$lbpod" -c lb-discover -- lb-ctl --runtime-dir /run/lb/bus --json status |
	grep -o '"address":"[^"]*"' | head -1 | cut -d'"' -f4)
kubectl "${ns[@]}" exec "$lbpod" -c lb-discover -- lb-ctl --runtime-dir /run/lb/bus drain "$addr" --wait
hits 20

echo "== delete a backend pod under traffic: no failed request"
victim=$(kubectl "${ns[@]}" get pods -l app=backend -o jsonpath='{.items[0].metadata.name}')
( for _ in $(seq 200); do curl -s -o /dev/null -w '%{http_code}\n' "$URL/"; done > /tmp/lb-smoke-codes ) &
kubectl "${ns[@]}" delete pod "$victim" --wait=false
wait
sort /tmp/lb-smoke-codes | uniq -c
# (a bare `! grep` would not stop the script: set -e ignores a negated command)
if grep -qv '^200$' /tmp/lb-smoke-codes; then echo "smoke: a request failed" >&2; exit 1; fi
echo "== HTTPS through lb-tls's NodePort (the lb-tls Secret's certificate)"
curl -skf "${TLS_URL:-https://localhost:8443}/" | grep -o '"podName":"[^"]*"'

echo "== the fleet's shared state: the ConfigMap and each lb replica's Lease"
until_ok 30 kubectl "${ns[@]}" get configmap lb-state-backend-service
# (lb-tls's replicas watch backend-service too: their Leases are listed as well)
kubectl "${ns[@]}" get leases -l lb-discover/service=backend-service
read -ra lbpods <<<"$(kubectl "${ns[@]}" get pods -l app=lb --field-selector=status.phase=Running \
	-o jsonpath='{.items[*].metadata.name}')"
[ "${#lbpods[@]}" -ge 2 ] || { echo "smoke: ${#lbpods[@]} running lb pods, want 2" >&2; exit 1; }
for pod in "${lbpods[@]}"; do
	until_ok 30 kubectl "${ns[@]}" get lease "lb-backend-service-$pod" -o name
done

echo "== a drain through ${lbpods[0]}'s lb-ctl shows in ${lbpods[1]}'s"
shared=$(ctl "${lbpods[0]}" --json status | grep -o '"address":"[^"]*","state":"up"' | sed -n 1p |
	cut -d'"' -f4)
[ -n "$shared" ] || { echo "smoke: no backend up on ${lbpods[0]}" >&2; exit 1; }
ctl "${lbpods[0]}" drain "$shared"
until_ok 30 shows "${lbpods[1]}" "$shared" draining
ctl "${lbpods[1]}" status
ctl "${lbpods[0]}" undrain "$shared"
until_ok 30 shows "${lbpods[1]}" "$shared" up
echo "smoke passed"
