#!/usr/bin/env python3
"""Fails when the crate's files import each other in a cycle.

Reads every `use crate::…` / `use super::…` statement (braces expanded) and every
`crate::a::b` path written inline in src/, maps each to the file that defines it, and
looks for strongly connected groups of files. A child module's use of its own parent (or
of any ancestor) is allowed; anything else that goes both ways is a cycle.
Usage: python3 .ci/module-order.py [--graph]
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def module_of(path):
    rel = os.path.relpath(path, ROOT)[:-3].split(os.sep)
    if rel[-1] == "mod":
        rel = rel[:-1]
    if rel == ["lib"]:
        return ()
    return tuple(rel)


def files():
    out = {}
    for d, _, fs in os.walk(ROOT):
        for f in fs:
            if f.endswith(".rs"):
                p = os.path.join(d, f)
                out[module_of(p)] = p
    return out


def strip(src):
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    src = re.sub(r"//[^\n]*", "", src)
    src = re.sub(r'"(\\.|[^"\\])*"', '""', src)
    return src


def cut_tests(src):
    """What a file's test module uses is not the module's own dependency."""
    m = re.search(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", src)
    return src[: m.start()] if m else src


def expand(tree):
    """`a::{b, c::{d, e}}` → ["a::b", "a::c::d", "a::c::e"]."""
    tree = tree.strip()
    i = tree.find("{")
    if i < 0:
        return [tree]
    head, body = tree[:i], tree[i + 1 : tree.rfind("}")]
    parts, depth, cur = [], 0, ""
    for ch in body:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    return [x for p in parts if p.strip() for x in expand(head + p.strip())]


def resolve(mod, path, known):
    segs = [s.strip() for s in re.split(r"::", path) if s.strip()]
    segs = [re.sub(r"\s+as\s+\w+$", "", s) for s in segs]
    if not segs:
        return None
    if segs[0] == "crate":
        base, segs = [], segs[1:]
    elif segs[0] in ("super", "self"):
        # `super` is the parent module, whether the file is `x.rs` or `x/mod.rs`.
        base = list(mod)
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super":
                base = base[:-1]
            segs = segs[1:]
    else:
        return None
    target = tuple(base)
    for s in segs:
        if tuple(list(target) + [s]) in known:
            target = tuple(list(target) + [s])
        else:
            break
    return target


def main():
    known = files()
    edges = {m: set() for m in known}
    for mod, path in known.items():
        src = cut_tests(strip(open(path).read()))
        paths = []
        for m in re.finditer(r"\buse\s+((?:crate|super|self)\b[^;]*);", src):
            paths += expand(m.group(1))
        for m in re.finditer(r"\b((?:crate|super)(?:::\w+)+)", src):
            paths.append(m.group(1))
        for p in paths:
            t = resolve(mod, p, known)
            if t is None or t == mod or t == ():
                continue
            if mod[: len(t)] == t:  # a child using an ancestor
                continue
            if t in known:
                edges[mod].add(t)
    if "--graph" in sys.argv:
        for m in sorted(edges):
            print("::".join(m) or "lib", "->", ", ".join(sorted("::".join(t) for t in edges[m])))
    # Tarjan's strongly connected components.
    index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
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
                sccs.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    if sccs:
        print("import cycles between files of src/ (each group uses itself around):")
        for c in sccs:
            names = sorted("::".join(m) for m in c)
            print("  - " + ", ".join(names))
            for a in sorted(c):
                for b in sorted(edges[a] & set(c)):
                    print("      %s -> %s" % ("::".join(a), "::".join(b)))
        return 1
    print("module order: no import cycle among %d files" % len(known))
    return 0


if __name__ == "__main__":
    sys.exit(main())
