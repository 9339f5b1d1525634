"""lb-proxy watches its --config file (docs/reload.md): a change reloads it as
SIGHUP does, without a signal (a write, an editor's rename, a Kubernetes
ConfigMap's symlink swap); a bad file keeps the running configuration and
says file:line: key; the header rules and the rate limit change on reload
(the rate buckets start full again, the counters go on); --check-config
prints every setting's value and where it came from, for lb-proxy and
lb-discover."""
import os
import re
import subprocess

from conftest import SLOW, binary, metric, started_proxy, wait_for


def start_watching(procs, path, *flags):
    p = procs([binary("lb-proxy"), "--config", str(path), "--admin", "127.0.0.1:0", *flags])
    return started_proxy(p)


def reload_lines(p):
    return re.findall(r"(?:INFO reloaded|ERROR reload failed)[^\n]*", p.proc.text())


def wait_reload(p, count):
    """The count-th reload line, once the watch has caused it (no signal sent)."""
    return wait_for(f"reload line {count}",
                    lambda: len(reload_lines(p)) >= count and reload_lines(p)[count - 1],
                    timeout=10)


def yaml(path, text):
    """Writes the file in place (open, truncate, write, close: IN_CLOSE_WRITE)."""
    with open(path, "w") as f:
        f.write(text)


def test_a_write_reloads_header_rules_and_a_bad_file_is_kept_out(procs, echo, tmp_path):
    e = echo("--access-log", "off")
    cfg = tmp_path / "proxy.yaml"
    yaml(cfg, f'listen: "127.0.0.1:0"\nbackends: "{e.addr}"\n'
              'setResponseHeader: ["X-Stage: one"]\n')
    p = start_watching(procs, cfg)
    assert p.request("GET", "/")[1].get("X-Stage") == "one"
    yaml(cfg, f'listen: "127.0.0.1:0"\nbackends: "{e.addr}"\n'
              'setResponseHeader: ["X-Stage: two"]\nremoveResponseHeader: ["X-Pod-Name"]\n')
    line = wait_reload(p, 1)
    assert "changed=setResponseHeader,removeResponseHeader" in line, line
    assert f"INFO reloading: the config file changed file={cfg}" in p.proc.text()
    _, headers, _ = p.request("GET", "/")
    assert headers.get("X-Stage") == "two" and "X-Pod-Name" not in headers, headers
    # a bad value: refused with file:line:column and the key; the rules stay
    yaml(cfg, f'listen: "127.0.0.1:0"\nbackends: "{e.addr}"\n'
              'setResponseHeader: ["X-Stage: three"]\nheaderTimeout: soon\n')
    line = wait_reload(p, 2)
    assert re.search(r'ERROR reload failed: the running configuration is kept error="'
                     + re.escape(str(cfg)) + r':4:1: \\"headerTimeout\\" must be a duration',
                     line), line
    assert p.request("GET", "/")[1].get("X-Stage") == "two"
    # a bad header rule is refused the same way (built before anything applies)
    yaml(cfg, f'listen: "127.0.0.1:0"\nbackends: "{e.addr}"\n'
              'setResponseHeader: ["Content-Length: 1"]\n')
    line = wait_reload(p, 3)
    assert "reload failed" in line and "Content-Length" in line, line
    assert p.request("GET", "/")[1].get("X-Stage") == "two"


def test_an_editors_rename_and_a_configmap_symlink_swap_reload(procs, echo, tmp_path):
    """Editors write a new file and rename it over the old one; the kubelet
    points ..data at a new folder (config.json -> ..data/config.json)."""
    e = echo("--access-log", "off")
    conf = tmp_path / "conf"
    conf.mkdir()
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "config.json").write_text(
        '{"listen": "127.0.0.1:0", "backends": "%s", "setResponseHeader": ["X-V: 1"]}' % e.addr)
    os.symlink(tmp_path / "v1", conf / "..data")
    os.symlink("..data/config.json", conf / "config.json")
    p = start_watching(procs, conf / "config.json")
    assert p.request("GET", "/")[1].get("X-V") == "1"
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "config.json").write_text(
        '{"listen": "127.0.0.1:0", "backends": "%s", "setResponseHeader": ["X-V: 2"]}' % e.addr)
    os.symlink(tmp_path / "v2", conf / "..data_tmp")
    os.rename(conf / "..data_tmp", conf / "..data")       # atomic, as the kubelet does
    line = wait_reload(p, 1)
    assert "changed=setResponseHeader" in line, line
    assert p.request("GET", "/")[1].get("X-V") == "2"
    # an editor's save: a new file renamed over the old one
    tmp = conf / ".config.json.swp"
    tmp.write_text('{"listen": "127.0.0.1:0", "backends": "%s", '
                   '"setResponseHeader": ["X-V: 3"]}' % e.addr)
    os.unlink(conf / "config.json")
    os.rename(tmp, conf / "config.json")
    wait_reload(p, 2)
    wait_for("X-V: 3", lambda: p.request("GET", "/")[1].get("X-V") == "3")
    # another file of the folder changing reloads nothing
    before = len(reload_lines(p))
    (conf / "unrelated.txt").write_text("x")
    assert p.request("GET", "/")[1].get("X-V") == "3"
    # (the settle time is 0.1 s: three times that and more shows no reload)
    import time
    time.sleep(0.5 * SLOW)
    assert len(reload_lines(p)) == before, reload_lines(p)


