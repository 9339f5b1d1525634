#!/usr/bin/env bash
# make demo: the whole system on loopback: three lb-echo backends, lb-discover
# publishing their set on the bus, two lb-proxy sharing one port, traffic,
# lb-ctl status, a drain, status again. Cleans up after itself.
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
export LB_RUNTIME_DIR="$RUN/bus"

# port_of LOG: the port a program logged it listens on.
port_of() {
	for _ in $(seq 400); do
		# no line yet is not an error (set -e, pipefail)
		p=$(grep -o 'listening listen=127.0.0.1:[0-9]*' "$1" | head -1 | sed 's/.*://' || true)
		[ -n "$p" ] && { echo "$p"; return; }
		sleep 0.05
	done
	echo "no listening line in $1:" >&2; cat "$1" >&2; exit 1
}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "three lb-echo backends"
BACKENDS=()
for i in 1 2 3; do
	POD_NAME="echo-$i" bin/lb-echo --listen 127.0.0.1:0 --access-log off 2>"$RUN/echo-$i.log" &
	PIDS+=($!)
	BACKENDS+=("127.0.0.1:$(port_of "$RUN/echo-$i.log")")
	echo "   echo-$i on ${BACKENDS[-1]}"
done
LIST=$(IFS=,; echo "${BACKENDS[*]}")

step "lb-discover publishes their set on the bus ($LB_RUNTIME_DIR)"
bin/lb-discover --static "$LIST" --health-interval 0.5 2>"$RUN/discover.log" &
PIDS+=($!)
for _ in $(seq 100); do grep -q publishing "$RUN/discover.log" && break; sleep 0.05; done
grep publishing "$RUN/discover.log" | sed 's/^/   /'

step "two lb-proxy subscribe, sharing one port (SO_REUSEPORT)"
bin/lb-proxy --listen 127.0.0.1:0 --admin 127.0.0.1:0 --access-log off --reuse-port \
	2>"$RUN/proxy-1.log" &
PIDS+=($!)
PORT=$(port_of "$RUN/proxy-1.log")
bin/lb-proxy --listen "127.0.0.1:$PORT" --admin 127.0.0.1:0 --access-log off --reuse-port \
	2>"$RUN/proxy-2.log" &
PIDS+=($!)
port_of "$RUN/proxy-2.log" >/dev/null
for _ in $(seq 60); do
	n=$(grep -c "set applied" "$RUN/proxy-1.log" "$RUN/proxy-2.log" | grep -c ':[1-9]' || true)
	[ "$n" = 2 ] && break
	sleep 0.05
done
echo "   proxies on 127.0.0.1:$PORT, both applied the set"

step "30 requests through the proxies: who answered"
for i in $(seq 30); do
	curl -s "http://127.0.0.1:$PORT/item/$i" | grep -o '"podName":"[^"]*"'
done | sort | uniq -c

step "POST JSON through the proxy: echoed back"
curl -s -X POST "http://127.0.0.1:$PORT/orders" -H 'Content-Type: application/json' \
	-d '{"order": {"id": 7, "items": ["tea", "cake"]}}'; echo

sleep 0.5
step "lb-ctl status"
bin/lb-ctl status

step "lb-ctl drain ${BACKENDS[1]} --wait"
bin/lb-ctl drain "${BACKENDS[1]}" --wait

step "20 more requests: echo-2 gets none"
for i in $(seq 20); do
	curl -s "http://127.0.0.1:$PORT/after/$i" | grep -o '"podName":"[^"]*"'
done | sort | uniq -c

sleep 0.5
step "lb-ctl status again"
bin/lb-ctl status

step "make echo-3 sick: health checks take it down"
curl -s -X POST "http://${BACKENDS[2]}/fault" -d '{"health": "fail"}' >/dev/null
for _ in $(seq 40); do
	bin/lb-ctl --json status | grep -q '"state":"down"' && break
	sleep 0.1
done
bin/lb-ctl status | sed -n '3,7p'
curl -s -X DELETE "http://${BACKENDS[2]}/fault" >/dev/null
bin/lb-ctl undrain "${BACKENDS[1]}" >/dev/null
echo
echo "demo done"
