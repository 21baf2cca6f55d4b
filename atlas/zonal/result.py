"""Turning accumulated sums into tables: one row per region, or per region and band.

Statistics (``stats=`` / ``atlas zonal --stats``). Every statistic is over the valid cells
a region touches, each weighted by ``c``, the share of the cell's ellipsoidal area inside
the region (0 < c ≤ 1); ``v`` is the cell value after scale and offset:

``count``     Σ c  (cells, partial cells counted by their share)
``sum``       Σ c·v
``mean``      Σ c·v / Σ c  (exactextract's ``mean``, with shares on the ellipsoid)
``std``       √(Σ c·(v − mean)² / Σ c)  (population standard deviation)
``min/max``   smallest / largest v with c > 0
``median``    ``p50``
``pNN``       the weighted quantile: the smallest v whose cumulative Σ c (values in
              ascending order) reaches NN % of Σ c; NN from 1 to 99
``majority``  the v with the largest Σ c (the smallest such v on ties)
``shares``    classes layers: each class's share of the region's valid covered area
              (``class_<code>_share``)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from atlas.errors import UnitsError
from atlas.rasters.layer import LayerSpec
from atlas.rasters.units import M2_PER_HA, QuantityKind
from atlas.zonal.accumulate import Accumulator, Options

log = logging.getLogger(__name__)

#: Shares within this of 1 count as "whole region inside the raster". The engine's areas
#: and the outlines' areas share one definition (:mod:`atlas.zonal.ellipsoid`), so the
#: covered area of a region wholly inside equals its area to about 1e-9.
SHARE_TOLERANCE = 1e-5
STATS = ("count", "sum", "mean", "std", "min", "max", "median", "majority", "shares")
_PERCENTILE = re.compile(r"^p([1-9][0-9]?)$")


def parse_stats(stats: Sequence[str] | str | None) -> tuple[str, ...]:
    """Normalise a list (or comma-separated string) of statistic names; refuses unknown ones."""
    if not stats:
        return ()
    names = [s.strip().lower() for part in ([stats] if isinstance(stats, str) else stats)
             for s in str(part).split(",") if s.strip()]
    bad = [s for s in names if s not in STATS and not _PERCENTILE.match(s)]
    if bad:
        raise UnitsError(f"Unknown statistics {bad}", f"some of {', '.join(STATS)}, p1 … p99",
                         "e.g. --stats mean,p10,p90")
    return tuple(dict.fromkeys(names))


def options_for(stats: tuple[str, ...]) -> Options:
    """What the accumulation must keep for these statistics."""
    quantiles = any(s in ("median", "majority") or _PERCENTILE.match(s) for s in stats)
    return Options(moments=any(s in ("count", "sum", "mean", "std") for s in stats),
                   extrema=any(s in ("min", "max", "std") for s in stats), samples=quantiles)


def _status(inside: float, valid_share: float) -> str:
    if inside <= 0:
        return "outside raster"
    if valid_share <= 0:
        return "no valid data"
    if inside < 1 - SHARE_TOLERANCE:
        return "partly outside raster"
    return "ok"


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values, kind="stable")
    v, cum = values[order], np.cumsum(weights[order])
    return float(v[min(np.searchsorted(cum, q * cum[-1] * (1 - 1e-12)), len(v) - 1)])


def _sample_stats(acc: Accumulator, stats: tuple[str, ...], n: int) -> dict[str, np.ndarray]:
    wanted = [s for s in stats if s in ("median", "majority") or _PERCENTILE.match(s)]
    out = {s: np.full((n, acc.n_bands), np.nan) for s in wanted}
    for (k, b), parts in acc.samples.items():
        values = np.concatenate([p[0] for p in parts])
        weights = np.concatenate([p[1] for p in parts])
        if values.size == 0:
            continue
        for s in wanted:
            if s == "majority":
                uniq, inverse = np.unique(values, return_inverse=True)
                out[s][k, b] = uniq[np.argmax(np.bincount(inverse, weights=weights))]
            else:
                q = 0.5 if s == "median" else int(s[1:]) / 100
                out[s][k, b] = _weighted_quantile(values, weights, q)
    return out


def value_columns(acc: Accumulator, spec: LayerSpec, stats: tuple[str, ...], n: int) -> dict[str, np.ndarray]:
    """The layer's value columns, each an ``(n_regions, n_bands)`` array, units in the names."""
    unit = spec.unit
    has = acc.valid > 0
    cols: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        valid_ha = acc.valid / M2_PER_HA
        name, kind = spec.name, spec.kind
        if kind is QuantityKind.AMOUNT:
            total = acc.csum * unit.factor
            cols[f"{name}_{unit.output}"] = np.where(has, total, np.nan)
            cols[f"{name}_{unit.output}_per_ha"] = np.where(has, total / valid_ha, np.nan)
        elif kind is QuantityKind.FLUX_DENSITY:
            cols[f"{name}_{unit.output}"] = np.where(has, acc.wsum * unit.factor, np.nan)
            cols[f"{name}_mean_{unit.slug}"] = np.where(has, acc.wsum / acc.valid, np.nan)
        elif kind is QuantityKind.FRACTION:
            cols[f"{name}_ha"] = np.where(has, acc.wsum * unit.factor, np.nan)
            cols[f"{name}_mean_{unit.slug}"] = np.where(has, acc.wsum / acc.valid, np.nan)
            if spec.threshold is not None:
                cols[f"{name}_ge{spec.threshold:g}{unit.slug}_ha"] = np.where(has, acc.thr / M2_PER_HA, np.nan)
        else:
            zero = np.zeros_like(acc.valid)
            for group, codes in spec.groups.items():
                area = sum((acc.hist.get(c, 0.0) for c in codes), zero)
                cols[f"{group}_ha"] = np.where(has, area / M2_PER_HA, np.nan)
            for code in sorted(acc.hist):
                cols[f"class_{code}_ha"] = np.where(has, acc.hist[code] / M2_PER_HA, np.nan)
                if spec.classes and code not in spec.classes:
                    log.warning("%s: code %d is not in the layer's class table", spec.name, code)
            if "shares" in stats:
                for code in sorted(acc.hist):
                    cols[f"class_{code}_share"] = np.where(has, acc.hist[code] / acc.valid, np.nan)
        count = acc.cover
        mean = acc.csum / count
        for s in stats:
            if s == "count":
                cols[f"{name}_count"] = np.where(has, count, np.nan)
            elif s == "sum":
                cols[f"{name}_sum"] = np.where(has, acc.csum, np.nan)
            elif s == "mean":
                cols[f"{name}_mean"] = np.where(has, mean, np.nan)
            elif s == "std":
                var = np.maximum(acc.sq / count - mean * mean, 0.0)
                cols[f"{name}_std"] = np.where(has, np.sqrt(var), np.nan)
            elif s in ("min", "max"):
                cols[f"{name}_{s}"] = np.where(has, acc.vmin if s == "min" else acc.vmax, np.nan)
        for s, values in _sample_stats(acc, stats, n).items():
            cols[f"{name}_{s}"] = values
    return cols


