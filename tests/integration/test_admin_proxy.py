"""lb-proxy's admin API beyond its reads (issue 27): lb-discover's /admin/
routes on its own set in --backends mode (drain?wait= parked on its own
in-flight requests), and --admin-path, the admin routes on the traffic port
under a prefix (HAProxy's `stats uri`), off by default. The routes' bodies
and statuses against the OpenAPI document are in test_openapi.py."""
import json
import signal
import os
import tempfile
import subprocess
import threading
import urllib.parse

from conftest import SLOW, binary, request_in_flight
from test_admin_api import Admin


def enc(addr):
    return urllib.parse.quote(addr, safe="")


def test_drain_wait_on_lb_proxy_waits_for_its_own_requests(echo, proxy):
    """POST /admin/backends/A/drain?wait=S on lb-proxy --backends: 202 when
    a request to A outlasts S (the drain stays applied), 409 when an undrain
    cancels a parked wait (docs/admin-api.md: a script must not stop the
    backend then), 200 once nothing is in flight to it."""
    slow = echo("--delay-ms", str(int(2000 * SLOW)), "--access-log", "off")
    fast = echo("--access-log", "off")
    px = proxy([slow.addr, fast.addr])
    api = Admin(px.proc, px.admin_port)
    # the fast one drained first: the slow one gets the request
    assert api.call("POST", f"/admin/backends/{enc(fast.addr)}/drain")[0] == 200
    t = request_in_flight(px, "/slow", backend=slow.addr)
    st, _, got = api.call("POST", f"/admin/backends/{enc(slow.addr)}/drain?wait=0.3")
    assert st == 202 and got["drained"] is False and got["in_flight"] == 1, got
    assert api.rows()[slow.addr]["state"] == "draining"
    box = {}
    w = threading.Thread(target=lambda: box.setdefault("r", api.call(
        "POST", f"/admin/backends/{enc(slow.addr)}/drain?wait=10")))
    w.start()
    w.join(0.3)
    assert w.is_alive(), "the wait did not park"
    assert api.call("POST", f"/admin/backends/{enc(slow.addr)}/undrain")[0] == 200
    w.join(10 * SLOW)
    st, _, got = box["r"]
    assert st == 409 and got["drained"] is False and "cancelled" in got["error"], got
    # drained again: answered once the request ends
    box = {}
    w = threading.Thread(target=lambda: box.setdefault("r", api.call(
        "POST", f"/admin/backends/{enc(slow.addr)}/drain?wait=10")))
    w.start()
    t.join()
    w.join(10 * SLOW)
    assert t.response[0] == 200
    st, _, got = box["r"]
    assert st == 200 and got["drained"] is True and got["in_flight"] == 0, got
    assert "drain wait ended: the drain was cancelled" in px.proc.text()


def test_writes_change_what_lb_proxy_balances_over(echo, proxy):
    """add, weight, remove on lb-proxy --backends: the requests follow (seed
    004's add/remove without lb-discover)."""
    a = echo("--access-log", "off", "--pod-name", "a")
    b = echo("--access-log", "off", "--pod-name", "b")
    px = proxy([a.addr])
    api = Admin(px.proc, px.admin_port)

    def served(n=12):
        return [json.loads(px.request("GET", "/")[2])["podName"] for _ in range(n)]

    assert set(served()) == {"a"}
    assert api.call("POST", "/admin/backends", {"address": b.addr, "weight": 2})[0] == 201
    got = served(12)
    assert got.count("b") == 8 and got.count("a") == 4, got     # weights 1:2
    assert api.call("DELETE", f"/admin/backends/{enc(a.addr)}")[0] == 200
    assert set(served()) == {"b"}
    assert px.admin("/info")[1]["generation"] == 3


