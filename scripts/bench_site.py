"""Benchmark of the published site: build time, page sizes, first render in headless Chromium,
side by side with the peer (a default folium map from ``GeoDataFrame.explore()`` of the same
outlines), both opened from file:// with the network cut.

Run from the repository root (needs Debian's chromium and Playwright, as for the browser
tests)::

    python3 scripts/bench_site.py [--repeat 5] [--out /tmp/atlas-bench-site]

Prints a Markdown table. Render time is ``window.atlasReadyAt``: milliseconds from navigation
start to the first animation frame after every layer, control and legend is on the map. For
the peer it is the load event (its map never draws offline: Leaflet comes from a CDN).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the browser fixture module used by the tests

from browser import BrowserPage, offline_browser  # noqa: E402

from atlas.regions import boundaries
from atlas.workflow.defaults import build  # noqa: E402
from atlas.publish.site import external_resources  # noqa: E402

READY = "window.atlasReady === true"


def mib(path: Path) -> float:
    return path.stat().st_size / 2**20


def measure(browser, page: Path, repeat: int, ours: bool) -> dict:
    times = []
    for _ in range(repeat):
        tab = BrowserPage(browser)  # a fresh offline context: its logs hold this page only
        if ours:
            tab.open(page, ready=READY)
            times.append(float(tab.js("window.atlasReadyAt")))
        else:
            tab.open(page)
            tab.wait_for("performance.getEntriesByType('navigation')[0].loadEventEnd > 0")
            times.append(float(tab.js("performance.getEntriesByType('navigation')[0].loadEventEnd")))
        shapes, external, errors = tab.count("path.leaflet-interactive"), tab.external_requests, tab.console_errors
        tab.close()
    return {"ms": statistics.median(times), "shapes": shapes, "external": len(external), "errors": len(errors)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("/tmp/atlas-bench-site"))
    args = parser.parse_args()
    site = args.out / "site"
    started = time.perf_counter()
    build(site)
    build_s = time.perf_counter() - started

    peer = args.out / "peer_explore.html"
    outlines = boundaries.load_pilot_boundaries(display=True)
    outlines[["pilot_id", "name_zh", "batch", "geometry"]].explore(column="batch", categorical=True).save(peer)

    pages = [site / "national.html", site / "batch-1.html", site / "batch-2.html", site / "batch-3.html",
             site / "pilots" / "P1-05.html", site / "index.html"]
    pilot_pages = sorted((site / "pilots").glob("*.html"))
    total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file()) / 2**20
    with offline_browser() as browser:
        rows = [(p.relative_to(site).as_posix(), mib(p), measure(browser, p, args.repeat, p.name != "index.html"))
                for p in pages]
        peer_row = measure(browser, peer, args.repeat, ours=False)
    print(f"atlas build: {build_s:.1f} s wall; site {total:.1f} MiB in {sum(1 for _ in site.rglob('*.html'))} "
          f"pages; pilot pages {min(map(mib, pilot_pages)):.2f}–{max(map(mib, pilot_pages)):.2f} MiB "
          f"(median {statistics.median(map(mib, pilot_pages)):.2f})")
    print()
    print("| page | size MiB | first render ms (median) | shapes drawn | external requests | console errors |")
    print("|---|---|---|---|---|---|")
    for name, size, m in rows:
        print(f"| {name} | {size:.2f} | {m['ms']:.0f} | {m['shapes']} | {m['external']} | {m['errors']} |")
    print(f"| peer: geopandas explore() (folium defaults), same 87 outlines | {mib(peer):.2f} | "
          f"{peer_row['ms']:.0f} (load event) | {peer_row['shapes']} | {peer_row['external']} | "
          f"{peer_row['errors']} |")
    print()
    print(f"peer page links {len(external_resources(peer.read_text(encoding='utf-8')))} scripts/stylesheets "
          "from CDNs; ours link none.")


if __name__ == "__main__":
    main()
