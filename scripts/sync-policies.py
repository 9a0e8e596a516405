#!/usr/bin/env python3
"""One policy, everywhere.

Every config that embeds a streammask policy marks the spot with a comment
`streammask-policy: <source.json>` on the line before the line that holds it. This script rewrites
each marked spot from its source file, in the form the spot uses:

  key: |            YAML block scalar (Envoy StringValue, ConfigMap data, annotations)
  key: {...}        YAML flow mapping on one line (EnvoyExtensionPolicy config, WasmPlugin pluginConfig)
  proxy_wasm NAME '...';   nginx directive argument

  scripts/sync-policies.py            rewrite
  scripts/sync-policies.py --check    fail if anything would change
  scripts/sync-policies.py --extract  print FILE:LINE<TAB>policy-json for every spot (one per line)
"""
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
GLOBS = ["envoy/*.yaml", "benches/*.yaml", "k8s/**/*.yaml", "nginx/*.conf", "nginx/**/*.conf"]
MARK = re.compile(r"streammask-policy:\s*(\S+)")


def files():
    seen = set()
    for g in GLOBS:
        for p in sorted(ROOT.glob(g)):
            if p not in seen:
                seen.add(p)
                yield p


def load(src):
    return json.loads((ROOT / src).read_text())


def pretty(policy):
    """Readable JSON with one rule per line."""
    out = ["{"]
    keys = list(policy)
    for i, k in enumerate(keys):
        v = policy[k]
        comma = "," if i + 1 < len(keys) else ""
        if isinstance(v, list) and v:
            out.append(f'  {json.dumps(k)}: [')
            for j, item in enumerate(v):
                c2 = "," if j + 1 < len(v) else ""
                out.append(f"    {json.dumps(item)}{c2}")
            out.append(f"  ]{comma}")
        else:
            out.append(f"  {json.dumps(k)}: {json.dumps(v)}{comma}")
    out.append("}")
    return out


def process(path, mode):
    lines = path.read_text().split("\n")
    out, spots, i = [], [], 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        m = MARK.search(line)
        if not m or i + 1 >= len(lines):
            i += 1
            continue
        policy = load(m.group(1))
        target = lines[i + 1]
        indent = len(target) - len(target.lstrip())
        stripped = target.strip()
        if stripped.endswith(": |") or stripped.endswith(": |-"):
            out.append(target)
            j = i + 2
            while j < len(lines) and (lines[j].strip() == "" or len(lines[j]) - len(lines[j].lstrip()) > indent):
                j += 1
            # keep trailing blank lines outside the block
            while j > i + 2 and lines[j - 1].strip() == "":
                j -= 1
            body_indent = " " * (indent + 2)
            out.extend(body_indent + l for l in pretty(policy))
            spots.append((i + 2, policy))
            i = j
            continue
        key_flow = re.match(r"^(\s*[\w.\-/\"]+:\s*)\{.*\}\s*$", target)
        nginx = re.match(r"^(\s*proxy_wasm\s+\S+\s+)'.*'(\s*;.*)$", target)
        if key_flow:
            out.append(key_flow.group(1) + json.dumps(policy, separators=(", ", ": ")))
        elif nginx:
            out.append(nginx.group(1) + "'" + json.dumps(policy, separators=(",", ":")) + "'" + nginx.group(2))
        else:
            sys.exit(f"{path}:{i + 2}: cannot tell how to embed the policy in: {target!r}")
        spots.append((i + 2, policy))
        i += 2
    return "\n".join(out), spots


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    changed = []
    for p in files():
        text, spots = process(p, mode)
        rel = p.relative_to(ROOT)
        if mode == "--extract":
            for line, policy in spots:
                print(f"{rel}:{line}\t{json.dumps(policy)}")
            continue
        if text != p.read_text():
            changed.append(str(rel))
            if mode != "--check":
                p.write_text(text)
    if mode == "--check" and changed:
        sys.exit("embedded policies differ from their source (run `make policies`): " + ", ".join(changed))
    if mode == "":
        print("rewrote: " + (", ".join(changed) if changed else "nothing (all in sync)"))


if __name__ == "__main__":
    main()
