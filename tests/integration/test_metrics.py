"""Metrics an operator can trust: a Prometheus counter never goes down. lb-
discover's fleet counters were sums over the live proxies, so they went down
when a proxy was replaced; now what a departed proxy reported is kept. And
every program's metrics follow one set of conventions (Prometheus's "Metric
and label naming" and its text exposition format 0.0.4), checked on what the
programs serve."""
import re
import urllib.request

from conftest import SLOW, bus_proxy, ctl, wait_for


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/metrics", timeout=5 * SLOW) as r:
        return r.read().decode()


def value(text, name, address):
    m = re.search(rf'^{name}\{{[^}}]*backend="{re.escape(address)}"[^}}]*\}} (\d+)', text, re.M)
    return int(m.group(1)) if m else None


def test_fleet_counters_never_go_down_when_a_proxy_is_replaced(echo, discover, proxy, rundir):
    e = echo("--access-log", "off")
    d = discover("--static", e.addr, "--heartbeat", "0.05", "--admin", "127.0.0.1:0",
                 "--no-health-check")
    port = int(d.wait_log(r"admin listening admin=[^ ]*:(\d+)").group(1))
    old = bus_proxy(proxy, rundir, "--report-interval", "0.05")
    wait_for("the set", lambda: old.admin("/info")[1]["generation"] >= 1)
    for _ in range(10):
        assert old.request("GET", "/")[0] == 200
    wait_for("10 requests counted",
             lambda: value(scrape(port), "lb_discover_backend_requests_total", e.addr) == 10)
    new = bus_proxy(proxy, rundir, "--report-interval", "0.05")
    wait_for("the set", lambda: new.admin("/info")[1]["generation"] >= 1)
    assert old.proc.stop() == 0
    seen = []

    def gone():
        n = value(scrape(port), "lb_discover_backend_requests_total", e.addr)
        seen.append(n)
        return "proxy gone pid=%d" % old.proc.pid in d.text()
    wait_for("lb-discover forgets the old proxy", gone, timeout=15)
    assert new.request("GET", "/")[0] == 200
    wait_for("the new proxy's request counted",
             lambda: value(scrape(port), "lb_discover_backend_requests_total", e.addr) == 11)
    seen.append(value(scrape(port), "lb_discover_backend_requests_total", e.addr))
    assert all(b >= a for a, b in zip(seen, seen[1:])), seen
    assert min(seen) >= 10, seen


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
# units a name may end in besides none (Prometheus: base units only)
BAD_UNITS = ("_ms", "_milliseconds", "_microseconds", "_minutes", "_hours", "_kb", "_mb",
             "_kilobytes", "_megabytes", "_percent")


