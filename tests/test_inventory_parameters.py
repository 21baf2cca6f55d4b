"""The data behind China's inventory method and the provenance of the sink factors.

Checks ``geodata/cn_inventory_parameters.csv`` (species-group conversion parameters),
``geodata/cn_species_groups.csv`` (species names → groups) and the citation columns of
``geodata/sink_factors.csv``. Each check is a function returning the problems it finds, so
that it is tested on hand-made bad tables (it must be able to fail) and then on the files.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atlas.carbon.stock_change import CONVERSION_PARAMETERS, LUMPED_PARAMETER
from atlas.carbon.subcompartments import assign_groups
from atlas.paths import geodata_dir

PARAMETER_COLUMNS = ["group", "group_en", "parameter", "value", "low", "high", "unit", "source_document",
                     "source_table", "page_or_url", "status", "note"]
#: Plausible bounds of each conversion parameter (a value outside is a typo or a unit slip).
BOUNDS = {"basic_wood_density_t_dm_per_m3": (0.25, 0.9), "biomass_expansion_factor": (1.0, 3.0),
          "root_shoot_ratio": (0.1, 0.6), "carbon_fraction": (0.4, 0.6),
          LUMPED_PARAMETER: (0.2, 0.8)}
#: Groups of the provincial guidelines whose parameters could not yet be read in any source
#: (geodata/INVENTORY_METHOD.md, "Groups awaiting parameters"). Remove a group here when its
#: four rows are added to the parameter table.
PENDING_GROUPS = {"杉木", "马尾松", "云南松", "柏木", "落叶松", "油松", "樟子松", "冷杉", "云杉", "栎类", "桦木",
                  "杨树", "桉树", "硬阔类", "软阔类", "针叶混", "阔叶混", "针阔混"}
#: "derived": computed from cited figures, the computation stated in the row (the national ``all`` row).
PARAMETER_STATUS = {"verified", "secondary", "derived"}
FACTOR_STATUS = {"verified", "secondary", "unchecked"}
# Working notes that must not appear in a citable table (case matters: "unchecked" is a status word).
WORKING_NOTES = re.compile(r"[Ss]ession|could not be opened|UNVERIFIED|code-index|VERIFIED|SECONDARY|"
                           r"verify before release")


def parameter_problems(params: pd.DataFrame) -> list[str]:
    """Every problem of a parameter table: columns, completeness, order and bounds, sources."""
    missing = [c for c in PARAMETER_COLUMNS if c not in params]
    if missing:
        return [f"missing columns {missing}"]
    problems = []
    for group, rows in params.groupby("group"):
        have = rows["parameter"].tolist()
        if sorted(have) != sorted(CONVERSION_PARAMETERS) and have != [LUMPED_PARAMETER]:
            problems.append(f"{group}: parameters {sorted(have)}")
    for row in params.itertuples():
        label = f"{row.group}/{row.parameter}"
        low, value, high = (pd.to_numeric(pd.Series([row.low, row.value, row.high]), errors="coerce")).to_numpy()
        if np.isnan([low, value, high]).any() or not low <= value <= high:
            problems.append(f"{label}: low {row.low}, value {row.value}, high {row.high}")
        elif row.parameter in BOUNDS:
            lo, hi = BOUNDS[row.parameter]
            if not (lo <= low and high <= hi):
                problems.append(f"{label}: [{low}, {high}] outside the plausible [{lo}, {hi}]")
        for col in ("source_document", "source_table", "page_or_url"):
            if not str(getattr(row, col)).strip() or pd.isna(getattr(row, col)):
                problems.append(f"{label}: no {col}")
        if row.status not in PARAMETER_STATUS:
            problems.append(f"{label}: status {row.status!r}")
    return problems


def alias_problems(aliases: pd.DataFrame, groups: set[str]) -> list[str]:
    """Aliases must be unique, map to a known group and leave bamboo out (no stock-change method)."""
    problems = [f"duplicate name {n}" for n in aliases.loc[aliases["name"].duplicated(), "name"]]
    problems += [f"{r.name} → unknown group {r.group}" for r in aliases.itertuples() if r.group not in groups]
    problems += [f"bamboo name {n}" for n in aliases["name"] if "竹" in n]
    return problems


def provenance_problems(factors: pd.DataFrame) -> list[str]:
    """Every sink-factor row needs both citations and a status; no working notes anywhere."""
    problems = [f"missing column {c}" for c in ("citation_zh", "citation_en", "status", "checked_against")
                if c not in factors]
    if problems:
        return problems
    for row in factors.itertuples():
        for col in ("citation_zh", "citation_en", "checked_against", "source"):
            if not str(getattr(row, col)).strip():
                problems.append(f"{row.factor_id}: empty {col}")
        if row.status not in FACTOR_STATUS:
            problems.append(f"{row.factor_id}: status {row.status!r}")
        if not re.search(r"[\u4e00-\u9fff]", str(row.citation_zh)):
            problems.append(f"{row.factor_id}: citation_zh has no Chinese text")
    for col in factors.columns:
        text = factors[col].astype(str)
        for fid in factors.loc[text.str.contains(WORKING_NOTES), "factor_id"]:
            problems.append(f"{fid}: working note in {col}")
    return problems


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(geodata_dir() / name, dtype=str, keep_default_na=False, encoding="utf-8")


def _rows(group: str, values: dict[str, tuple[float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"group": group, "group_en": group, "parameter": p, "value": v, "low": lo, "high": hi,
                          "unit": "u", "source_document": "doc", "source_table": "Table 1", "page_or_url": "p. 1",
                          "status": "verified", "note": ""} for p, (lo, v, hi) in values.items()])


GOOD = {"basic_wood_density_t_dm_per_m3": (0.35, 0.40, 0.45), "biomass_expansion_factor": (1.4, 1.5, 1.6),
        "root_shoot_ratio": (0.2, 0.25, 0.3), "carbon_fraction": (0.47, 0.5, 0.52)}


# --- the checks can fail ---------------------------------------------------------------------------------

def test_parameter_check_accepts_a_complete_group():
    assert parameter_problems(_rows("杉木", GOOD)) == []


def test_parameter_check_finds_each_fault():
    assert parameter_problems(_rows("杉木", GOOD).iloc[:3]) == [
        "杉木: parameters ['basic_wood_density_t_dm_per_m3', 'biomass_expansion_factor', 'root_shoot_ratio']"]
    disordered = _rows("杉木", {**GOOD, "root_shoot_ratio": (0.3, 0.25, 0.2)})       # low > high
    assert parameter_problems(disordered) == ["杉木/root_shoot_ratio: low 0.3, value 0.25, high 0.2"]
    # a wood density of 307 (kg/m³ typed for t/m³) is outside 0.25–0.9
    kg = _rows("杉木", {**GOOD, "basic_wood_density_t_dm_per_m3": (300.0, 307.0, 310.0)})
    assert parameter_problems(kg) == ["杉木/basic_wood_density_t_dm_per_m3: [300.0, 310.0] outside the plausible "
                                      "[0.25, 0.9]"]
    unsourced = _rows("杉木", GOOD).assign(source_document=["doc", "", "doc", "doc"], status="recollection")
    problems = parameter_problems(unsourced)
    assert "杉木/biomass_expansion_factor: no source_document" in problems
    assert sum("status 'recollection'" in p for p in problems) == 4


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0)), min_size=4, max_size=4))
def test_parameter_check_invariant(fractions):
    # any triple placed inside the plausible bounds in low ≤ value ≤ high order passes; the same
    # triple with low and high swapped fails exactly when they differ
    values = {}
    for (name, (lo, hi)), triple in zip(BOUNDS.items(), fractions):
        a, b, c = sorted(lo + f * (hi - lo) for f in triple)
        values[name] = (a, b, c)
    assert parameter_problems(_rows("g", values)) == []
    name = "carbon_fraction"
    a, b, c = values[name]
    swapped = _rows("g", {**values, name: (c, b, a)})
    assert bool(parameter_problems(swapped)) == (a != c)


def test_alias_check_finds_each_fault():
    aliases = pd.DataFrame({"name": ["马尾松", "马尾松", "毛竹", "湿地松"], "group": ["马尾松", "马尾松", "竹林", "国外松"]})
    assert alias_problems(aliases, {"马尾松"}) == ["duplicate name 马尾松", "毛竹 → unknown group 竹林",
                                                  "湿地松 → unknown group 国外松", "bamboo name 毛竹"]


def test_provenance_check_finds_each_fault():
    bad = pd.DataFrame({"factor_id": ["A", "B"], "source": ["IPCC 2006", "x"],
                        "citation_zh": ["IPCC 2006 指南", "no chinese"], "citation_en": ["IPCC 2006", ""],
                        "status": ["verified", "UNVERIFIED"], "checked_against": ["read in the PDF", "-"],
                        "note": ["", "could not be opened from this session"]})
    assert provenance_problems(bad) == ["B: empty citation_en", "B: status 'UNVERIFIED'",
                                        "B: citation_zh has no Chinese text", "B: working note in status",
                                        "B: working note in note"]


# --- the bundled files -----------------------------------------------------------------------------------

def test_parameter_table_is_complete_and_sourced():
    params = _read("cn_inventory_parameters.csv")
    assert params.columns.tolist() == PARAMETER_COLUMNS
    assert parameter_problems(params) == []


def test_pending_groups_are_listed_and_not_yet_in_the_table():
    params = _read("cn_inventory_parameters.csv")
    assert not PENDING_GROUPS & set(params["group"]), "drop groups that now have parameters from PENDING_GROUPS"
    method = (geodata_dir() / "INVENTORY_METHOD.md").read_text(encoding="utf-8")
    section = method.split("## Groups awaiting parameters", 1)[1].split("\n## ", 1)[0]
    assert all(f"`{g}`" in section for g in PENDING_GROUPS)


def test_species_aliases_map_to_guideline_groups():
    aliases = _read("cn_species_groups.csv")
    assert aliases.columns.tolist() == ["name", "group", "note"]
    groups = set(_read("cn_inventory_parameters.csv")["group"]) | PENDING_GROUPS
    assert alias_problems(aliases, groups) == []


@pytest.mark.parametrize(("species", "group"), [
    ("杉木林", "杉木"),               # a name containing an alias maps to its group
    ("樟子松", "樟子松"),             # not 硬阔类 through 樟
    ("兴安落叶松", "落叶松"),
    ("侧柏", "柏木"),                 # NFI code 350 柏类
    ("木荷", "硬阔类"), ("枫香", "硬阔类"),   # NFI codes 470, 480: hardwood block
    ("台湾相思", "软阔类"),           # NFI code 560: softwood block
    ("针阔叶混交", "针阔混"),         # longest match beats 阔叶混
    ("毛竹", None), ("湿地松", None), ("杨梅", None), ("柞木", None),   # left unknown on purpose
])
def test_species_examples(species, group):
    rows = pd.DataFrame({"species": [species]})
    got = assign_groups(rows, _read("cn_species_groups.csv")).iloc[0]
    assert (pd.isna(got) and group is None) or got == group


def test_sink_factor_provenance_is_citable():
    factors = _read("sink_factors.csv")
    assert len(factors) == 105
    assert provenance_problems(factors) == []
    # a status below "verified" always says what was (or was not) read
    weaker = factors[factors["status"] != "verified"]
    assert weaker["checked_against"].str.len().gt(15).all()
