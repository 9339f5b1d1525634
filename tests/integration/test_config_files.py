"""Every program's --config takes YAML as well as JSON (seed 003: "YAML
config"): the same keys and checks, and errors naming file:line:column."""
import subprocess

from conftest import SLOW, binary


def run_check(argv, timeout=10):
    r = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       timeout=timeout * SLOW)
    return r.returncode, r.stderr


def test_lb_echo_serves_with_a_yaml_config(echo, tmp_path):
    cfg = tmp_path / "echo.yaml"
    cfg.write_text("# lb-echo's settings\nserviceName: yaml-backend\naccessLog: off\n"
                   "maxBody: 1k\n")
    e = echo("--config", str(cfg))
    status, body = e.get_json("/")
    assert status == 200
    assert body["serviceName"] == "yaml-backend", body
    status, _, _ = e.request("POST", "/echo", body=b"x" * 2048,
                             headers={"Content-Type": "application/json"})
    assert status == 413


def test_a_bad_yaml_config_names_file_line_and_column(tmp_path):
    cfg = tmp_path / "proxy.yml"
    cfg.write_text("listen: 127.0.0.1:0\nbackends: 127.0.0.1:1\n\nconectTimeout: 2\n")
    code, err = run_check([binary("lb-proxy"), "--config", str(cfg), "--check-config"])
    assert code == 2
    assert f'lb-proxy: {cfg}:4:1: unknown key "conectTimeout" (did you mean ' \
        '"connectTimeout"?)' in err, err
    cfg.write_text("static: 127.0.0.1:1\nstatic: 127.0.0.1:2\n")
    code, err = run_check([binary("lb-discover"), "--config", str(cfg)])
    assert code == 2
    assert f'{cfg}:2:1: duplicate key "static"' in err, err
    cfg.write_text("service: [unclosed\n")
    code, err = run_check([binary("lb-ctl"), "--config", str(cfg), "status"])
    assert code != 0
    assert f"{cfg}:2:1: invalid YAML" in err, err


def test_durations_take_units_in_flags_files_and_the_environment(tmp_path, echo, procs):
    """Every duration (timeouts, intervals) takes 500ms, 2s, 1m, 1h or plain
    seconds, as HAProxy's do; a number stays seconds; a wrong unit names the
    flag and the forms."""
    cfg = tmp_path / "proxy.yaml"
    cfg.write_text("listen: 127.0.0.1:0\nbackends: 127.0.0.1:1\nresponseTimeout: 2s\n"
                   "idleTimeout: 1m\n")
    code, err = run_check([binary("lb-proxy"), "--config", str(cfg), "--connect-timeout",
                           "500ms", "--check-config"])
    assert code == 0, err
    code, err = run_check([binary("lb-proxy"), "--backends", "127.0.0.1:1", "--queue-timeout",
                           "2 sec", "--check-config"])
    assert code == 2
    assert '--queue-timeout "2 sec": must be a duration between 0.001s and 3600s (seconds, ' \
        'or with a unit: 500ms, 2s, 1m, 1h)' in err, err
    code, err = run_check([binary("lb-discover"), "--static", "127.0.0.1:1",
                           "--health-interval", "0x10"])
    assert code == 2 and '--health-interval "0x10": must be a duration' in err, err
    # and the value is what the unit says: lb-echo closes a connection idle
    # for --idle-timeout 300ms (the plain 0.3 behaves the same)
    e = echo("--idle-timeout", "300ms")
    import socket
    import time
    with socket.create_connection(("127.0.0.1", e.port), timeout=10 * SLOW) as s:
        start = time.time()
        assert s.recv(1) == b""          # closed by the server, nothing sent
        assert time.time() - start < 5 * SLOW
