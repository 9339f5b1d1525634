"""README.md's Quick start, run as written: its two ```sh blocks, command by
command, so the README cannot drift from the programs. What a shared test
machine needs changed is changed and nothing else: each port the block names
becomes a free one (the same one wherever the block names it), /tmp/lb the
test's runtime dir, bin/ the binaries under test. A command ending in `&` is a
server: the test waits for its log to say it is ready (a reader waits for the
prompt); every other command must exit 0 and print what the prose says."""
import json
import os
import re
import shlex
import socket
import subprocess

from conftest import BIN_DIR, SLOW, binary

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
READY = {"lb-echo": r"INFO listening ", "lb-proxy": r"INFO listening ",
         "lb-discover": r"INFO publishing "}


def quick_start_blocks():
    text = open(README).read()
    m = re.search(r"^## Quick start\n(.*?)^## ", text, re.S | re.M)
    assert m, "README.md has no '## Quick start' section"
    blocks = re.findall(r"^```sh\n(.*?)^```", m.group(1), re.S | re.M)
    assert len(blocks) == 2, blocks
    return [[line for line in b.splitlines() if line.strip()] for b in blocks]


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Runner:
    def __init__(self, procs, blocks, rundir):
        self.procs = procs
        names = sorted({int(p) for b in blocks for line in b
                        for p in re.findall(r"(?:127\.0\.0\.1|localhost):(\d{4})\b", line)})
        self.ports = dict(zip(names, free_ports(len(names))))
        self.rundir = rundir

    def rewrite(self, line):
        line = re.sub(r"(127\.0\.0\.1|localhost):(\d{4})\b",
                      lambda m: f"{m.group(1)}:{self.ports[int(m.group(2))]}", line)
        line = re.sub(r"(^|\s)/tmp/lb\b", lambda m: m.group(1) + self.rundir, line)
        return re.sub(r"(^|\s|;\s*)bin/", lambda m: m.group(1) + os.path.abspath(BIN_DIR) + "/",
                      line)

    def run(self, line):
        """A server is started and waited for; a command is run: returns its stdout."""
        line = self.rewrite(line)
        if line.endswith("&"):
            argv = shlex.split(line[:-1])
            prog = os.path.basename(argv[0])
            p = self.procs([binary(prog), *argv[1:]])
            p.wait_log(READY[prog], timeout=10)
            return None
        r = subprocess.run(["bash", "-c", line], capture_output=True, text=True,
                           timeout=60 * SLOW, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, f"{line}\nexit {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r.stdout


def pods(out):
    return [json.loads(line)["podName"] for line in out.splitlines() if line.startswith("{")]


def test_the_quick_start_runs_as_written(procs, rundir):
    by_hand, on_the_bus = quick_start_blocks()
    r = Runner(procs, [by_hand, on_the_bus], rundir)
    # three backends and a proxy by hand, five commands
    assert len(by_hand) == 5, by_hand
    outputs = [r.run(line) for line in by_hand]
    answered = pods(outputs[-1])
    assert sorted(answered) == ["echo-1", "echo-2", "echo-3"], outputs[-1]   # round-robin
    # the same through lb-discover and lb-ctl
    outputs = [r.run(line) for line in on_the_bus]
    status = outputs[2]
    for port in (8081, 8082, 8083):
        assert re.search(rf"127\.0\.0\.1:{r.ports[port]}\s.*\bup\b", status), status
    after_drain = pods(outputs[4])
    assert len(after_drain) == 4 and "echo-2" not in after_drain, outputs[4]
    load = outputs[5]
    assert "echo-1" in load and "echo-3" in load and "echo-2" not in load, load
