"""The runtime directory belongs to its user alone (issue: "a runtime dir no
one else can own"). Another local user who creates lb's default runtime dir
first, or a dir anyone may write to, could bind sets.sock there and feed a
proxy their own backends: lb refuses such a dir, naming its owner or mode, as
tmux and ssh-agent do, and makes the default one 0700 itself."""
import os
import stat
import subprocess
import tempfile

import pytest

from conftest import SLOW, binary, wait_for
from support.net import free_port

NOBODY = 65534
OTHER = 12345  # a uid no process of the test runs as

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to play two users")


def reachable_by_others(path):
    """Whether a user who is neither owner nor group could run path: every
    directory above it searchable by others, the file executable by them (a
    checkout in a 0700 directory, as mktemp -d makes, is not)."""
    path = os.path.abspath(path)
    if not os.stat(path).st_mode & stat.S_IXOTH:
        return False
    d = os.path.dirname(path)
    while True:
        if not os.stat(d).st_mode & stat.S_IXOTH:
            return False
        if d == "/":
            return True
        d = os.path.dirname(d)


def run(argv, env=None, user=None, umask=None, timeout=20):
    """Runs a program to its exit (a refusal exits at start); returns (code, stderr)."""
    e = {k: v for k, v in os.environ.items() if k not in ("LB_RUNTIME_DIR", "XDG_RUNTIME_DIR")}
    e.update(env or {})

    def drop():
        if umask is not None:
            os.umask(umask)
        if user is not None:
            os.setgroups([])
            os.setgid(user)
            os.setuid(user)
    r = subprocess.run(argv, capture_output=True, text=True, env=e, preexec_fn=drop,
                       stdin=subprocess.DEVNULL, timeout=timeout * SLOW)
    return r.returncode, r.stderr


@pytest.fixture
def opendir():
    d = tempfile.mkdtemp(prefix="lb-rt-", dir="/tmp")
    yield d
    subprocess.run(["rm", "-rf", d])


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o720, 0o702])
def test_a_given_runtime_dir_others_may_write_is_refused(opendir, mode):
    os.chmod(opendir, mode)
    for prog, extra in (("lb-discover", ["--static", "127.0.0.1:1"]), ("lb-proxy", []),
                        ("lb-ctl", ["status"])):
        code, err = run([binary(prog), "--runtime-dir", opendir, *extra])
        assert code != 0, (prog, err)
        assert f"runtime dir {opendir} has mode {mode:04o}: group or others can write to it" \
            in err, (prog, err)
        assert f"chmod 700 {opendir}" in err
    assert os.listdir(opendir) == [], "nothing may be bound in a refused dir"


@root_only
def test_a_given_runtime_dir_of_another_user_is_refused(opendir):
    os.chmod(opendir, 0o700)
    os.chown(opendir, OTHER, OTHER)
    code, err = run([binary("lb-discover"), "--runtime-dir", opendir,
                     "--static", "127.0.0.1:1"])
    assert code != 0
    assert f"runtime dir {opendir} is owned by uid {OTHER}, not by you (uid 0 (root))" in err, err


@pytest.fixture
def nobody_default():
    """The default runtime dir of uid 65534 (/tmp/lb-65534), absent before and
    removed after; the test runs lb as that user with no LB_RUNTIME_DIR and no
    XDG_RUNTIME_DIR, so it comes to the default."""
    path = f"/tmp/lb-{NOBODY}"
    subprocess.run(["rm", "-rf", path])
    if os.path.exists("/run/lb") and os.stat("/run/lb").st_uid == NOBODY:
        pytest.skip("/run/lb belongs to uid 65534 here")
    for prog in ("lb-proxy", "lb-discover"):
        if not reachable_by_others(binary(prog)):
            pytest.skip(f"{binary(prog)} is out of uid {NOBODY}'s reach (a directory above it "
                        "is closed to others): the test cannot run it as that user")
    yield path
    subprocess.run(["rm", "-rf", path])


@root_only
def test_the_default_runtime_dir_taken_by_another_user_is_refused(nobody_default):
    """The attack: another user makes /tmp/lb-UID first, mode 0777. The
    victim's lb-proxy must not connect to (or bind) anything there."""
    os.mkdir(nobody_default)
    os.chmod(nobody_default, 0o777)
    os.chown(nobody_default, OTHER, OTHER)
    for argv in ([binary("lb-proxy")], [binary("lb-discover"), "--static", "127.0.0.1:1"]):
        code, err = run(argv, user=NOBODY)
        prog = argv[0]
        assert code != 0, (prog, err)
        assert f"runtime dir {nobody_default} is owned by uid {OTHER}, not by you " \
            f"(uid {NOBODY}" in err, (prog, err)
    assert os.listdir(nobody_default) == []


@root_only
def test_the_default_runtime_dir_as_a_symbolic_link_is_refused(nobody_default, opendir):
    os.chown(opendir, NOBODY, NOBODY)
    os.chmod(opendir, 0o700)
    os.symlink(opendir, nobody_default)
    code, err = run([binary("lb-discover"), "--static", "127.0.0.1:1"], user=NOBODY)
    assert code != 0
    assert f"runtime dir {nobody_default} is a symbolic link" in err, err


