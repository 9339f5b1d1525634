#!/usr/bin/env python3
"""The layer check: every #include "..." in lb's C sources goes down, never up.

Each program that has layers lists its folders from the bottom up (LAYERS);
files at a program's root (main.c) sit above every folder. A file may include
a header of its own folder, of a folder below it, or of common/; common/ may
include only common/. Folders of one rank (siblings) may not include each
other. Across the whole tree no two modules (a .c with its .h) include each
other, directly or round a loop: the table that names every implementation of
an interface lives in a file of its own, not in the interface's module.

With --objects DIR (a build tree such as build/release) the same rules are
checked on the calls themselves: every symbol an object file uses (nm) is
found in the object that defines it, so a call up through a function declared
in a lower header but defined higher (or any extern) is caught too, and no two
modules may call each other, directly or round a loop.

Usage: check_layers.py [--objects DIR] [ROOT]   (ROOT defaults to the
repository). Exit 0 when clean; else every offending place is printed as
FILE:LINE: why (or FILE: calls SYMBOL of ...), and exit 1.
"""
import os
import re
import subprocess
import sys

# Bottom up; a tuple holds sibling folders of one rank.
LAYERS = {
    "lb-proxy": ["net", "upstream", "policy", ("http", "stream"), "control"],
    "lb-discover": ["kube", "core", ("sources", "cluster"), "api"],
}
PROGRAMS = ["lb-proxy", "lb-discover", "lb-ctl", "lb-echo"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def ranks(program):
    """folder -> rank for a program's layers; the root ("") ranks above all."""
    out = {}
    for i, layer in enumerate(LAYERS.get(program, [])):
        for folder in (layer if isinstance(layer, tuple) else (layer,)):
            out[folder] = i
    out[""] = len(LAYERS.get(program, []))
    return out


def sources(root):
    for top in ["common"] + PROGRAMS:
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(d, f), root)


def place(rel):
    """(program or "common", folder inside it or "") of a repository path."""
    parts = rel.split(os.sep)
    return parts[0], "/".join(parts[1:-1])


def resolve(root, rel, name):
    """The repository path an include names, or None (a system or llhttp header):
    the including file's folder first (as the compiler does), then the program's
    root (-IPROGRAM), then common/ (-Icommon)."""
    top, _ = place(rel)
    for base in (os.path.dirname(rel), top, "common"):
        cand = os.path.normpath(os.path.join(base, name))
        if os.path.isfile(os.path.join(root, cand)):
            return cand
    return None


def direction(rel, target):
    """Why a use of target (a repository path) by rel goes the wrong way, or None."""
    top, folder = place(rel)
    ttop, tfolder = place(target)
    if top == "common" and ttop != "common":
        return "common/ never depends on a program"
    if ttop not in ("common", top):
        return "another program's code"
    if ttop != top or top not in LAYERS or tfolder == folder:
        return None
    rank = ranks(top)
    mine, theirs = rank.get(folder.split("/")[0]), rank.get(tfolder.split("/")[0])
    if mine is None or theirs is None:
        unknown = folder if mine is None else tfolder
        return f"folder {top}/{unknown} is not in the layer table (tests/check_layers.py LAYERS)"
    if theirs > mine:
        return f"{tfolder or 'the root'} is a higher layer than {folder or 'the root'}"
    if theirs == mine and tfolder.split("/")[0] != folder.split("/")[0]:
        return f"{tfolder} and {folder} are sibling layers, which may not call each other"
    return None


def check(root):
    errors = []
    edges = {}  # module -> {module: (file, line, name)}
    for rel in sources(root):
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
        for n, text in enumerate(lines, 1):
            m = INCLUDE.match(text)
            if not m:
                continue
            target = resolve(root, rel, m.group(1))
            if target is None:
                continue
            why = direction(rel, target)
            if why:
                errors.append(f"{rel}:{n}: includes {target}: {why}")
            a, b = os.path.splitext(rel)[0], os.path.splitext(target)[0]
            if a != b:
                edges.setdefault(a, {}).setdefault(b, (rel, n, m.group(1)))
    errors += loops(edges)
    return errors


def nm(paths, *flags):
    """{path: [symbol]} for the object files, from one nm for them all: each nm
    start loads binutils' plugins (LLVMgold when clang is installed, about a
    second), so one per object made the check take minutes."""
    out = subprocess.run(["nm", "-P", "-A", *flags, *paths], capture_output=True, text=True,
                         check=True)
    syms = {path: [] for path in paths}
    for line in out.stdout.splitlines():
        # "PATH: SYMBOL TYPE [VALUE SIZE]"; a path holds no ": " (ours do not)
        path, _, rest = line.partition(": ")
        if rest.strip():
            syms[path].append(rest.split()[0])
    return syms


def check_objects(root, objdir):
    """The rules on the calls: objdir holds PATH.o for each PATH.c of the tree."""
    objs = {}
    for rel in sources(root):
        if not rel.endswith(".c"):
            continue
        obj = os.path.join(objdir, rel[:-2] + ".o")
        if os.path.isfile(obj):
            objs[rel] = obj
    if not objs:
        return [f"{objdir}: no object files of the tree (build it first)"]
    exported = nm(list(objs.values()), "--defined-only", "-g")
    undefined = nm(list(objs.values()), "-u")
    defined, uses = {}, {}
    for rel, obj in objs.items():
        for sym in exported[obj]:
            defined.setdefault((place(rel)[0], sym), rel)
        uses[rel] = undefined[obj]
    errors, edges = [], {}
    for rel, syms in sorted(uses.items()):
        for sym in syms:
            # each program links its own objects and common/'s: look there
            target = defined.get((place(rel)[0], sym)) or defined.get(("common", sym))
            if target is None or target == rel:
                continue
            why = direction(rel, target)
            if why:
                errors.append(f"{rel}: calls {sym} of {target}: {why}")
            a, b = os.path.splitext(rel)[0], os.path.splitext(target)[0]
            if a != b:
                edges.setdefault(a, {}).setdefault(b, (rel, 0, sym))
    for comp in loops(edges, calls=True):
        errors.append(comp)
    return errors


def loops(edges, calls=False):
    """Tarjan's strongly connected components: each component of more than one
    module is an include loop, reported with the include lines that close it."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    errors = []
    for comp in out:
        members = set(comp)
        lines = [(f"{f}: calls {name} of {b}" if calls else f"{f}:{n}: includes \"{name}\"")
                 for a in comp for b, (f, n, name) in sorted(edges.get(a, {}).items())
                 if b in members]
        errors.append(("call" if calls else "include") + " loop between " + ", ".join(comp) + ":\n    "
                      + "\n    ".join(lines))
    return errors


def main():
    args = sys.argv[1:]
    objdir = None
    if args[:1] == ["--objects"]:
        objdir, args = args[1], args[2:]
    root = os.path.abspath(args[0] if args else os.path.join(os.path.dirname(__file__), ".."))
    errors = check(root)
    if objdir:
        errors += check_objects(root, os.path.abspath(objdir))
    for e in errors:
        print(e)
    if errors:
        print(f"layer check: {len(errors)} problem(s); see docs/architecture.md")
        return 1
    print("layer check: every include" + (" and call" if objdir else "")
          + " goes down, no loops")
    return 0


if __name__ == "__main__":
    sys.exit(main())
