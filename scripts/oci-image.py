#!/usr/bin/env python3
"""Builds the streammask wasm image as an OCI image layout, without Docker, byte for byte
reproducibly: one gzip layer holding /plugin.wasm (the layout Envoy Gateway and Istio pull).

  scripts/oci-image.py [WASM] [OUT_DIR] [REF]       prints the manifest digest (the image digest)
  scripts/oci-image.py --verify OUT_DIR WASM         checks the layout and that it holds WASM
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

WASM = "target/wasm32-wasip1/release/streammask.wasm"
OUT = "target/oci/streammask"


def blob(out, data):
    d = hashlib.sha256(data).hexdigest()
    os.makedirs(f"{out}/blobs/sha256", exist_ok=True)
    with open(f"{out}/blobs/sha256/{d}", "wb") as f:
        f.write(data)
    return {"digest": f"sha256:{d}", "size": len(data)}


def build(wasm, out, ref):
    code = open(wasm, "rb").read()
    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        info = tarfile.TarInfo("plugin.wasm")
        info.size, info.mtime, info.mode, info.uid, info.gid = len(code), 0, 0o444, 0, 0
        t.addfile(info, io.BytesIO(code))
    tar = tar_buf.getvalue()
    gz_buf = io.BytesIO()
    with gzip.GzipFile(fileobj=gz_buf, mode="wb", mtime=0) as g:
        g.write(tar)
    layer = blob(out, gz_buf.getvalue())
    layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
    config = {
        "architecture": "wasm",
        "os": "wasip1",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]},
    }
    cfg = blob(out, json.dumps(config, sort_keys=True, separators=(",", ":")).encode())
    cfg["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": cfg,
        "layers": [layer],
        "annotations": {"org.opencontainers.image.title": "streammask", "module.wasm.image/variant": "compat"},
    }
    man = blob(out, json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode())
    man["mediaType"] = manifest["mediaType"]
    man["annotations"] = {"org.opencontainers.image.ref.name": ref}
    with open(f"{out}/index.json", "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [man]}, f)
    with open(f"{out}/oci-layout", "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    return man["digest"]


def verify(out, wasm):
    index = json.load(open(f"{out}/index.json"))
    assert json.load(open(f"{out}/oci-layout"))["imageLayoutVersion"] == "1.0.0"

    def read(desc):
        d = desc["digest"].split(":", 1)[1]
        data = open(f"{out}/blobs/sha256/{d}", "rb").read()
        assert hashlib.sha256(data).hexdigest() == d and len(data) == desc["size"], desc
        return data

    (mdesc,) = index["manifests"]
    manifest = json.loads(read(mdesc))
    config = json.loads(read(manifest["config"]))
    (layer,) = manifest["layers"]
    tar = gzip.decompress(read(layer))
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(tar).hexdigest()]
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        assert t.getnames() == ["plugin.wasm"], t.getnames()
        data = t.extractfile("plugin.wasm").read()
    assert data == open(wasm, "rb").read(), "the image does not hold the built module"
    return mdesc["digest"]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--verify"]:
        print(verify(sys.argv[2], sys.argv[3]))
    else:
        args = sys.argv[1:] + [None] * 3
        print(build(args[0] or WASM, args[1] or OUT, args[2] or "ghcr.io/example/streammask:0.1.0"))