def parse(text):
    """{family: {"type", "help", "samples": [(name, labels, value)]}} of an
    exposition; a sample of a family without TYPE and HELP is an error."""
    families, types, helps = {}, {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert name not in helps, f"two HELP lines for {name}"
            helps[name] = help_text
            continue
        if line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert name not in types, f"two TYPE lines for {name}"
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            types[name] = kind
            continue
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels, value = m.group(1), dict(LABEL.findall(m.group(2) or "")), float(m.group(3))
        family = name
        if name not in types:
            for suffix in ("_bucket", "_sum", "_count"):
                if name.endswith(suffix) and types.get(name[:-len(suffix)]) == "histogram":
                    family = name[:-len(suffix)]
        assert family in types, f"{name}: no # TYPE line"
        assert family in helps and helps[family], f"{name}: no # HELP line"
        families.setdefault(family, {"type": types[family], "help": helps[family],
                                     "samples": []})["samples"].append((name, labels, value))
    return families


def check_conventions(program, families, backends):
    """Prometheus's naming rules, as lb writes them down in the docs."""
    assert families, f"{program}: no metrics"
    for family, f in families.items():
        assert re.fullmatch(rf"{program}_[a-z0-9_]+", family), \
            f"{family}: names are {program}_<thing>_<unit>, lower case"
        assert not family.endswith(BAD_UNITS), f"{family}: base units only (seconds, bytes)"
        assert family.endswith("_total") == (f["type"] == "counter"), \
            f"{family}: _total is for counters, and every counter ends in it ({f['type']})"
        if f["type"] == "counter":
            # OpenMetrics names a counter's family without _total: it must not be another's
            assert family[:-len("_total")] not in families, \
                f"{family}: {family[:-6]} is another family of {program}"
        label_sets = {frozenset(k for k in labels if k != "le")
                      for name, labels, _ in f["samples"]}
        assert len(label_sets) == 1, f"{family}: one set of labels, got {label_sets}"
        for name, labels, value in f["samples"]:
            for key, val in labels.items():
                # the same thing has the same label name in every program
                assert not (val in backends and key != "backend"), \
                    f"{name}: a backend is backend=, not {key}="
                # `code` holds a status code (Prometheus); a class is code_class
                assert key != "code" or re.fullmatch(r"[1-5][0-9][0-9]", val), \
                    f"{name}: code={val!r} is not a status code (a class is code_class)"
                assert key != "code_class" or re.fullmatch(r"[1-5]xx", val), (name, val)
            if f["type"] == "counter":
                assert value >= 0, (name, value)


def counters(families):
    """{(name, labels): value} of every counter series."""
    return {(name, tuple(sorted(labels.items()))): value
            for f in families.values() if f["type"] == "counter"
            for name, labels, value in f["samples"]}


def test_metrics_follow_the_conventions_and_counters_never_go_down(echo, discover, proxy,
                                                                    rundir):
    """Issue 27: lb-proxy said backend= and lb-discover address= for a backend,
    `code` held classes ("2xx"), lb-discover had no ejection metric. Every
    program's /metrics (lb-echo has none): names <program>_<thing>_<unit>,
    _total exactly on counters, TYPE and HELP, one label set per family,
    `backend` for a backend everywhere; lb_discover_ejections_total{reason}
    and lb_discover_ejected_backends count a backend ejected after timeouts;
    and no counter of lb-discover goes down across a proxy replacement."""
    good = echo("--access-log", "off", env={"POD_NAME": "good"})
    slow = echo("--access-log", "off", "--delay-ms", "1500", env={"POD_NAME": "slow"})
    backends = {good.addr, slow.addr}
    d = discover("--static", f"{good.addr},{slow.addr}", "--heartbeat", "0.05", "--admin",
                 "127.0.0.1:0", "--no-health-check")
    port = int(d.wait_log(r"admin listening admin=[^ ]*:(\d+)").group(1))
    old = bus_proxy(proxy, rundir, "--report-interval", "0.05", "--response-timeout", "0.3",
                    "--eject-gateway", "2", "--rate-limit", "1000/s")
    wait_for("the set", lambda: old.admin("/info")[1]["generation"] >= 1)
    for _ in range(8):
        old.request("GET", "/")

    def ejections():
        f = parse(scrape(port)).get("lb_discover_ejections_total", {"samples": []})
        return {(l["backend"], l["reason"]): v for _, l, v in f["samples"] if v}
    wait_for("the fleet-wide ejection counted",
             lambda: ejections() == {(slow.addr, "timeout"): 1})
    disc = parse(scrape(port))
    assert disc["lb_discover_ejected_backends"]["samples"][0][2] == 1
    check_conventions("lb_discover", disc, backends)
    check_conventions("lb_proxy", parse(old.admin("/metrics")[1]), backends)
    before = counters(disc)

    new = bus_proxy(proxy, rundir, "--report-interval", "0.05")
    wait_for("the set", lambda: new.admin("/info")[1]["generation"] >= 1)
    assert old.proc.stop() == 0
    wait_for("lb-discover forgets the old proxy",
             lambda: "proxy gone pid=%d" % old.proc.pid in d.text(), timeout=15)
    assert new.request("GET", "/")[0] == 200
    after = counters(parse(scrape(port)))
    went_down = {k: (v, after.get(k)) for k, v in before.items()
                 if k in after and after[k] < v}
    assert not went_down, went_down
    assert before.keys() <= after.keys(), before.keys() - after.keys()


def test_routed_services_have_their_series(procs, proxy, echo, rundir):
    """Issue 24 ("metrics per service and route") and 28: lb-discover
    --routes with two routed Services beside the main one. /admin/metrics
    labels every routed backend's series with its Service (service=
    "namespace/name:port", the main one's keep service="backend"), counts
    each Service's proxies and those synced, and has the route table's
    generation, the proxies serving it and each route's conditions; a drain
    of a routed backend moves its Service's series only. The conventions
    hold (one label set per family)."""
    from test_routed_fleet import API, WEB, Fleet
    f = Fleet(procs, proxy, echo, rundir, ())
    backends = {e.addr for e in [f.main] + f.api + f.web}
    for _ in range(4):
        assert f.get(f.a, "web.example")[0] == 200

    def sample(fam, **labels):
        got = [v for _, l, v in fam["samples"] if all(l.get(k) == x for k, x in labels.items())]
        assert len(got) == 1, (labels, fam["samples"])
        return got[0]
    def settled():
        m = parse(scrape(f.admin))
        requests = sum(v for _, l, v in m["lb_discover_backend_requests_total"]["samples"]
                       if l["service"] == WEB)
        synced = [v for _, _, v in m["lb_discover_proxies_synced"]["samples"]]
        return m if requests == 4 and synced == [2, 2, 2] else None
    m = wait_for("web's 4 requests counted, every service synced on both proxies", settled)
    check_conventions("lb_discover", m, backends)
    state = m["lb_discover_backend_state"]
    for svc, members in (("backend", [f.main]), (API, f.api), (WEB, f.web)):
        assert sample(m["lb_discover_backends"], service=svc) == len(members)
        assert sample(m["lb_discover_generation"], service=svc) == f.status(
            None if svc == "backend" else svc)["generation"]
        assert sample(m["lb_discover_proxies"], service=svc) == 2
        assert sample(m["lb_discover_proxies_synced"], service=svc) == 2
        for e in members:
            assert sample(state, service=svc, backend=e.addr, state="up") == 1
            assert sample(m["lb_discover_backend_weight"], service=svc, backend=e.addr) == 1
    routes = f.status()["routes"]
    assert sample(m["lb_discover_routes_generation"]) == routes["generation"]
    assert sample(m["lb_discover_routes_proxies_serving"]) == 2
    assert sample(m["lb_discover_routed_services"]) == 2
    assert sample(m["lb_discover_route_accepted"], route="default/api", parent="0") == 1
    assert sample(m["lb_discover_route_resolved_refs"], route="default/web", parent="0") == 1
    assert {l["pid"] for _, l, _ in m["lb_discover_proxy_routes_generation"]["samples"]} == \
        {str(f.a.proc.pid), str(f.b.proc.pid)}
    code, _, err = ctl(rundir, "drain", f.web[0].addr, "--service", WEB)
    assert code == 0, err
    m = parse(scrape(f.admin))
    assert sample(m["lb_discover_backend_state"], service=WEB, backend=f.web[0].addr,
                  state="draining") == 1
    assert all(v == 0 for _, l, v in m["lb_discover_backend_state"]["samples"]
               if l["state"] == "draining" and l["service"] != WEB)
