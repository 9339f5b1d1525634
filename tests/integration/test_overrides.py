"""Operator overrides and backends that leave the source (issue 12, item 4):
a drained backend, stopped and removed from the file, left its drain behind,
and a new backend at the same address (pod IPs are reused) started
`draining` with no traffic; the state file kept every address ever rolled."""
import json
import os

from conftest import SLOW, bus_proxy, ctl, ctl_json, served_by, wait_for


def status(rundir):
    return ctl_json(rundir, "status")


def state_file(rundir):
    with open(os.path.join(rundir, "discover-backend.json")) as f:
        return {b["address"]: b for b in json.load(f)["backends"]}


def test_an_override_expires_after_its_backend_left_the_source(echo, discover, proxy, rundir,
                                                              tmp_path):
    a = echo("--access-log", "off", env={"POD_NAME": "a"})
    b = echo("--access-log", "off", env={"POD_NAME": "b"})
    f = tmp_path / "backends.txt"
    f.write_text(f"{a.addr}\n{b.addr}\n")
    # the grace is long enough that a loaded machine still sees the drain
    # waiting (the snapshot that shows a gone is read within it), short
    # enough that the test then waits for its expiry
    grace = 2 * SLOW
    d = discover("--file", str(f), "--override-grace", str(grace), "--heartbeat", "0.2")
    p = bus_proxy(proxy, rundir)
    assert ctl(rundir, "drain", a.addr)[0] == 0
    assert ctl(rundir, "weight", b.addr, "7")[0] == 0
    assert state_file(rundir)[a.addr]["drained"] is True
    # a leaves the source: its drain waits, shown by lb-ctl status
    f.write_text(f"{b.addr}\n")
    st = wait_for("a left the set", lambda: (lambda s: [x["address"] for x in s["backends"]]
                                             == [b.addr] and s)(status(rundir)))
    waiting = st["waiting"]
    assert [w["address"] for w in waiting] == [a.addr] and waiting[0]["drained"] is True
    assert 0 < waiting[0]["expires_in"] <= grace
    out = ctl(rundir, "status")[1]
    assert "override expired" in d.text() or \
        ("WAITING FOR BACKEND" in out and a.addr in out and "drained" in out), out
    # ... then expires, and leaves the state file
    d.wait_log(rf"INFO override expired: the source stopped listing the backend "
               rf"address={a.addr} drained=1")
    assert status(rundir)["waiting"] == []
    assert a.addr not in state_file(rundir)
    # a new backend at the same address starts as any new one: up, served
    f.write_text(f"{a.addr}\n{b.addr}\n")
    wait_for("a is back, up", lambda: {x["address"]: x["state"] for x in
                                      status(rundir)["backends"]}.get(a.addr) == "up")
    wait_for("the proxy sends a requests", lambda: "a" in {
        served_by(p.request("GET", "/")[1]) for _ in range(4)})
    # the override of a backend still listed stays
    assert {x["address"]: x["weight"] for x in status(rundir)["backends"]}[b.addr] == 7


def test_an_override_survives_a_short_absence(echo, discover, rundir, tmp_path):
    a = echo("--access-log", "off")
    b = echo("--access-log", "off")
    f = tmp_path / "backends.txt"
    f.write_text(f"{a.addr}\n{b.addr}\n")
    discover("--file", str(f), "--heartbeat", "0.2")       # the default grace, 30 s
    assert ctl(rundir, "drain", a.addr)[0] == 0
    f.write_text(f"{b.addr}\n")
    wait_for("a waits", lambda: [w["address"] for w in status(rundir)["waiting"]] == [a.addr])
    f.write_text(f"{a.addr}\n{b.addr}\n")
    wait_for("a is back", lambda: status(rundir)["waiting"] == [])
    assert {x["address"]: x["state"] for x in status(rundir)["backends"]}[a.addr] == "draining"


def test_a_waiting_override_can_be_cancelled(echo, discover, rundir, tmp_path):
    a = echo("--access-log", "off")
    b = echo("--access-log", "off")
    f = tmp_path / "backends.txt"
    f.write_text(f"{a.addr}\n{b.addr}\n")
    discover("--file", str(f), "--heartbeat", "0.2")
    assert ctl(rundir, "drain", a.addr)[0] == 0
    f.write_text(f"{b.addr}\n")
    wait_for("a waits", lambda: [w["address"] for w in status(rundir)["waiting"]] == [a.addr])
    assert ctl(rundir, "undrain", a.addr)[0] == 0
    assert status(rundir)["waiting"] == []
    assert a.addr not in state_file(rundir)
