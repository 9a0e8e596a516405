#!/usr/bin/env python3
"""Writes the digests of the built module into the manifests, at every `# streammask-digest` marker:
the OCI image digest for image references (Envoy Gateway `code.image`, Istio `url: oci://`), the
sha256 of the .wasm file for plain HTTP downloads (`code.http`).

  scripts/k8s-digest.py IMAGE_DIGEST WASM_SHA256
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
image, wasm = (d.removeprefix("sha256:") for d in sys.argv[1:3])
for p in sorted(ROOT.glob("k8s/**/*.yaml")):
    lines = p.read_text().split("\n")
    changed = False
    for i, line in enumerate(lines[:-1]):
        if "streammask-digest" not in line:
            continue
        context = "\n".join(lines[max(0, i - 6):i])
        digest = wasm if "http:" in context and "image:" not in context else image
        new = re.sub(r'sha256: *"?[0-9a-f]{64}"?', f'sha256: "{digest}"', lines[i + 1])
        if new != lines[i + 1]:
            lines[i + 1], changed = new, True
    if changed:
        p.write_text("\n".join(lines))
        print(f"updated {p.relative_to(ROOT)}")
