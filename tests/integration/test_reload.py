"""lb-proxy reloads its configuration on SIGHUP (new requests see it, the
request in flight finishes as it started), keeps the running one when the
new one is bad, names settings that cannot change at run time, and
--check-config validates flags, environment and file without starting."""
import json
import re
import signal
import socket
import subprocess
import time

from conftest import SLOW, binary, request_in_flight, served_by, started_proxy


def write(path, obj):
    with open(path, "w") as f:
        f.write(obj if isinstance(obj, str) else json.dumps(obj, indent=1))


def start_with_file(procs, path, *flags, watch=False):
    """A proxy reading `path`; the SIGHUP tests turn the file's watch off, so
    every reload line is their signal's."""
    p = procs([binary("lb-proxy"), "--config", str(path), "--admin", "127.0.0.1:0",
               *([] if watch else ["--watch-config", "off"]), *flags])
    return started_proxy(p)


def reloaded(p, count):
    """Waits for the count-th 'reloaded' line (or 'reload failed') after a SIGHUP."""
    p.proc.p.send_signal(signal.SIGHUP)
    deadline = time.time() + 10 * SLOW
    while time.time() < deadline:
        lines = re.findall(r"(?:INFO reloaded|ERROR reload failed)[^\n]*", p.proc.text())
        if len(lines) >= count:
            return lines[count - 1]
        time.sleep(0.02)
    raise AssertionError(f"no reload line {count}:\n{p.proc.text()}")


