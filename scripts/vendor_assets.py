"""Vendor the browser libraries the published maps inline, from the npm registry.

The published pages must work with no network (and inside mainland China, where public
CDNs are often blocked), so every script and stylesheet is embedded in the HTML. This
script fetches the pinned package tarballs from the npm registry, checks them against
the registry's published ``dist.integrity`` (SHA-512), and writes what the pages need
into ``atlas/publish/assets/``:

- ``leaflet.js`` with its source-map comment removed (the map file is not shipped);
- ``leaflet.css`` with its icon images turned into ``data:`` URIs, so the stylesheet
  refers to nothing outside itself;
- ``LICENSE-leaflet.txt`` and ``vendored.json`` (package, version, tarball URL, integrity,
  SHA-256 of every written file).

Run from the repository root: ``python3 scripts/vendor_assets.py``. The files are
committed; the build never touches the network.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import sys
import tarfile
import urllib.request
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
PINNED = {"leaflet": "1.9.4"}
OUT = Path(__file__).resolve().parent.parent / "atlas" / "publish" / "assets"


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def check_integrity(blob: bytes, integrity: str) -> None:
    algo, _, digest = integrity.partition("-")
    got = base64.b64encode(hashlib.new(algo, blob).digest()).decode()
    if got != digest:
        sys.exit(f"integrity mismatch: registry says {integrity}, tarball is {algo}-{got}")


def inline_images(css: str, images: dict[str, bytes]) -> str:
    """Replace ``url(images/x.png)`` by ``url(data:image/png;base64,…)``."""

    def swap(match: re.Match) -> str:
        name = match.group(1).split("/")[-1]
        if name not in images:
            sys.exit(f"leaflet.css refers to {match.group(1)}, which is not in the tarball")
        return f"url(data:image/png;base64,{base64.b64encode(images[name]).decode()})"

    css = re.sub(r"url\((?:['\"])?(images/[^)'\"]+)(?:['\"])?\)", swap, css)
    if re.search(r"url\((?!data:|#)", css):  # url(#default#VML) is an old-IE fragment, not a file
        sys.exit("leaflet.css still refers to an external file after inlining")
    return css


def vendor_leaflet(version: str) -> dict:
    meta = json.loads(fetch(f"{REGISTRY}/leaflet/{version}"))
    tarball = fetch(meta["dist"]["tarball"])
    check_integrity(tarball, meta["dist"]["integrity"])
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        def read(name: str) -> bytes:
            return tar.extractfile(f"package/{name}").read()

        js = read("dist/leaflet.js").decode()
        css = read("dist/leaflet.css").decode()
        images = {Path(m.name).name: tar.extractfile(m).read() for m in tar.getmembers()
                  if m.name.startswith("package/dist/images/") and m.isfile()}
        licence = read("LICENSE")
    js = re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", js)
    files = {"leaflet.js": js.encode(), "leaflet.css": inline_images(css, images).encode(),
             "LICENSE-leaflet.txt": licence}
    for name, blob in files.items():
        (OUT / name).write_bytes(blob)
    return {"package": "leaflet", "version": version, "licence": "BSD-2-Clause",
            "tarball": meta["dist"]["tarball"], "integrity": meta["dist"]["integrity"],
            "files": {name: hashlib.sha256(blob).hexdigest() for name, blob in files.items()}}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = [vendor_leaflet(PINNED["leaflet"])]
    (OUT / "vendored.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(f"vendored {', '.join(m['package'] + '@' + m['version'] for m in manifest)} into {OUT}")


if __name__ == "__main__":
    main()
