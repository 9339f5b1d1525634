"""Broken and hostile bytes on every bus socket of every program, sent raw over
AF_UNIX: each program must survive them and keep working (issue 12, item 2:
a 9-byte frame announcing 100 GB aborted lb-discover)."""
import json
import os
import subprocess

from conftest import SLOW, binary, ctl, generation, protocol_constant, wait_for
from support.spwire import (BOUND_AS, HUGE, PEER_OF, REP, FakeBound, bad_inputs, frame,
                            header, send_raw)

LIMIT = protocol_constant("BUS_MAX_MESSAGE")
VERSION = protocol_constant("BUS_PROTOCOL_VERSION")


def bus_proxy(proxy, rundir, *flags):
    """A proxy on the bus that listens at once: the fixture waits for its
    listening line, which would otherwise come only with a set or after
    --initial-set-timeout (5 s, the fixture's own wait on a loaded machine)."""
    return proxy(None, "--runtime-dir", rundir, "--access-log", "off",
                 "--initial-set-timeout", "0", *flags)


def test_lb_discover_survives_bad_frames_on_every_socket(echo, discover, proxy, rundir):
    e = echo("--access-log", "off")
    d = discover("--static", e.addr, "--heartbeat", "0.2")
    p = bus_proxy(proxy, rundir, "--heartbeat", "0.2")
    wait_for("the first set", lambda: generation(p) >= 1)
    for name in ("sets", "reports", "control"):
        for what, data in bad_inputs(PEER_OF[name], LIMIT):
            send_raw(os.path.join(rundir, f"{name}.sock"), data)
            # the transport hung up on us; lb-discover must still answer
            code, out, err = ctl(rundir, "status", timeout=10)
            assert code == 0 and d.p.poll() is None, \
                f"lb-discover after {what} on {name}.sock: exit {d.p.poll()}\n{d.text()[-3000:]}"
    gen = generation(p)
    assert ctl(rundir, "drain", e.addr)[0] == 0
    wait_for("the proxy applies a new set", lambda: generation(p) > gen)


def test_lb_proxy_survives_a_hostile_bus_then_follows_lb_discover(echo, discover, proxy,
                                                                    rundir):
    sets = FakeBound(rundir, "sets", [d for _, d in bad_inputs(BOUND_AS["sets"], LIMIT)])
    reports = FakeBound(rundir, "reports", [d for _, d in bad_inputs(BOUND_AS["reports"], LIMIT)])
    p = bus_proxy(proxy, rundir, "--report-interval", "0.05")
    try:
        # nanomsg reconnects every 100 ms: each connection gets the next case
        wait_for("every case sent to the proxy", lambda: sets.done.is_set() and
                 reports.done.is_set(), timeout=15)
        assert sets.peer_headers[0] == header(33) and reports.peer_headers[0] == header(80)
        assert p.admin("/health")[0] == 200 and p.proc.p.poll() is None
    finally:
        sets.close()
        reports.close()
    # well framed but not a set: read, logged, dropped (nanocat repeats it:
    # the proxy may still be reconnecting)
    bogus = subprocess.Popen(["nanocat", "--pub", "--bind", f"ipc://{rundir}/sets.sock",
                              "--interval", "0.05", "--data",
                              '{"v":%d,"type":"set","service":"backend","generation":"x"}'
                              % VERSION], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        p.proc.wait_log("malformed set dropped")
    finally:
        bogus.kill()
        bogus.wait()
    e = echo("--access-log", "off")
    discover("--static", e.addr)
    wait_for("the proxy takes lb-discover's set", lambda: generation(p) >= 1, timeout=10)
    assert p.request("GET", "/")[0] == 200


def test_lb_ctl_survives_a_hostile_reply(rundir):
    # a REP answers once it has read the request (answering while it is being
    # sent aborts nanomsg 1.1.5: see the README's Faults)
    control = FakeBound(rundir, "control", [header(REP) + frame(size=HUGE)], read_first=True)
    try:
        code, out, err = ctl(rundir, "--timeout", "1", "status")
        assert code == 4 and "no reply" in err, (code, err)
        assert control.served == 1
    finally:
        control.close()


def test_lb_ctl_watch_survives_a_hostile_publisher(rundir):
    good = json.dumps({"v": VERSION, "type": "set", "service": "backend", "generation": 7,
                       "backends": []}).encode()
    sets = FakeBound(rundir, "sets", [header(BOUND_AS["sets"]) + frame(size=HUGE),
                                      header(BOUND_AS["sets"]) + frame(size=LIMIT + 1),
                                      # (again, should a reconnecting lb-ctl drop one)
                                      *[header(BOUND_AS["sets"]) + frame(good)] * 5])
    try:
        r = subprocess.run([binary("lb-ctl"), "--runtime-dir", rundir, "watch", "--count", "1"],
                           capture_output=True, text=True, timeout=15 * SLOW)
        assert r.returncode == 0, (r.returncode, r.stderr)
        assert json.loads(r.stdout)["generation"] == 7
    finally:
        sets.close()
