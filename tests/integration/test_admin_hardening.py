"""The admin APIs hardened (issue "Reliability round 3"): a drain --wait that
ends "drained" only for the drain it waits on (409 / exit 5 when it was
cancelled), the admin API reachable under a flood of unfinished
connections, Host, raw routing, strict ?wait=, 414, 503 at SIGTERM; and the
same classes in lb-proxy's admin listener and lb-ctl's flags."""
import http.client
import json
import socket
import subprocess
import threading
import time

import pytest

from conftest import SLOW, binary, bus_proxy, ctl, ctl_json, request_in_flight, wait_for
from support.rawbackend import RawBackend, ok, serve_each
from test_admin_api import start_admin


def settled(discover, proxy, rundir, backends):
    """lb-discover (admin API, --static backends) with one bus proxy whose
    reports it has heard."""
    a = start_admin(discover, "--static", ",".join(backends), "--heartbeat", "0.05")
    p = bus_proxy(proxy, rundir, "--heartbeat", "0.2", "--report-interval", "0.05")
    wait_for("set", lambda: p.admin("/info")[1]["generation"] >= 1)
    wait_for("lb-discover has heard every proxy",
             lambda: a.call("GET", "/admin/proxies")[2]["proxies_settled"], timeout=10)
    return a, p


def in_flight(rundir, addr, n):
    return wait_for(f"{n} in flight to {addr}",
                    lambda: ctl_json(rundir, "in-flight", addr)["in_flight"] == n, timeout=10)


def parked_drain(a, addr, wait=10):
    box = {}
    t = threading.Thread(target=lambda: box.setdefault(
        "r", a.call("POST", f"/admin/backends/{addr}/drain?wait={wait}")))
    t.start()
    t.box = box
    return t


@pytest.mark.parametrize("cancel", ["undrain", "remove-add", "undrain-drain"])
def test_drain_wait_ends_409_when_the_drain_is_cancelled(discover, proxy, rundir, cancel):
    release = threading.Event()
    held = RawBackend(serve_each(lambda *req: (release.wait(30 * SLOW), ok())[1]))
    try:
        a, p = settled(discover, proxy, rundir, [held.addr])
        t = request_in_flight(p, "/slow")
        in_flight(rundir, held.addr, 1)
        w = parked_drain(a, held.addr)
        wait_for("the drain applied", lambda: a.rows()[held.addr]["state"] == "draining")
        w.join(0.3)
        assert w.is_alive(), w.box
        if cancel == "undrain":
            assert a.call("POST", f"/admin/backends/{held.addr}/undrain")[0] == 200
        elif cancel == "remove-add":
            assert a.call("DELETE", f"/admin/backends/{held.addr}")[0] == 200
            assert a.call("POST", "/admin/backends", {"address": held.addr})[0] == 201
        else:
            assert a.call("POST", f"/admin/backends/{held.addr}/undrain")[0] == 200
            assert a.call("POST", f"/admin/backends/{held.addr}/drain")[0] == 200
        release.set()           # the request ends: nothing in flight any more
        t.join()
        w.join(15 * SLOW)
        st, _, r = w.box["r"]
        assert st == 409 and r["drained"] is False, (st, r)
        assert "cancelled" in r["error"], r
        assert "drain wait ended: the drain was cancelled" in a.proc.text()
    finally:
        release.set()
        held.close()


def test_lb_ctl_drain_wait_exits_5_when_the_drain_is_undone(discover, proxy, rundir):
    release = threading.Event()
    held = RawBackend(serve_each(lambda *req: (release.wait(30 * SLOW), ok())[1]))
    try:
        a, p = settled(discover, proxy, rundir, [held.addr])
        t = request_in_flight(p, "/slow")
        in_flight(rundir, held.addr, 1)
        c = subprocess.Popen([binary("lb-ctl"), "--runtime-dir", rundir, "drain", held.addr,
                              "--wait", "--timeout", "20"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        wait_for("the drain applied", lambda: a.rows()[held.addr]["state"] == "draining")
        assert c.poll() is None
        code, _, err = ctl(rundir, "undrain", held.addr)
        assert code == 0, err
        release.set()
        t.join()
        out, err = c.communicate(timeout=15 * SLOW)
        assert c.returncode == 5, (c.returncode, out, err)
        assert "not drained: the drain was cancelled" in err and "drained on" not in err, err
        # lb-ctl in-flight says the same through the same rule
        d = ctl_json(rundir, "in-flight", held.addr)
        assert d["drained"] is False and "undrain" in d["cancelled"], d
    finally:
        release.set()
        held.close()
