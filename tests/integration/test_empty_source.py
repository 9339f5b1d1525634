"""A source that lists no backends (issue 12, item 6): a file edited down to
no addresses made every proxy answer 503 within 2 s, logged at INFO. Now the
last good set stays, with a warning, unless --allow-empty."""
import json
import subprocess

import pytest

from conftest import binary, bus_proxy, ctl_json, wait_for


def backends(rundir):
    return sorted(b["address"] for b in ctl_json(rundir, "status")["backends"])


@pytest.mark.parametrize("emptied", ["# every backend commented out\n", "", "[]"])
def test_a_source_emptied_keeps_the_last_good_set(emptied, echo, discover, proxy, rundir,
                                                  tmp_path):
    e = echo("--access-log", "off")
    f = tmp_path / "backends.txt"
    f.write_text(f"{e.addr}\n")
    d = discover("--file", str(f))
    p = bus_proxy(proxy, rundir)
    wait_for("the set", lambda: p.admin("/info")[1]["generation"] >= 1)
    gen = p.admin("/info")[1]["generation"]
    f.write_text(emptied)
    d.wait_log(r"WARN the source lists no backends: keeping the last good set .* kept=1")
    assert backends(rundir) == [e.addr]
    assert p.request("GET", "/")[0] == 200
    assert p.admin("/info")[1]["generation"] == gen
    # the source comes back: followed as usual
    e2 = echo("--access-log", "off")
    f.write_text(f"{e2.addr}\n")
    wait_for("the new list", lambda: backends(rundir) == [e2.addr])


def test_allow_empty_applies_an_empty_source(echo, discover, proxy, rundir, tmp_path):
    e = echo("--access-log", "off")
    f = tmp_path / "backends.json"
    f.write_text(json.dumps([e.addr]))
    d = discover("--file", str(f), "--allow-empty")
    p = bus_proxy(proxy, rundir)
    wait_for("the set", lambda: p.admin("/info")[1]["generation"] >= 1)
    f.write_text("[]")
    d.wait_log(r"WARN the source lists no backends: publishing an empty set .*allow_empty=on")
    wait_for("the proxy applies it", lambda: p.admin("/info")[1]["backends"] == [])
    assert p.request("GET", "/")[0] == 503


def test_an_empty_static_list_is_refused_at_start(rundir):
    r = subprocess.run([binary("lb-discover"), "--runtime-dir", rundir, "--static", ""],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "--static lists no backends (--allow-empty" in r.stderr, r.stderr
