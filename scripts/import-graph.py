#!/usr/bin/env python3
"""Checks the file-level import graph of each crate under filter/: no cycle, no import from a
lower layer to a higher one (LAYERS below, lowest first).

A file depends on another when it names an item through `crate::...`, `super::...`, `self::...` or
a child module it declares (in a `use` or a path). Re-exports (`pub use`, `pub(crate) use`) are a
module's interface, not a use, and test modules (`tests.rs`, `#[cfg(test)]` blocks) are left out.
A directory module's `mod.rs` is the facade of its own files: its edges to its direct children
(the table of detectors, the compile step of the rule set) do not count, every other edge does.
Prints each problem and exits 1; with --print, prints the graph.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Per crate, its layers from the lowest: a file may import from its own layer and those below.
# A file belongs to the longest prefix that names it.
LAYERS = {
    "engine": [
        ["detect/"],
        ["token.rs", "fpe.rs", "action.rs"],
        ["search/pattern.rs"],
        ["config/"],
        ["format/mod.rs"],  # the vocabulary of formats: Format, Route, FormatRouter
        ["search/scan.rs", "search/mod.rs"],
        ["format/"],
        ["masker.rs", "format/websocket.rs"],  # WebSocket messages are masked as bodies are
        ["lib.rs"],
    ],
    "proxy": [
        ["host.rs", "decode.rs"],
        ["policy/"],
        ["metrics.rs"],
        ["stream/"],
        ["root.rs"],
        ["lib.rs"],
    ],
    "wasm": [["abi.rs", "alloc.rs"], ["lib.rs"]],
    "cli": [["main.rs"]],
}


def rank(crate, f):
    best, best_len = None, -1
    for i, layer in enumerate(LAYERS.get(crate, [])):
        for prefix in layer:
            if (f == prefix or (prefix.endswith("/") and f.startswith(prefix))) and len(prefix) > best_len:
                best, best_len = i, len(prefix)
    return best


def modules(src):
    """module path (tuple) -> file"""
    out = {}
    for d, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(d, f), src)
            parts = rel[:-3].split(os.sep)
            if parts[-1] in ("lib", "main", "mod"):
                parts = parts[:-1]
            out[tuple(parts)] = rel
    return out


def strip(text):
    text = re.sub(r"//[^\n]*", "", text)
    # drop #[cfg(test)] items (a module block or one item) by brace matching
    out, i = [], 0
    while True:
        j = text.find("#[cfg(test)]", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        k = j + len("#[cfg(test)]")
        semi = text.find(";", k)
        brace = text.find("{", k)
        if brace < 0 or (0 <= semi < brace):
            i = semi + 1
            continue
        depth, k = 0, brace
        while k < len(text):
            if text[k] == "{":
                depth += 1
            elif text[k] == "}":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        i = k + 1
    return "".join(out)


def expand_use(body):
    """`a::{b, c::{d}}` -> ['a::b', 'a::c::d']"""
    body = body.strip()
    m = re.match(r"^(.*?)\{(.*)\}$", body, re.S)
    if not m:
        return [body]
    prefix, inner = m.group(1), m.group(2)
    items, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    items.append(cur)
    res = []
    for it in items:
        if it.strip():
            res += [prefix + x for x in expand_use(it)]
    return res


def deps(mods, modpath, text):
    text = strip(text)
    paths = []
    for m in re.finditer(r"(?m)^\s*(pub(\([^)]*\))?\s+)?use\s+([^;]+);", text):
        if m.group(1):
            continue
        paths += expand_use(m.group(3))
    text_no_use = re.sub(r"(?m)^\s*(pub(\([^)]*\))?\s+)?use\s+[^;]+;", "", text)
    paths += re.findall(r"\b((?:crate|super|self)(?:::\w+)+)", text_no_use)
    # paths through a child module this file declares (`mod meta;` then `meta::HeaderRule`)
    for child in re.findall(r"(?m)^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", text):
        if modpath + (child,) in mods:
            paths += [f"self::{child}" for _ in re.findall(rf"(?<![\w:]){child}::", text)][:1]
    found = set()
    for p in paths:
        segs = [s.strip() for s in p.split("::")]
        segs = [s.split(" as ")[0].strip() for s in segs]
        if segs[0] == "crate":
            base, rest = (), segs[1:]
        elif segs[0] in ("super", "self"):
            base, rest = modpath, segs
            if rest[0] == "self":
                rest = rest[1:]
            while rest and rest[0] == "super":
                base, rest = base[:-1], rest[1:]
        else:
            continue
        target = base
        for s in rest:
            if base + (s,) in mods or target + (s,) in mods:
                target = target + (s,)
            else:
                break
        if target != modpath and target in mods:
            facade_child = mods[modpath].endswith("mod.rs") and target[:-1] == modpath
            if not facade_child:
                found.add(target)
    return found


def cycles(graph):
    out, color, stack = [], {}, []

    def visit(n):
        color[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if color.get(m) == 1:
                out.append(stack[stack.index(m):] + [m])
            elif m not in color:
                visit(m)
        stack.pop()
        color[n] = 2

    for n in sorted(graph):
        if n not in color:
            visit(n)
    return out


def main():
    bad = False
    for crate in sorted(os.listdir(os.path.join(ROOT, "filter"))):
        src = os.path.join(ROOT, "filter", crate, "src")
        if not os.path.isdir(src):
            continue
        mods = modules(src)
        graph = {}
        for mp, f in mods.items():
            if os.path.basename(f) == "tests.rs":
                continue
            with open(os.path.join(src, f), encoding="utf-8") as fh:
                graph[mp] = deps(mods, mp, fh.read())
        if "--print" in sys.argv:
            for mp in sorted(graph):
                print(f"{crate}: {mods[mp]} -> {', '.join(sorted(mods[d] for d in graph[mp]))}")
        for c in cycles(graph):
            bad = True
            print(f"{crate}: import cycle: {' -> '.join(mods[m] for m in c)}")
        for mp in sorted(graph):
            r = rank(crate, mods[mp])
            if r is None:
                bad = True
                print(f"{crate}: {mods[mp]} is in no layer: add it to LAYERS in {os.path.relpath(__file__, ROOT)}")
                continue
            for d in sorted(graph[mp]):
                rd = rank(crate, mods[d])
                if rd is not None and rd > r:
                    bad = True
                    print(f"{crate}: {mods[mp]} imports {mods[d]}, a higher layer")
    if bad:
        sys.exit(1)
    print("import graph: no cycles and no upward imports in filter/*/src")


main()
