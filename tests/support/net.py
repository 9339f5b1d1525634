"""Sockets on 127.0.0.1 for the tests, the chaos suite and the benchmarks."""
import socket


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0,
    then closed), for a program that must be told its port up front."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def free_port_on(hosts, tries=50):
    """A port that was free a moment ago on every one of `hosts` (loopback
    addresses whose servers share one port, as pods and containers do). The
    kernel picks it for a wildcard bind, which no bind of that port on any
    address may share, so no other test's server holds it on 127.0.0.2
    while 127.0.0.1's is gone; each host is then tried on its own."""
    for _ in range(tries):
        s = socket.socket()
        s.bind(("0.0.0.0", 0))
        port = s.getsockname()[1]
        s.close()
        ok = True
        for h in hosts:
            t = socket.socket()
            try:
                t.bind((h, port))
            except OSError:
                ok = False
            finally:
                t.close()
        if ok:
            return port
    raise AssertionError(f"no port free on every one of {hosts}")


def dead_addr():
    """"127.0.0.1:PORT" where nothing listens now (a port just freed):
    connects there are refused."""
    return f"127.0.0.1:{free_port()}"


def recv_until_close(s, bufsize=65536, stop_on=()):
    """Everything received on s until the peer closes. An exception of a type
    in stop_on (say OSError, for a reset) ends the read as well and what came
    before it is returned; any other exception (the socket's timeout
    included, unless named) propagates."""
    got = b""
    while True:
        try:
            data = s.recv(bufsize)
        except stop_on:
            return got
        if not data:
            return got
        got += data


def refused_addr():
    """(socket, "127.0.0.1:PORT"): a socket bound and never listening, so
    connects to the address are refused for as long as the caller holds it
    (unlike dead_addr's, no other program can take the port meanwhile); the
    caller closes it."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s, "127.0.0.1:%d" % s.getsockname()[1]