def test_admin_path_answers_the_admin_routes_on_the_traffic_port(echo, proxy):
    """Seed 000: /info on the traffic port was proxied to a backend, which
    answered echo JSON (plausible and wrong). With --admin-path /lb/ the
    admin routes answer under it (lb's /info JSON, /metrics text); other
    paths are proxied as before, and without the flag nothing changes."""
    e = echo("--access-log", "off", "--pod-name", "echo")
    px = proxy([e.addr], "--admin-path", "/lb/")
    st, h, body = px.request("GET", "/lb/info")
    doc = json.loads(body)
    assert st == 200 and doc["source"] == "static" and doc["backends"][0]["address"] == e.addr
    st, h, body = px.request("GET", "/lb/metrics")
    assert st == 200 and h["Content-Type"].startswith("text/plain")
    assert b"lb_proxy_requests_total" in body
    st, _, body = px.request("GET", "/lb/admin/backends")
    assert st == 200 and json.loads(body)["backends"][0]["address"] == e.addr
    st, _, body = px.request("GET", "/lb/debug/next-backend")
    assert st == 200 and e.addr.encode() in body
    # writes there need the token: the traffic port is open to every client
    st, _, body = px.request("POST", f"/lb/admin/backends/{enc(e.addr)}/drain")
    assert st == 403 and b"--admin-token" in body
    # not under the prefix: proxied
    st, _, body = px.request("GET", "/info")
    assert st == 200 and json.loads(body)["podName"] == "echo"
    st, _, body = px.request("GET", "/lbx/info")
    assert st == 200 and json.loads(body)["podName"] == "echo"
    # off by default: /lb/info goes to the backend
    plain = proxy([e.addr])
    st, _, body = plain.request("GET", "/lb/info")
    assert st == 200 and json.loads(body)["podName"] == "echo"


def test_admin_path_writes_with_the_token(echo, proxy):
    e1, e2 = echo("--access-log", "off"), echo("--access-log", "off")
    token = tempfile.NamedTemporaryFile("w", prefix="lb-token-", delete=False)
    token.write("sesame\n")
    token.close()
    px = proxy([e1.addr, e2.addr], "--admin-path", "/lb/", "--admin-token", token.name)
    os.unlink(token.name)
    path = f"/lb/admin/backends/{enc(e2.addr)}/drain"
    st, h, _ = px.request("POST", path)
    assert st == 401 and "Bearer" in h["WWW-Authenticate"]
    assert px.request("POST", path, headers={"Authorization": "Bearer nope"})[0] == 403
    st, _, body = px.request("POST", path, headers={"Authorization": "Bearer sesame"})
    assert st == 200, body
    states = {b["address"]: b["state"] for b in px.admin("/info")[1]["backends"]}
    assert states == {e1.addr: "up", e2.addr: "draining"}
    # the writes that take a body go to the admin listener
    st, _, body = px.request("PUT", f"/lb/admin/backends/{enc(e1.addr)}/weight",
                             body=b'{"weight":4}',
                             headers={"Authorization": "Bearer sesame",
                                      "Content-Type": "application/json"})
    assert st == 400 and b"admin listener" in body, body
    st, _, _ = px.request("POST", path + "?wait=1", headers={"Authorization": "Bearer sesame"})
    assert st == 400                 # no parked waits on the traffic port


def test_admin_path_is_checked_at_start_up():
    for bad in ("lb", "/lb", "/l b/", "//"):
        r = subprocess.run([binary("lb-proxy"), "--backends", "127.0.0.1:1", "--listen",
                            "127.0.0.1:0", "--admin", "127.0.0.1:0", "--admin-path", bad],
                           capture_output=True, text=True, timeout=10 * SLOW)
        assert r.returncode == 2 and "--admin-path" in r.stderr, (bad, r.stderr)


def test_a_parked_drain_wait_is_told_when_lb_proxy_stops(echo, proxy):
    """SIGTERM while a drain?wait= is parked: 503 naming why (the drain stays
    applied), not a connection closed without an answer."""
    slow = echo("--delay-ms", str(int(2000 * SLOW)), "--access-log", "off")
    px = proxy([slow.addr])
    api = Admin(px.proc, px.admin_port)
    t = request_in_flight(px, "/slow", backend=slow.addr)
    box = {}
    w = threading.Thread(target=lambda: box.setdefault("r", api.call(
        "POST", f"/admin/backends/{enc(slow.addr)}/drain?wait=30")))
    w.start()
    w.join(0.3)
    assert w.is_alive(), "the wait did not park"
    px.proc.p.send_signal(signal.SIGTERM)
    w.join(10 * SLOW)
    st, _, got = box["r"]
    assert st == 503 and "stopping" in got["error"], got
    t.join()
    assert px.proc.p.wait(10 * SLOW) == 0
