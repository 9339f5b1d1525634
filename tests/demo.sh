#!/usr/bin/env bash
# make demo: lb on loopback. Starts backends, shows them answering, cleans up.
set -euo pipefail
cd "$(dirname "$0")/.."

RUN=$(mktemp -d /tmp/lb-demo.XXXXXX)
PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$RUN"
}
trap cleanup EXIT

# port_of LOG: the port a program logged it listens on.
port_of() {
	for _ in $(seq 100); do
		p=$(grep -o 'listening listen=127.0.0.1:[0-9]*' "$1" | head -1 | sed 's/.*://')
		[ -n "$p" ] && { echo "$p"; return; }
		sleep 0.05
	done
	echo "no listening line in $1:" >&2; cat "$1" >&2; exit 1
}

echo "== three lb-echo backends"
BACKENDS=()
for i in 1 2 3; do
	POD_NAME="echo-$i" bin/lb-echo --listen 127.0.0.1:0 --access-log off 2>"$RUN/echo-$i.log" &
	PIDS+=($!)
	port=$(port_of "$RUN/echo-$i.log")
	BACKENDS+=("127.0.0.1:$port")
	echo "   echo-$i on 127.0.0.1:$port"
done

echo
echo "== GET: each backend answers with its identity"
for b in "${BACKENDS[@]}"; do
	curl -s "http://$b/hello" -H 'X-Request-Id: demo-1'; echo
done

echo
echo "== POST JSON: echoed back"
curl -s -X POST "http://${BACKENDS[0]}/orders" -H 'Content-Type: application/json' \
	-d '{"order": {"id": 7, "items": ["tea", "cake"]}}'; echo

echo
echo "== invalid JSON: 400 with line and column"
curl -s -X POST "http://${BACKENDS[0]}/orders" -H 'Content-Type: application/json' -d '{"id": }'; echo

echo
echo "== fault injection: make echo-2 sick, then heal it"
curl -s -X POST "http://${BACKENDS[1]}/fault" -d '{"health": "fail", "delayMs": 100}'; echo
curl -s -o /dev/null -w "   /health -> %{http_code}\n" "http://${BACKENDS[1]}/health"
curl -s -X DELETE "http://${BACKENDS[1]}/fault"; echo
curl -s -o /dev/null -w "   /health -> %{http_code}\n" "http://${BACKENDS[1]}/health"
echo
echo "demo done"
