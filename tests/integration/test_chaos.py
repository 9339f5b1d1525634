"""The chaos suite's short version (tests/chaos/chaos.py --short): every
fault of `make chaos` under load, a few seconds each, against the targets of
the README's "Resilience" section (0 failed idempotent requests when a backend
is killed, stopped, drained or lb-discover dies; at most the ejection
threshold per proxy for a backend answering 500 or too slowly; a client over
its rate limit gets the fleet's limit and no one else is touched)."""
import io
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "chaos"))
import chaos  # noqa: E402


def test_chaos_short():
    out = io.StringIO()
    rows = chaos.run(short=True, out=out)
    assert [r.name for r in rows] == [
        "backend kill -9", "backend SIGSTOP/CONT", "backend answers 500",
        "backend answers in 3 s", "rolling update", "lb-discover kill -9",
        "client over rate limit"]
    missed = [r.line() for r in rows if not r.ok]
    assert not missed, "scenarios missed their targets:\n" + "\n".join(missed) + \
        "\n\nall:\n" + out.getvalue()
