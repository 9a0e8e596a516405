#!/usr/bin/env python3
"""Writes an Envoy config for the side-by-side benches from benches/envoy-bench.yaml: its admin,
the no-filter listener (:10100), optionally the no-op wasm filter (:10103), then one streammask
listener per NAME=PORT:WASM[:POLICY] argument (POLICY a JSON file; default the policy
envoy-bench.yaml embeds), each with its own stat prefix and VM, then the clusters.

  benches/listeners.py OUT [--noop] NAME=PORT:WASM[:POLICY] ...
"""
import os
import sys
import textwrap


def main(argv):
    out, rest = argv[0], argv[1:]
    noop = "--noop" in rest
    specs = [a for a in rest if a != "--noop"]
    lines = open("benches/envoy-bench.yaml").read().split("\n")

    def at(name):
        return next(i for i, l in enumerate(lines) if l.strip() == name)

    def part(a, b):
        return "\n".join(lines[at(a) : at(b)])

    head = "\n".join(lines[: at("listeners:") + 1])
    block = part("- name: streammask", "- name: lua")
    parts = [head, part("- name: plain", "- name: streammask")]
    if noop:
        parts.append(
            part("- name: wasm-noop", "clusters:").replace(
                "/etc/streammask/noop_filter.wasm", os.path.abspath("target/wasm32-wasip1/release/noop_filter.wasm")
            )
        )
    for spec in specs:
        name, rhs = spec.split("=", 1)
        port, wasm, *policy = rhs.split(":", 2)
        b = block
        if policy:
            i, j = b.index("value: |"), b.index("vm_config:")
            text = textwrap.dedent(open(policy[0]).read()).strip("\n")
            b = b[:i] + "value: |\n" + textwrap.indent(text, " " * 22) + "\n" + " " * 16 + b[j:]
        parts.append(
            b.replace("- name: streammask", "- name: " + name, 1)
            .replace("port_value: 10101", "port_value: " + port)
            .replace("stat_prefix: streammask", "stat_prefix: " + name)
            .replace("vm_id: streammask", "vm_id: " + name)
            .replace("/etc/streammask/streammask.wasm", os.path.abspath(wasm))
        )
    parts.append("\n".join(lines[at("clusters:") :]))
    open(out, "w").write("\n".join(parts))


if __name__ == "__main__":
    main(sys.argv[1:])
