"""The context of a pilot page's sections (``templates/pilot_body.html.j2``) and of its report.

Pure: the pilot's row of the per-pilot table, its targets and the factor table in, plain
dictionaries of texts and numbers out (the templates escape them).
"""

from __future__ import annotations

import pandas as pd

from atlas.carbon.headline import METHOD_TIER1_GROSS
from atlas.publish import charts, pages, panel
from atlas.publish.fields import field
from atlas.publish.inventory_inputs import inventory_rows
from atlas.publish.records import DOMAIN_LABELS, METHOD_LABELS, batch_label, designation_year, sink_method_label

DOMAINS_BY_LABEL = {label: key for key, label in DOMAIN_LABELS.items()}
SINK_FACTS = ["sink_method", "forest_ha", "forest_area_source", "forest_share_of_land", "net_sink_tco2_per_ha_land_yr_central", "climate_domain",
              "emissions_tco2_per_yr", "emissions_source", "raster_emissions_tco2_per_yr", "offset_ratio_central",
              "balance_tco2_per_yr"]
FACTS = ["pilot_id", "batch", "year", "document", "level_label", "province_zh", "land_area_km2", "population_10k",
         "gdp_100m_yuan", "co2_per_capita_t"]
_KEYS = ("net_sink_tco2_per_yr_low", "net_sink_tco2_per_yr_central", "net_sink_tco2_per_yr_high")


def _mass(value) -> str:
    return field("net_sink_tco2_per_yr_central").text(value)


def sink_methods(record: pd.Series, methods: pd.DataFrame | None) -> list[dict]:
    """Rows (method, low, central, high texts) of the pilot's sinks by method."""
    rows = []
    if methods is not None and not methods.empty:
        mine = methods[methods["pilot_id"] == record.name]
        for r in mine.itertuples(index=False):
            values = [getattr(r, k, None) for k in _KEYS]
            rows.append({"method": METHOD_LABELS.get(str(r.method), str(r.method)),
                         **dict(zip(("low", "central", "high"), map(_mass, values)))})
    if not rows:  # the build's per-method columns (tier1_…, inventory_…), else the one sink it has
        period = record.get("inventory_period")
        candidates = (("tier1_net_sink", METHOD_LABELS["ipcc_tier1"]),  # net with a loss layer, else gross
                      ("tier1_gross_removal", METHOD_TIER1_GROSS),
                      ("inventory_net_sink", METHOD_LABELS["china_inventory"]
                       + (f" · {period}" if isinstance(period, str) else "")))
        for stem, label in candidates:
            values = [record.get(f"{stem}_tco2_per_yr_{bound}") for bound in ("low", "central", "high")]
            if all(v is None or pd.isna(v) for v in values) or (stem == "tier1_gross_removal" and rows):
                continue
            rows.append({"method": label, **dict(zip(("low", "central", "high"), map(_mass, values)))})
    if not rows:
        rows.append({"method": sink_method_label(record),
                     **dict(zip(("low", "central", "high"), (_mass(record.get(k)) for k in _KEYS)))})
    return rows


def pilot_context(record: pd.Series, targets: pd.DataFrame, data, factors: pd.DataFrame | None,
                  pool: dict | None = None, series: dict | None = None) -> dict:
    """Everything the pilot sections show for one pilot (``data`` is the site's SiteData; its
    ``inventory`` basis, where set, gives the inputs of an inventory-method sink).

    A site of many pilots passes what every pilot shares, computed once: ``pool``
    (:func:`atlas.publish.panel.pools` of ``data.table``) and ``series``
    (:func:`series_by_pilot` of ``data.series``, this pilot's entry).
    """
    pool = panel.pools(data.table) if pool is None else pool
    if series is None:
        series = series_by_pilot(getattr(data, "series", None) or {}, [str(record.name)])[str(record.name)]
    comp_data = panel.compensation_data(record, pool, data.compensation)
    domain_label = record.get("climate_domain")
    domain = DOMAINS_BY_LABEL.get(domain_label, domain_label if isinstance(domain_label, str) else None)
    rows, caveats = pages.target_table(targets)
    pool_count = int(data.table["emissions_tco2_per_yr"].notna().sum()) if "emissions_tco2_per_yr" in data.table else 0
    return {
        "id": record.name, "name_zh": record["name_zh"], "name_en": record["name_en"],
        "batch_label": batch_label(record["batch"]),
        "compensation": comp_data, "compensation_data": pages.json_block(comp_data) if comp_data else None,
        "compensation_rows": panel.compensation_rows(comp_data) if comp_data else [],
        "pool_count": pool_count,
        "sink_methods": sink_methods(record, data.sink_methods),
        "sink_facts": pages.facts(record, SINK_FACTS), "facts": pages.facts(record, FACTS),
        "chart": pages.target_chart(targets), "target_rows": rows, "caveats": caveats,
        "domain": domain_label if isinstance(domain_label, str) else "",
        "factors": panel.factor_rows(factors, domain),
        "inventory": inventory_rows(record, getattr(data, "inventory", None)),
        "time": time_axis(record, targets, series),
        "targets": True,  # a site of the user's own regions sets False: no declared targets there
    }


def series_by_pilot(series: dict, pilot_ids) -> dict[str, dict[str, pd.DataFrame | None]]:
    """Pilot → key → that pilot's rows of each table of ``series`` (None for tables without
    ``pilot_id``), split in one pass over each table rather than one filter per pilot."""
    out = {str(pid): {} for pid in pilot_ids}
    for key, frame in series.items():
        if frame is None or "pilot_id" not in frame:
            for own in out.values():
                own[key] = None
            continue
        groups = dict(tuple(frame.groupby(frame["pilot_id"].astype(str), sort=False)))
        for pid, own in out.items():
            own[key] = groups.get(pid, frame.iloc[:0])
    return out


def time_axis(record: pd.Series, targets: pd.DataFrame, series: dict) -> dict:
    """The charts of one pilot's time axis (:mod:`atlas.publish.charts`) and the texts beside them.

    ``series`` is this pilot's entry of :func:`series_by_pilot` (keys ``emissions``, ``intensity``,
    ``trajectories``, ``loss_by_year``; any may be missing). Charts are None where the pilot has no data.
    """
    year = designation_year(record)
    emissions = series.get("emissions")
    intensity = series.get("intensity")
    trajectory = series.get("trajectories")
    goals = charts.intensity_targets(targets, intensity)
    declared = 0
    if "indicator" in targets:
        mine = targets[targets["indicator"].isin(list(charts.INTENSITY_TARGETS))]
        declared = len(mine.drop_duplicates(subset=["indicator", "target_year", "value_low", "value_high"]))
    matched = trajectory.dropna(subset=["comparison_tco2"]) if trajectory is not None else None
    source = ""
    if emissions is not None and not emissions.empty and "source" in emissions:
        source = str(emissions["source"].dropna().iloc[0]) if emissions["source"].notna().any() else ""
    return {
        "year": year,
        "emissions": charts.emissions_chart(emissions, year, trajectory, goals),
        "intensity": charts.intensity_chart(intensity, goals, year),
        "loss": charts.loss_chart(series.get("loss_by_year"), year),
        "loss_given": "loss_by_year" in series,
        "source": source,
        "matched": (str(matched["matched_adcodes"].iloc[0]).replace(";", "、")
                    if matched is not None and not matched.empty and "matched_adcodes" in matched else ""),
        "method": (str(matched["method"].iloc[0]) if matched is not None and not matched.empty
                   and "method" in matched else ""),
        "unplaced_targets": max(declared - len(goals), 0),
        "has_series": bool(series),
    }
