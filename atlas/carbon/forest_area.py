"""Forest area per region from a zonal table of any forest layer.

Which cells count as forest depends on the product: IGBP land cover counts its five forest
classes (one column per class, so sinks can use type-specific factors), Hansen tree cover
and WorldCover count the area at or above a canopy threshold (one ``tree_cover`` column).
Shares divide by the land area (sea inside coastal outlines excluded), never by the outline.

Pure functions: frames in, frames out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from atlas.errors import FactorError

#: IGBP forest classes of MODIS land cover → forest types of the factor table.
IGBP_FOREST_TYPES = {1: "igbp_enf", 2: "igbp_ebf", 3: "igbp_dnf", 4: "igbp_dbf", 5: "igbp_mixed"}


def forest_by_type_from_igbp(table: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """Forest area (ha) per forest type from a zonal class table (``class_1_ha`` … ``class_5_ha``)."""
    out = pd.DataFrame({id_column: table[id_column]})
    for code, ftype in IGBP_FOREST_TYPES.items():
        col = f"class_{code}_ha"
        out[ftype] = table[col].fillna(0.0) if col in table else 0.0
    return out


def forest_areas_by_type(table: pd.DataFrame, spec, id_column: str) -> pd.DataFrame:
    """Forest area (ha) per factor-table forest type, indexed by region id.

    Parameters
    ----------
    table : DataFrame
        A zonal table of the forest layer (one row per region).
    spec : LayerSpec
        The layer's spec: IGBP class layers give one column per IGBP forest type; a
        fraction layer with a threshold, or a layer with a ``forest_ha`` group, gives
        ``tree_cover``.
    id_column : str
        The region id column of ``table``.
    """
    if spec.name == "igbp":
        return forest_by_type_from_igbp(table, id_column).set_index(id_column)
    if spec.kind.value == "fraction" and spec.threshold is not None:
        col = f"{spec.name}_ge{spec.threshold:g}{spec.unit.slug}_ha"
    elif "forest_ha" in table.columns:
        col = "forest_ha"
    else:
        raise FactorError(f"Layer {spec.name!r} gives no forest area",
                          "a land-cover layer with a forest group or a cover layer with a threshold",
                          "use MODIS, Hansen treecover2000 or WorldCover")
    return pd.DataFrame({"tree_cover": table[col].fillna(0.0).to_numpy()}, index=table[id_column])


def forest_table(zonal: pd.DataFrame, by_type: pd.DataFrame, land_ha: pd.Series, id_column: str,
                 names: pd.Series | None = None) -> pd.DataFrame:
    """One row per region: land area, the forest area the sinks use, its share of land, and the
    layer's own zonal columns after them.

    Parameters
    ----------
    zonal : DataFrame
        The forest layer's zonal table.
    by_type : DataFrame
        :func:`forest_areas_by_type` of that table.
    land_ha : Series
        Region id → land area (ha).
    names : Series, optional
        Region id → Chinese name, placed after the id.
    """
    out = zonal.set_index(id_column).drop(columns=["forest_ha"], errors="ignore")
    forest_ha = by_type.sum(axis=1).reindex(out.index)
    land = land_ha.reindex(out.index).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(land > 0, forest_ha.to_numpy(dtype=float) / land, np.nan)
    out.insert(0, "forest_share_of_land", share)
    out.insert(0, "forest_ha", forest_ha.to_numpy(dtype=float))
    out.insert(0, "land_area_ha", land)
    if names is not None:
        out.insert(0, "name_zh", names.reindex(out.index).to_numpy())
    out.index.name = id_column
    return out
