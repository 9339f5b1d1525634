"""The layer check (tests/check_layers.py, `make layers`) on small trees made
here: it must name the offending line of an include that goes up, of one
between sibling layers, of common/ including a program, and of an include
loop; and, on object files, a call that goes up without any include."""
import os
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.no_lb_binaries

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "check_layers.py")


def tree(tmp_path, files):
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def run(root, *args):
    r = subprocess.run([sys.executable, SCRIPT, *args, str(root)], capture_output=True,
                       text=True, timeout=60)
    return r.returncode, r.stdout


CLEAN = {
    "common/buf.h": "int buf_len(void);\n",
    "lb-proxy/net/transport.h": '#include "buf.h"\n',
    "lb-proxy/upstream/backend.h": '#include "net/transport.h"\n',
    "lb-proxy/http/session.h": '#include "upstream/backend.h"\n#include <stdio.h>\n',
    "lb-proxy/http/session.c": '#include "session.h"\n#include "http/session.h"\n',
    "lb-proxy/main.c": '#include "http/session.h"\n',
}


def test_a_tree_whose_includes_go_down_passes(tmp_path):
    code, out = run(tree(tmp_path, CLEAN))
    assert code == 0, out


def test_an_include_of_a_higher_layer_names_its_line(tmp_path):
    files = dict(CLEAN)
    files["lb-proxy/upstream/backend.c"] = '#include "backend.h"\n\n#include "http/session.h"\n'
    code, out = run(tree(tmp_path, files))
    assert code == 1
    assert "lb-proxy/upstream/backend.c:3: includes lb-proxy/http/session.h: http is a " \
        "higher layer than upstream" in out


def test_the_root_is_above_every_folder(tmp_path):
    files = dict(CLEAN)
    files["lb-proxy/proxy.h"] = "struct proxy;\n"
    files["lb-proxy/net/transport.c"] = '#include "proxy.h"\n'
    code, out = run(tree(tmp_path, files))
    assert code == 1
    assert "lb-proxy/net/transport.c:1: includes lb-proxy/proxy.h: the root is a higher " \
        "layer than net" in out


def test_sibling_layers_may_not_include_each_other(tmp_path):
    files = dict(CLEAN)
    files["lb-discover/core/registry.h"] = "struct registry;\n"
    files["lb-discover/sources/dns.c"] = '#include "core/registry.h"\n#include "cluster/fleet.h"\n'
    files["lb-discover/cluster/fleet.h"] = '#include "core/registry.h"\n'
    code, out = run(tree(tmp_path, files))
    assert code == 1
    assert "lb-discover/sources/dns.c:2: includes lb-discover/cluster/fleet.h: cluster and " \
        "sources are sibling layers" in out
    assert "dns.c:1" not in out


def test_common_never_includes_a_program(tmp_path):
    files = dict(CLEAN)
    files["common/log.c"] = '#include "buf.h"\n#include "../lb-proxy/http/session.h"\n'
    code, out = run(tree(tmp_path, files))
    assert code == 1
    assert "common/log.c:2: includes lb-proxy/http/session.h: common/ never depends" in out


def test_a_folder_missing_from_the_table_is_named(tmp_path):
    files = dict(CLEAN)
    files["lb-proxy/misc/thing.c"] = '#include "net/transport.h"\n'
    code, out = run(tree(tmp_path, files))
    assert code == 1
    assert "folder lb-proxy/misc is not in the layer table" in out


def test_two_modules_of_one_folder_including_each_other_are_a_loop(tmp_path):
    files = dict(CLEAN)
    files["lb-echo/conn.h"] = "struct conn;\n"
    files["lb-echo/conn.c"] = '#include "conn.h"\n#include "server.h"\n'
    files["lb-echo/server.h"] = '#include "conn.h"\n'
    code, out = run(tree(tmp_path, files))
    assert code == 1
    assert "include loop between lb-echo/conn, lb-echo/server" in out
    assert 'lb-echo/conn.c:2: includes "server.h"' in out
    assert 'lb-echo/server.h:1: includes "conn.h"' in out


@pytest.mark.skipif(not shutil.which("cc") or not shutil.which("nm"), reason="needs cc and nm")
def test_a_call_up_without_an_include_is_found_in_the_objects(tmp_path):
    """A lower file declaring a higher file's function itself (no include) still
    calls up: the check on object files (nm) sees the call."""
    files = dict(CLEAN)
    files["lb-proxy/http/session.c"] = "void proxy_closed(void);\nvoid s(void) { proxy_closed(); }\n"
    files["lb-proxy/main.c"] = "void s(void);\nvoid proxy_closed(void) {}\nint main(void) { s(); }\n"
    root = tree(tmp_path / "src", files)
    objs = tmp_path / "build"
    for rel in ("lb-proxy/http/session.c", "lb-proxy/main.c"):
        out = objs / (rel[:-2] + ".o")
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cc", "-c", "-o", str(out), str(root / rel)], check=True)
    code, out = run(root)
    assert code == 0, out
    code, out = run(root, "--objects", str(objs))
    assert code == 1
    assert "lb-proxy/http/session.c: calls proxy_closed of lb-proxy/main.c: the root is a " \
        "higher layer than http" in out
    assert "call loop between lb-proxy/http/session, lb-proxy/main" in out
