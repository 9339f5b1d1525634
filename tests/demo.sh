#!/usr/bin/env bash
# make demo: lb on loopback: three lb-echo backends, two lb-proxy on one port,
# traffic, each proxy's view, a backend killed under traffic. Cleans up after.
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
echo "== two lb-proxy sharing one port (SO_REUSEPORT), balancing across the three"
LIST=$(IFS=,; echo "${BACKENDS[*]}")
bin/lb-proxy --listen 127.0.0.1:0 --admin 127.0.0.1:0 --backends "$LIST" --access-log off \
	2>"$RUN/proxy-1.log" &
PIDS+=($!)
PORT=$(port_of "$RUN/proxy-1.log")
bin/lb-proxy --listen "127.0.0.1:$PORT" --admin 127.0.0.1:0 --backends "$LIST" --access-log off \
	2>"$RUN/proxy-2.log" &
PIDS+=($!)
port_of "$RUN/proxy-2.log" >/dev/null
ADMIN1=$(grep -o 'admin=127.0.0.1:[0-9]*' "$RUN/proxy-1.log" | sed 's/.*://')
ADMIN2=$(grep -o 'admin=127.0.0.1:[0-9]*' "$RUN/proxy-2.log" | sed 's/.*://')
echo "   proxies on 127.0.0.1:$PORT (admin :$ADMIN1 and :$ADMIN2)"

echo
echo "== 30 requests through the proxies: who answered"
for i in $(seq 30); do
	curl -s "http://127.0.0.1:$PORT/item/$i" | grep -o '"podName":"[^"]*"'
done | sort | uniq -c

echo
echo "== each proxy's view (GET /info on its admin port)"
curl -s "http://127.0.0.1:$ADMIN1/info"; echo
curl -s "http://127.0.0.1:$ADMIN2/info"; echo

echo
echo "== kill echo-2: requests keep succeeding (retried elsewhere, then skipped)"
kill "${PIDS[1]}"
codes=$(for i in $(seq 20); do curl -s -o /dev/null -w "%{http_code} " "http://127.0.0.1:$PORT/x"; done)
echo "   $codes"
POD_NAME="echo-2" bin/lb-echo --listen "${BACKENDS[1]}" --access-log off 2>>"$RUN/echo-2.log" &
PIDS+=($!)
sleep 0.2

echo
echo "== GET through the proxy: identity of the backend, request id kept"
curl -s "http://127.0.0.1:$PORT/hello" -H 'X-Request-Id: demo-1'; echo

echo
echo "== POST JSON through the proxy: echoed back"
curl -s -X POST "http://127.0.0.1:$PORT/orders" -H 'Content-Type: application/json' \
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
