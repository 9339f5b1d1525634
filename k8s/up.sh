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
kubectl apply -f k8s/backend.yaml -f k8s/lb.yaml
kubectl -n demo rollout status deployment/backend --timeout=120s
kubectl -n demo rollout status deployment/lb --timeout=120s
echo "lb is up: curl http://localhost:8080/"
