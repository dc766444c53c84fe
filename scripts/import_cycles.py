"""Finds import circles between the modules of a crate: module A uses
something of module B (`use crate::b`, `use super::b`, `crate::b::x` in
code) and B, directly or through others, uses A. A parent and the modules
it declares do not count (a `mod.rs` re-exporting its children is no
circle); tests (`#[cfg(test)] mod tests`) are left out.

    python3 scripts/import_cycles.py src crates/runreg-cli/src

Prints each circle and exits 1 when there is one (ARCHITECTURE.md: each
layer uses only the layers before it).
"""

import os
import re
import sys


def modules(root):
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".rs"):
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, root)[:-3]
                module = rel.replace(os.sep + "mod", "").replace(os.sep, "::")
                if module in ("lib", "main", "mod"):
                    module = ""
                with open(path, encoding="utf-8") as f:
                    found[module] = re.split(r"#\[cfg\(test\)\]\s*mod tests", f.read())[0]
    return found


def resolve(known, current, path):
    """The module a `crate::`/`super::`/`self::` path lands in."""
    parts = path.split("::")
    base = current.split("::") if current else []
    if parts[0] == "crate":
        base, parts = [], parts[1:]
    elif parts[0] == "super":
        while parts and parts[0] == "super":
            base, parts = base[:-1], parts[1:]
    elif parts[0] == "self":
        parts = parts[1:]
    else:
        return None
    full = base + parts
    for n in range(len(full), -1, -1):
        candidate = "::".join(full[:n])
        if candidate in known:
            return candidate
    return None


def edges(known):
    out = {m: set() for m in known}
    for module, text in known.items():
        targets = []
        for base, inner in re.findall(r"\buse\s+((?:crate|super|self)(?:::\w+)*)(?:::\{([^;]*)\})?", text):
            names = [n.strip().split("::")[0] for n in inner.split(",")] if inner else [""]
            targets += [base if n in ("", "self") else f"{base}::{n}" for n in names]
        targets += re.findall(r"\b(crate(?:::\w+)+)", text)
        for path in targets:
            target = resolve(known, module, path)
            if target and target != module and not module.startswith(target + "::") and target != "":
                out[module].add(target)
    return out


def circles(graph):
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main():
    bad = 0
    for root in sys.argv[1:]:
        for part in circles(edges(modules(root))):
            print(f"import circle in {root}: {' <-> '.join(part)}")
            bad += 1
    if bad:
        sys.exit(1)
    print(f"no import circle in {', '.join(sys.argv[1:])}")


if __name__ == "__main__":
    main()
