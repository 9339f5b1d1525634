"""A process's resources as Linux's /proc tells them."""
import os


def cpu_seconds(pid):
    """User + system CPU seconds of pid so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid, default=None):
    """The resident set of pid in KiB (VmRSS). A process without one (a
    zombie) raises AssertionError, or gives `default` when one is given."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    if default is None:
        raise AssertionError("no VmRSS")
    return default