def conversions(spec: LayerSpec, columns) -> dict[str, str]:
    """How each converted value column was made from the raster's units (e.g. ×44/12 from carbon)."""
    unit = spec.unit
    stem = f"{spec.name}_{unit.output}"
    return {col: unit.conversion + (", per ha of valid area" if col.endswith("_per_ha") else "")
            for col in columns if col == stem or col == f"{stem}_per_ha"}


def result_frame(acc: Accumulator, ids: Sequence, id_column: str, region_area_m2: np.ndarray, spec: LayerSpec,
                 band_labels: Sequence[str] | None = None, band_times: Sequence[str] | None = None,
                 stats: tuple[str, ...] = ()) -> pd.DataFrame:
    """The tidy table: one row per region, or (``band_labels`` given) per region and band.

    Columns: ``region_area_ha`` (ellipsoidal), ``covered_area_ha``, ``valid_area_ha``,
    ``inside_raster_share``, ``valid_share``, the layer's value columns (units in names),
    the requested statistics, ``status``; in long form also ``band`` (and ``time``).
    """
    n = len(ids)
    cols = value_columns(acc, spec, stats, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        inside = np.clip(acc.area / region_area_m2, 0.0, 1.0)
        valid_share = np.clip(acc.valid / region_area_m2[:, None], 0.0, 1.0)
    long = band_labels is not None
    n_bands = acc.n_bands if long else 1
    rep = (lambda a: np.repeat(np.asarray(a), n_bands)) if long else np.asarray
    frame = pd.DataFrame({id_column: rep(list(ids))})
    if long:
        frame["band"] = np.tile(np.asarray(band_labels, dtype=object), n)
        if band_times is not None:
            frame["time"] = np.tile(np.asarray(band_times, dtype=object), n)
    frame["region_area_ha"] = rep(region_area_m2 / M2_PER_HA)
    frame["covered_area_ha"] = rep(acc.area / M2_PER_HA)
    frame["valid_area_ha"] = (acc.valid / M2_PER_HA).ravel() if long else acc.valid[:, 0] / M2_PER_HA
    frame["inside_raster_share"] = rep(inside)
    frame["valid_share"] = valid_share.ravel() if long else valid_share[:, 0]
    for col, values in cols.items():
        frame[col] = values.ravel() if long else values[:, 0]
    frame["status"] = [_status(i, v) for i, v in zip(frame["inside_raster_share"], frame["valid_share"])]
    frame.attrs.update({"layer": spec.name, "kind": spec.kind.value, "units": spec.units, "caveat": spec.caveat,
                        "conversions": conversions(spec, cols)})
    return frame
