#!/usr/bin/env bash
# Creates the kind cluster, builds and loads the image, deploys lb and waits.
# Needs Docker and kind (not on lb's development machines: see the README).
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in docker kind kubectl; do
	command -v "$tool" >/dev/null || { echo "k8s/up.sh needs $tool" >&2; exit 1; }
done
kind get clusters | grep -qx lb || kind create cluster --config k8s/kind-config.yaml
docker build -f k8s/Dockerfile -t lb:dev .
kind load docker-image lb:dev --name lb
kubectl apply -f k8s/namespace.yaml
# lb-tls serves the TLS Secret lb-tls: a self-signed one when there is none
if ! kubectl -n demo get secret lb-tls >/dev/null 2>&1; then
	tls=$(mktemp -d)
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
		-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
		-keyout "$tls/tls.key" -out "$tls/tls.crt" 2>/dev/null
	kubectl -n demo create secret tls lb-tls --cert="$tls/tls.crt" --key="$tls/tls.key"
	rm -rf "$tls"
fi
kubectl apply -f k8s/backend.yaml -f k8s/lb.yaml -f k8s/lb-tls.yaml
kubectl -n demo rollout status deployment/backend --timeout=120s
kubectl -n demo rollout status deployment/lb --timeout=120s
kubectl -n demo rollout status deployment/lb-tls --timeout=120s
echo "lb is up: curl http://localhost:8080/ and curl -k https://localhost:8443/"
