#!/usr/bin/env bash
# Exercises lb on kind: traffic through the NodePort, scaling, lb-ctl status,
# a drain, a pod deletion under traffic. Run after k8s/up.sh.
set -euo pipefail
URL=${URL:-http://localhost:8080}
ns=(-n demo)

hits() { for _ in $(seq "$1"); do curl -sf "$URL/" | grep -o '"podName":"[^"]*"'; done | sort | uniq -c; }

echo "== traffic through the NodePort"
hits 30
lbpod=$(kubectl "${ns[@]}" get pods -l app=lb -o jsonpath='{.items[0].metadata.name}')

echo "== scale the backend to 5"
kubectl "${ns[@]}" scale deployment/backend --replicas=5
kubectl "${ns[@]}" rollout status deployment/backend --timeout=120s
sleep 2
kubectl "${ns[@]}" exec "$lbpod" -c lb-discover -- lb-ctl --runtime-dir /run/lb status
hits 30

echo "== drain one backend pod"
addr=$(kubectl "${ns[@]}" exec "$lbpod" -c lb-discover -- lb-ctl --runtime-dir /run/lb --json status |
	grep -o '"address":"[^"]*"' | head -1 | cut -d'"' -f4)
kubectl "${ns[@]}" exec "$lbpod" -c lb-discover -- lb-ctl --runtime-dir /run/lb drain "$addr" --wait
hits 20

echo "== delete a backend pod under traffic: no failed request"
victim=$(kubectl "${ns[@]}" get pods -l app=backend -o jsonpath='{.items[0].metadata.name}')
( for _ in $(seq 200); do curl -s -o /dev/null -w '%{http_code}\n' "$URL/"; done > /tmp/lb-smoke-codes ) &
kubectl "${ns[@]}" delete pod "$victim" --wait=false
wait
sort /tmp/lb-smoke-codes | uniq -c
! grep -qv '^200$' /tmp/lb-smoke-codes
echo "== HTTPS through lb-tls's NodePort (the lb-tls Secret's certificate)"
curl -skf "${TLS_URL:-https://localhost:8443}/" | grep -o '"podName":"[^"]*"'
echo "smoke passed"