@root_only
def test_the_default_runtime_dir_is_made_0700_whatever_the_umask(nobody_default, procs):
    """mkdir(0700) is the atomic step: made by lb, owned by its user, closed
    to others even under umask 0."""
    e = {k: v for k, v in os.environ.items() if k not in ("LB_RUNTIME_DIR", "XDG_RUNTIME_DIR")}

    def drop():
        os.umask(0)
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    # the env replaces the parent's: Proc merges it over os.environ, so unset
    # the two variables by running through env -u
    p = procs(["env", "-u", "LB_RUNTIME_DIR", "-u", "XDG_RUNTIME_DIR", binary("lb-discover"),
               "--static", "127.0.0.1:1"], env=e, preexec_fn=drop)
    p.wait_log(rf"INFO publishing .*runtime_dir={nobody_default} ")
    st = os.stat(nobody_default)
    assert stat.S_IMODE(st.st_mode) == 0o700
    assert st.st_uid == NOBODY
    sock = os.stat(os.path.join(nobody_default, "sets.sock"))
    assert st.st_uid == sock.st_uid == NOBODY


@root_only
def test_a_bus_socket_of_another_user_in_the_runtime_dir_is_refused(opendir):
    """Every file lb opens in its runtime dir is checked too: a socket file
    someone else left there (root could) is not connected to."""
    os.chmod(opendir, 0o700)
    sets = os.path.join(opendir, "sets.sock")
    subprocess.run([sys_python(), "-c", "import socket,sys; s=socket.socket(socket.AF_UNIX); "
                    f"s.bind({sets!r})"], check=True)
    os.chown(sets, OTHER, OTHER)
    code, err = run([binary("lb-proxy"), "--runtime-dir", opendir, "--initial-set-timeout", "0"])
    assert code != 0
    assert f"file {sets} is owned by uid {OTHER}, not by you" in err, err
    wait_for("the socket left in place", lambda: os.path.exists(sets))


def sys_python():
    import sys
    return sys.executable


@root_only
def test_a_state_file_of_another_user_in_the_runtime_dir_is_refused(opendir):
    os.chmod(opendir, 0o700)
    state = os.path.join(opendir, "discover-backend.json")
    with open(state, "w") as f:
        f.write('{"service": "backend", "generation": 7, "backends": []}\n')
    os.chown(state, OTHER, OTHER)
    code, err = run([binary("lb-discover"), "--runtime-dir", opendir, "--static", "127.0.0.1:1"])
    assert code != 0
    assert f"file {state} is owned by uid {OTHER}, not by you" in err, err
    os.chown(state, 0, 0)
    os.chmod(state, 0o666)
    code, err = run([binary("lb-discover"), "--runtime-dir", opendir, "--static", "127.0.0.1:1"])
    assert code != 0
    assert f"file {state} has mode 0666: group or others can write to it" in err, err


@root_only
def test_a_takeover_socket_of_another_user_is_neither_offered_nor_taken(opendir, procs):
    """A replacement must not take sockets from (nor a proxy offer its own at)
    a takeover socket someone else made: the proxy serves without offering,
    saying why; --takeover refuses to start."""
    os.chmod(opendir, 0o700)
    port = free_port()
    path = os.path.join(opendir, f"lb-proxy-takeover-{port}.sock")
    subprocess.run([sys_python(), "-c", "import socket; s=socket.socket(socket.AF_UNIX); "
                    f"s.bind({path!r})"], check=True)
    os.chown(path, OTHER, OTHER)
    code, err = run([binary("lb-proxy"), "--runtime-dir", opendir, "--backends", "127.0.0.1:1",
                     "--listen", f"127.0.0.1:{port}", "--admin", "127.0.0.1:0", "--takeover"])
    assert code != 0
    assert f"file {path} is owned by uid {OTHER}, not by you" in err, err
    p = procs([binary("lb-proxy"), "--runtime-dir", opendir, "--backends", "127.0.0.1:1",
               "--listen", f"127.0.0.1:{port}", "--admin", "127.0.0.1:0"])
    p.wait_log(rf"WARN no takeover socket: .*file {path} is owned by uid {OTHER}, not by you")
    assert os.stat(path).st_uid == OTHER, "the file is left as it was"


def test_a_state_file_that_is_not_a_regular_file_is_refused_at_once(opendir):
    """A FIFO in place of the state file blocked lb-discover's start in its
    read; now it is refused, named."""
    os.chmod(opendir, 0o700)
    state = os.path.join(opendir, "discover-backend.json")
    os.mkfifo(state, 0o600)
    code, err = run([binary("lb-discover"), "--runtime-dir", opendir, "--static", "127.0.0.1:1"],
                    timeout=10)
    assert code != 0
    assert f"{state} is not a regular file: remove it" in err, err