def test_the_rate_limit_changes_on_reload_and_its_counter_goes_on(procs, echo, tmp_path):
    e = echo("--access-log", "off")
    cfg = tmp_path / "proxy.json"
    base = '"listen": "127.0.0.1:0", "backends": "%s", "accessLog": false' % e.addr
    cfg.write_text("{%s}" % base)
    p = start_watching(procs, cfg)
    assert [p.request("GET", "/")[0] for _ in range(4)] == [200] * 4
    yaml(cfg, '{%s, "rateLimit": "2/m"}' % base)
    line = wait_reload(p, 1)
    assert "changed=rateLimit" in line, line
    assert "INFO rate limit limit=2/m burst=2 key=client-ip" in p.proc.text()
    assert [p.request("GET", "/")[0] for _ in range(3)] == [200, 200, 429]
    limited = metric(p, "lb_proxy_rate_limited_total")
    assert limited == 1
    # a new limit: a new table, every bucket full again (docs/reload.md)
    yaml(cfg, '{%s, "rateLimit": "3/m"}' % base)
    wait_reload(p, 2)
    assert [p.request("GET", "/")[0] for _ in range(4)] == [200, 200, 200, 429]
    assert metric(p, "lb_proxy_rate_limited_total") == 2   # a counter never goes back
    # off again
    yaml(cfg, "{%s}" % base)
    wait_reload(p, 3)
    assert "INFO rate limit off" in p.proc.text()
    assert [p.request("GET", "/")[0] for _ in range(4)] == [200] * 4
    # a bad one keeps the running (off) state and names the flag
    yaml(cfg, '{%s, "rateLimit": "many"}' % base)
    line = wait_reload(p, 4)
    assert "reload failed" in line and "--rate-limit" in line, line


def test_watch_config_off_leaves_reloads_to_sighup(procs, echo, tmp_path):
    e = echo("--access-log", "off")
    cfg = tmp_path / "proxy.json"
    cfg.write_text('{"listen": "127.0.0.1:0", "backends": "%s"}' % e.addr)
    p = start_watching(procs, cfg, "--watch-config", "off")
    cfg.write_text('{"listen": "127.0.0.1:0", "backends": "%s", "retries": 4}' % e.addr)
    import signal
    import time
    time.sleep(0.5 * SLOW)          # what a watch would take (0.1 s), several times
    assert reload_lines(p) == []
    p.proc.p.send_signal(signal.SIGHUP)
    p.proc.wait_log(r"INFO reloaded [^\n]*changed=retries")


def check(prog, *args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([binary(prog), *args, "--check-config"], capture_output=True,
                          text=True, timeout=30 * SLOW, env=e, stdin=subprocess.DEVNULL)


def rows(stdout):
    """setting -> (value, source) from --check-config's table."""
    out = {}
    for line in stdout.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        m = re.match(r"(\S+)\s+(.*?)\s+(default|flag --\S+|environment \S+|\S+:\d+)$", line)
        assert m, line
        out[m.group(1)] = (m.group(2), m.group(3))
    return out


def test_check_config_says_where_each_value_came_from(tmp_path):
    cfg = tmp_path / "proxy.yaml"
    cfg.write_text("# the proxy\nheaderTimeout: 2500ms\nretries: 1\n"
                   "setResponseHeader:\n  - \"X-A: 1\"\nstickySecret: hush\n")
    r = check("lb-proxy", "--config", str(cfg), "--backends", "127.0.0.1:9", "--retries", "3",
              env={"LB_PROXY_LOG_LEVEL": "debug"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"# lb-proxy: the effective configuration (file: {cfg})")
    t = rows(r.stdout)
    assert t["headerTimeout"] == ("2.5", f"{cfg}:2")
    assert t["retries"] == ("3", "flag --retries")              # the flag wins over the file
    assert t["setResponseHeader"] == ('["X-A: 1"]', f"{cfg}:4")
    assert t["logLevel"] == ('"debug"', "environment LB_PROXY_LOG_LEVEL")
    assert t["connectTimeout"] == ("5", "default")
    assert t["stickySecret"] == ('"(hidden)"', f"{cfg}:6")      # never printed
    assert "hush" not in r.stdout
    assert t["watchConfig"] == ("true", "default")
    # lb-discover too
    dcfg = tmp_path / "discover.json"
    dcfg.write_text('{\n  "static": "127.0.0.1:1",\n  "heartbeat": "2s"\n}\n')
    r = check("lb-discover", "--config", str(dcfg), "--rise", "3",
              env={"LB_DISCOVER_SERVICE": "api"})
    assert r.returncode == 0, r.stderr
    assert f"lb-discover: the configuration is valid (file: {dcfg})" in r.stderr
    t = rows(r.stdout)
    assert t["static"] == ('"127.0.0.1:1"', f"{dcfg}:2")
    assert t["heartbeat"] == ("2", f"{dcfg}:3")
    assert t["rise"] == ("3", "flag --rise")
    assert t["service"] == ('"api"', "environment LB_DISCOVER_SERVICE")
    # a bad one: exit 2, the reason, no table
    r = check("lb-discover", "--static", "127.0.0.1:1", "--dns", "x")
    assert r.returncode == 2 and "give one source" in r.stderr and r.stdout == ""
