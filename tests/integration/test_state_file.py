"""lb-discover's state file lost or damaged (issue 12, item 3): before, a
restart fell back to generation 1 and the proxies, at 5, ignored every new
set while reporting `synced`; `drain --wait` said done while a proxy kept
sending to the drained backend."""
import glob
import json
import os
import subprocess
import tempfile
import threading
import traceback

import pytest

from conftest import SLOW, ctl, ctl_json, protocol_constant, wait_for

VERSION = protocol_constant("BUS_PROTOCOL_VERSION")


def bus_proxy(proxy, rundir, *flags, listen="127.0.0.1:0"):
    # --reuse-port: two proxies of the fleet share one port
    return proxy(None, "--runtime-dir", rundir, "--access-log", "off", "--heartbeat", "0.2",
                 "--report-interval", "0.05", "--reuse-port", *flags, listen=listen)


def info(p):
    return p.admin("/info")[1]


def states(p):
    return {b["address"]: b["state"] for b in info(p)["backends"]}


def truncate(path):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:len(data) // 2])


def overwrite(data):
    def damage(path):
        with open(path, "wb") as f:
            f.write(data)
    return damage


# damage -> what lb-discover must say is wrong (None: a missing file is no error)
DAMAGE = {
    "truncated": (truncate, "not JSON"),
    "deleted": (os.unlink, None),
    "emptied": (overwrite(b""), "the file is empty"),
    "garbage": (overwrite(b"\x00\x9f\x13 garbage \xff\xfe"), "not JSON"),
    "wrong JSON type": (overwrite(b'["generation", 7]\n'), "expected a JSON object, found an array"),
}


@pytest.fixture
def rundirs():
    """A runtime dir per damage (set up before the processes, removed after
    they stopped)."""
    dirs = {damage: tempfile.mkdtemp(prefix="lb-rt-", dir="/tmp") for damage in DAMAGE}
    yield dirs
    for d in dirs.values():
        subprocess.run(["rm", "-rf", d])


def test_a_lost_or_damaged_state_file_never_rolls_the_generation_back(rundirs, echo, discover,
                                                                       proxy):
    """Every damage on its own fleet and runtime dir, the five at once: each
    waits about 2 s for its restarted lb-discover to hear the proxies (the
    drain --wait), and the waits overlap instead of adding up."""
    failed = {}

    def run(damage):
        try:
            check_damage(damage, echo, discover, proxy, rundirs[damage])
        except BaseException:
            failed[damage] = traceback.format_exc()

    threads = [threading.Thread(target=run, args=(damage,)) for damage in DAMAGE]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failed, "\n".join(f"-- state file {damage}:\n{tb}" for damage, tb in failed.items())


def check_damage(damage, echo, discover, proxy, rundir):
    echos = [echo("--access-log", "off") for _ in range(3)]
    # lb-discover's heartbeat 0.05: the drain --wait below waits for it to
    # hear every proxy (5 heartbeats + 2 s after it started)
    flags = ("--static", ",".join(e.addr for e in echos), "--heartbeat", "0.05")
    d = discover(*flags, runtime_dir=rundir)
    p1 = bus_proxy(proxy, rundir)
    p2 = bus_proxy(proxy, rundir, listen=f"127.0.0.1:{p1.port}")
    for cmd in (("weight", echos[0].addr, "2"), ("weight", echos[0].addr, "3"),
                ("drain", echos[2].addr), ("weight", echos[0].addr, "4")):
        assert ctl(rundir, *cmd)[0] == 0
    wait_for("both proxies at generation 5", lambda: info(p1)["generation"] == 5 and
             info(p2)["generation"] == 5)
    assert d.stop() == 0
    state = os.path.join(rundir, "discover-backend.json")
    with open(state, "rb") as f:
        good = f.read()
    hurt, what = DAMAGE[damage]
    hurt(state)
    with open(state, "rb") if os.path.exists(state) else open(os.devnull, "rb") as f:
        damaged = f.read()

    d2 = discover(*flags, runtime_dir=rundir)
    # at once, before lb-discover has heard a report: the drain must really
    # be applied by every proxy when --wait says so
    # (the bound only ends a hang: a loaded machine runs five fleets here)
    code, out, err = ctl(rundir, "drain", echos[1].addr, "--wait", "--timeout", str(25 * SLOW))
    assert code == 0, err
    for p in (p1, p2):
        assert info(p)["generation"] > 5
        assert states(p)[echos[1].addr] == "draining", states(p)

    # lb-discover heard a proxy above it and published above that
    d2.wait_log(r"WARN a proxy holds a newer generation than lb-discover: publishing above it "
                r".* proxy_generation=5 generation=[12]\b")
    wait_for("every proxy synced", lambda: [x["state"] for x in ctl_json(rundir, "proxies")]
             == ["synced", "synced"])
    assert "synced" in ctl(rundir, "proxies")[1]

    if what is None:
        d2.wait_log(r"INFO no state file: no operator overrides")
        assert glob.glob(state + ".corrupt-*") == []
    else:
        m = d2.wait_log(r"(?m)ERROR state file damaged: starting without its operator "
                        r"overrides.* error=\".*" + what + r".*; kept aside as (\S+)\"$")
        aside = m.group(1)
        assert aside.startswith(state + ".corrupt-")
        with open(aside, "rb") as f:
            assert f.read() == damaged            # kept as it was, not replaced
    # the overrides died with the file (the .corrupt copy has what is left)
    status = {b["address"]: b for b in ctl_json(rundir, "status")["backends"]}
    assert status[echos[2].addr]["state"] == "up" and status[echos[0].addr]["weight"] == 1
    with open(state, "rb") as f:
        assert f.read() != good                   # a fresh file, above generation 5
    assert ctl_json(rundir, "status")["generation"] > 5


def test_a_proxy_says_in_its_report_that_it_ignores_an_older_set(echo, discover, proxy, rundir):
    e = echo("--access-log", "off")
    d = discover("--static", e.addr, "--heartbeat", "0.2")
    p = bus_proxy(proxy, rundir)
    assert ctl(rundir, "weight", e.addr, "2")[0] == 0
    wait_for("generation 2", lambda: info(p)["generation"] == 2)
    d.kill()
    # an older set from an lb-discover that lost its state, and a pull socket
    # to read what the proxy reports
    older = json.dumps({"v": VERSION, "type": "set", "service": "backend", "generation": 1,
                        "backends": [{"address": e.addr, "weight": 1, "state": "draining",
                                      "reason": "operator"}]})
    for name in ("sets", "reports"):
        os.unlink(os.path.join(rundir, f"{name}.sock"))
    pub = subprocess.Popen(["nanocat", "--pub", "--bind", f"ipc://{rundir}/sets.sock",
                            "--interval", "0.05", "--data", older],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pull = subprocess.Popen(["nanocat", "--pull", "--bind", f"ipc://{rundir}/reports.sock",
                             "--raw"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        p.proc.wait_log(r"WARN bus: set ignored: older than the one applied "
                        r"generation=1 applied=2")
        assert p.proc.text().count("set ignored") == 1     # once, not per heartbeat
        buf = b""
        while b'"ignored":1' not in buf:
            buf += pull.stdout.read1(65536)
        report = json.loads(buf[buf.rindex(b"{", 0, buf.index(b'"ignored":1')):].split(b"}]}")[0]
                            + b"}]}")
        assert report["generation"] == 2 and report["ignored"] == 1
        assert states(p)[e.addr] == "up"                   # not applied
    finally:
        for c in (pub, pull):
            c.kill()
            c.wait()