def header_timeout_answer(port, wait=3 * SLOW):
    """Sends half a request head; returns (status or None when nothing came
    within `wait` seconds, seconds until the answer)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    t0 = time.time()
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: lb\r\n")
        data = s.recv(65536)
    except socket.timeout:
        return None, time.time() - t0
    finally:
        s.close()
    m = re.match(rb"HTTP/1\.1 (\d+)", data)
    return (int(m.group(1)) if m else None), time.time() - t0


def test_sighup_applies_a_timeout_and_the_backends_to_new_requests(procs, echo, tmp_path):
    a = echo("--access-log", "off", env={"POD_NAME": "echo-a"})
    b = echo("--access-log", "off", env={"POD_NAME": "echo-b"})
    cfg = tmp_path / "proxy.json"
    write(cfg, {"listen": "127.0.0.1:0", "backends": a.addr, "headerTimeout": 20})
    p = start_with_file(procs, cfg)
    # 20 s: nothing within 1 (not scaled: a slower build answers no sooner)
    assert header_timeout_answer(p.port, wait=1.0)[0] is None
    a.request("POST", "/fault", body=json.dumps({"delayMs": int(1000 * SLOW)}),
              headers={"Content-Type": "application/json"})
    slow = request_in_flight(p, "/slow")
    write(cfg, {"listen": "127.0.0.1:0", "backends": b.addr, "headerTimeout": 0.3})
    line = reloaded(p, 1)
    assert re.search(r"changed=backends,headerTimeout backends=1 generation=2", line), line
    # new requests: the new backend and the new timeout
    status, headers, _ = p.request("GET", "/new")
    assert status == 200 and served_by(headers) == "echo-b"
    status, took = header_timeout_answer(p.port)
    assert status == 408 and took < 2.5 * SLOW
    # the request in flight finished on the backend it had
    slow.join(10 * SLOW)
    status, headers, _ = slow.response
    assert status == 200 and served_by(headers) == "echo-a"
    a.request("DELETE", "/fault")


def test_a_bad_file_keeps_the_running_config_and_says_where(procs, echo, tmp_path):
    a = echo("--access-log", "off", env={"POD_NAME": "echo-a"})
    b = echo("--access-log", "off", env={"POD_NAME": "echo-b"})
    cfg = tmp_path / "proxy.json"
    write(cfg, {"listen": "127.0.0.1:0", "backends": a.addr})
    p = start_with_file(procs, cfg)
    write(cfg, '{\n "listen": "127.0.0.1:0",\n "backends": "%s",\n "headerTimeout": "soon"\n}\n'
          % b.addr)
    line = reloaded(p, 1)
    assert re.search(r'ERROR reload failed: the running configuration is kept error="'
                     + re.escape(str(cfg)) + r':4:2: \\?"headerTimeout\\?" must be a duration', line), line
    write(cfg, '{\n "listen": "127.0.0.1:0",\n "backends": "%s",\n}\n' % b.addr)
    line = reloaded(p, 2)
    assert re.search(re.escape(str(cfg)) + r":\d+:\d+: invalid JSON", line), line
    status, headers, _ = p.request("GET", "/")
    assert status == 200 and served_by(headers) == "echo-a"
    write(cfg, {"listen": "127.0.0.1:0", "backends": "127.0.0.1:80@0"})
    line = reloaded(p, 3)
    assert "--backends: " in line and "the weight must be 1 to 1000" in line, line
    status, headers, _ = p.request("GET", "/")
    assert status == 200 and served_by(headers) == "echo-a"


def test_settings_fixed_at_run_time_are_named(procs, echo, tmp_path):
    a = echo("--access-log", "off")
    cfg = tmp_path / "proxy.json"
    write(cfg, {"listen": "127.0.0.1:0", "backends": a.addr})
    p = start_with_file(procs, cfg)
    # reusePort to the other value than its default (off since SO_REUSEPORT
    # became opt-in): a fixed setting that changed
    write(cfg, {"listen": "127.0.0.1:1", "backends": a.addr, "reusePort": True,
                "retries": 5})
    line = reloaded(p, 1)
    assert "changed=retries " in line, line
    assert re.search(r"WARN reload: settings that cannot change at run time keep their running "
                     r"values \(restart with --takeover to change them\) "
                     r"settings=listen,reusePort", p.proc.text()), p.proc.text()
    status, _, _ = p.request("GET", "/")
    assert status == 200


def test_flags_still_win_after_a_reload(procs, echo, tmp_path):
    a = echo("--access-log", "off", env={"POD_NAME": "echo-a"})
    b = echo("--access-log", "off", env={"POD_NAME": "echo-b"})
    cfg = tmp_path / "proxy.json"
    write(cfg, {"listen": "127.0.0.1:0"})
    p = start_with_file(procs, cfg, "--backends", a.addr)
    write(cfg, {"listen": "127.0.0.1:0", "backends": b.addr, "retries": 1})
    line = reloaded(p, 1)
    assert "changed=retries " in line, line
    status, headers, _ = p.request("GET", "/")
    assert served_by(headers) == "echo-a"


def run_check(*args, env=None):
    import os
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([binary("lb-proxy"), "--check-config", *args], capture_output=True,
                          text=True, timeout=30 * SLOW, env=e, stdin=subprocess.DEVNULL)


def test_check_config(tmp_path, echo):
    cfg = tmp_path / "proxy.json"
    write(cfg, {"listen": "127.0.0.1:0", "backends": "127.0.0.1:9", "balance": "maglev"})
    r = run_check("--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert f"lb-proxy: the configuration is valid (file: {cfg})" in r.stderr
    # it does not bind: a port in use is no error
    busy = echo("--access-log", "off")
    r = run_check("--config", str(cfg), "--listen", busy.addr)
    assert r.returncode == 0, r.stderr
    write(cfg, '{\n  "backends": "127.0.0.1:9",\n  "retries": "many"\n}')
    r = run_check("--config", str(cfg))
    assert r.returncode == 2
    assert re.search(re.escape(str(cfg)) + r':3:3: "retries" must be an integer', r.stderr), \
        r.stderr
    r = run_check("--backends", "127.0.0.1:9", "--balance", "fastest")
    assert r.returncode == 2 and '--balance "fastest": must be one of' in r.stderr, r.stderr
    r = run_check("--backends", "127.0.0.1:9", env={"LB_PROXY_RETRIES": "x"})
    assert r.returncode == 2 and 'environment LB_PROXY_RETRIES="x"' in r.stderr, r.stderr
    r = run_check("--backends", "127.0.0.1:9", "--hash-key", "body")
    assert r.returncode == 2 and "--hash-key: " in r.stderr, r.stderr
    r = run_check("--backends", "127.0.0.1:9", "--tls-cert", str(cfg))
    assert r.returncode == 2 and "give --tls-cert and --tls-key together" in r.stderr
    r = run_check("--backends", "127.0.0.1:9", "--listen", "127.0.0.1:99999")
    assert r.returncode == 2 and "--listen: " in r.stderr, r.stderr


def test_reload_on_the_bus_rebuilds_the_balancer_and_keeps_the_set(procs, echo, discover,
                                                                   rundir, tmp_path):
    backends = [echo("--access-log", "off", env={"POD_NAME": f"echo-{i}"}) for i in range(2)]
    discover("--static", ",".join(b.addr for b in backends))
    cfg = tmp_path / "proxy.json"
    write(cfg, {"listen": "127.0.0.1:0", "runtimeDir": rundir, "balance": "round-robin"})
    p = start_with_file(procs, cfg)
    status, info = p.admin("/info")
    assert info["balance"] == "round-robin" and len(info["backends"]) == 2
    write(cfg, {"listen": "127.0.0.1:0", "runtimeDir": rundir, "balance": "maglev",
                "hashKey": "header:X-User", "service": "other"})
    line = reloaded(p, 1)
    assert "changed=balance,hashKey backends=2" in line, line
    assert "settings=service" in p.proc.text()
    status, info = p.admin("/info")
    assert info["balance"] == "maglev" and info["hash_key"] == "header:X-User"
    assert len(info["backends"]) == 2
    # the same key goes to the same backend
    for user in ("alice", "bob", "carol"):
        seen = {served_by(p.request("GET", "/", headers={"X-User": user})[1]) for _ in range(4)}
        assert len(seen) == 1 and seen <= {"echo-0", "echo-1"}, seen


def test_sighup_applies_the_retry_policy_and_checks_it(procs, echo, tmp_path):
    """--retry-on (and the resilience rules with it) change on SIGHUP for new
    requests; a bad one keeps the running policy and says which flag."""
    from support.rawbackend import RawBackend
    from test_retry import reset_after_request

    bad = RawBackend(reset_after_request)
    good = echo("--access-log", "off")
    cfg = tmp_path / "proxy.json"
    base = {"listen": "127.0.0.1:0", "backends": f"{bad.addr},{good.addr}",
            "retryOn": "connect-failure", "eject5xx": 0, "ejectGateway": 0,
            "accessLog": False}
    write(cfg, base)
    p = start_with_file(procs, cfg)
    before = [p.request("GET", f"/{i}")[0] for i in range(4)]
    assert 502 in before                        # a reset is not retried
    write(cfg, dict(base, retryOn="connect-failure,reset"))
    line = reloaded(p, 1)
    assert "INFO reloaded" in line and "retryOn" in line, line
    assert [p.request("GET", f"/{i}")[0] for i in range(4)] == [200] * 4
    write(cfg, dict(base, retryOn="reset,sometimes"))
    line = reloaded(p, 2)
    assert "reload failed" in line and "--retry-on" in line, line
    assert [p.request("GET", f"/{i}")[0] for i in range(4)] == [200] * 4   # still retried
    bad.close()


def test_check_config_checks_what_start_up_builds():
    """--check-config runs the checks of the rate limit, the header rules and
    the resilience rules too, as start-up does (exit 2 naming the flag)."""
    cases = [(["--rate-limit", "bogus"], "--rate-limit"),
             (["--set-response-header", "Content-Length: 1"], "--set-response-header"),
             (["--retry-on", "nope"], "--retry-on"),
             (["--eject-time", "50", "--eject-time-max", "10"], "--eject-time-max")]
    for flags, says in cases:
        r = subprocess.run([binary("lb-proxy"), "--check-config", "--backends", "127.0.0.1:1",
                            *flags], capture_output=True, text=True, timeout=10 * SLOW)
        assert r.returncode == 2 and says in r.stderr, (flags, r.stderr)
    r = subprocess.run([binary("lb-proxy"), "--check-config", "--backends", "127.0.0.1:1",
                        "--rate-limit", "10/s", "--retry-on", "reset,timeout"],
                       capture_output=True, text=True, timeout=10 * SLOW)
    assert r.returncode == 0 and "valid" in r.stderr, r.stderr
