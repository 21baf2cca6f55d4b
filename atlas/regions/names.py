"""Resolve what an analyst types to pilots and provinces: ids, Chinese, English or pinyin names.

``三明``, ``三明市``, ``Sanming``, ``sanming``, ``Sānmíng`` and ``p3-16`` all name pilot P3-16;
``广东``, ``广东省``, ``Guangdong``, ``粤``, ``440000`` and ``44`` all name the province 广东省. Case,
spaces, hyphens, apostrophes and tone marks are ignored, and the administrative generic (省, 市,
自治区 …, ``Province``, ``City`` …) may be given or left out. A name that fits no row, or several,
is one :class:`~atlas.errors.RegistryError` naming the close matches.

The pilots' names come from ``geodata/pilots.csv``; the provinces' from ``geodata/provinces.csv``
(see ``geodata/PROVINCES.md``).
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from atlas.errors import RegistryError
from atlas.paths import geodata_dir

PROVINCES_CSV = "provinces.csv"
_PROVINCE_COLUMNS = ["adcode", "name_zh", "short_zh", "name_en", "pinyin", "other_names"]

#: Chinese administrative generics, longest first (ethnic qualifiers of autonomous units included).
_ZH_GENERICS = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "黎族苗族自治县", "土家族自治县",
                "自治区", "自治州", "自治县", "地区", "省", "市", "县", "区")
#: English generics as :func:`normalize` leaves them, longest first.
_EN_GENERICS = ("specialadministrativeregion", "autonomousregion", "autonomouscounty", "municipality",
                "prefecture", "province", "district", "county", "city", "sar")
_DROPPED = re.compile(r"[\s\-_'’‘`·.,]+")
_COMPOUND = re.compile(r"^.+?[市师](.+[市区县])$")  # a unit named with its parent prefix
_PILOT_ID = re.compile(r"^p(\d)-?(\d{1,2})$")


def normalize(text: object) -> str:
    """Compare form of a name: NFKD without combining marks (tones), case-folded, no spaces or punctuation.

    >>> normalize("Sānmíng"), normalize("Huai'an"), normalize(" Inner  Mongolia ")
    ('sanming', 'huaian', 'innermongolia')
    """
    decomposed = unicodedata.normalize("NFKD", str(text))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _DROPPED.sub("", bare.casefold())


def _strip_generic(key: str, generics: Sequence[str]) -> str:
    for suffix in generics:
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)]
    return key


def _is_han(key: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in key)


def name_forms(name: object) -> set[str]:
    """Every compare form of one name: as given, without a parenthetical, without its generic."""
    key = normalize(name)
    if not key:
        return set()
    forms = {key}
    bare = normalize(re.sub(r"\s*[(（][^)）]*[)）]", "", str(name)))
    if bare:
        forms.add(bare)
    for form in list(forms):
        forms.add(_strip_generic(form, _ZH_GENERICS if _is_han(form) else _EN_GENERICS))
    return {f for f in forms if f}


def _pilot_id_key(text: str) -> str | None:
    """``P3-16`` for ``p3-16``, ``P316`` or ``p3-16 `` (None if it does not look like an id)."""
    m = _PILOT_ID.match(normalize(text).replace("_", ""))
    return f"P{m[1]}-{int(m[2]):02d}" if m else None


def _pilot_label(row: pd.Series) -> str:
    parts = [str(row["pilot_id"])] + [str(row[c]) for c in ("name_zh", "name_en") if c in row and row[c]]
    return " ".join(parts)


@functools.lru_cache(maxsize=8)
def _pilot_index_cached(rows: tuple[tuple[str, ...], ...]) -> dict[str, frozenset[str]]:
    index: dict[str, set[str]] = {}
    for pid, name_zh, name_en, pinyin in rows:
        forms = {normalize(pid)} | name_forms(name_zh) | name_forms(name_en) | name_forms(pinyin)
        # compound names keep their last unit too: 普洱市思茅区 -> 思茅区, 第一师阿拉尔市 -> 阿拉尔市
        m = _COMPOUND.match(str(name_zh))
        if m:
            forms |= name_forms(m[1])
        for form in forms:
            index.setdefault(form, set()).add(pid)
    return {k: frozenset(v) for k, v in index.items()}


def pilot_index(pilots: pd.DataFrame) -> dict[str, frozenset[str]]:
    """Compare form -> pilot ids, from a frame with ``pilot_id`` and (if present) the name columns."""
    cols = [c for c in ("name_zh", "name_en", "pinyin") if c in pilots.columns]
    table = pilots[["pilot_id", *cols]].astype(str).reindex(columns=["pilot_id", "name_zh", "name_en", "pinyin"],
                                                            fill_value="")
    return _pilot_index_cached(tuple(map(tuple, table.itertuples(index=False, name=None))))


def _close(key: str, index: dict[str, frozenset[str]], n: int = 4) -> list[str]:
    keys = difflib.get_close_matches(key, list(index), n=n * 3, cutoff=0.75)
    ids: list[str] = []
    for k in keys:
        for pid in sorted(index[k]):
            if pid not in ids:
                ids.append(pid)
    return ids[:n]


def resolve_pilots(pilots: pd.DataFrame, queries: Iterable[object]) -> list[str]:
    """Pilot ids named by ``queries`` (ids or names), in order, without repeats.

    Parameters
    ----------
    pilots : pandas.DataFrame
        The pilot table (or a boundary frame with its columns).
    queries : iterable
        Ids (``P3-16``, ``p3-16``) or Chinese, English or pinyin names.

    Raises
    ------
    RegistryError
        One error for every query that names no pilot or several, with close matches.
    """
    index = pilot_index(pilots)
    labels = {row["pilot_id"]: _pilot_label(row) for _, row in pilots.iterrows()}
    found: list[str] = []
    problems: list[str] = []
    close: list[str] = []
    for query in queries:
        text = str(query).strip()
        pid = _pilot_id_key(text)
        hits = {pid} if pid in labels else set()
        if not hits:
            for form in sorted(name_forms(text), key=len, reverse=True):  # exact form first, then shorter
                hits = set(index.get(form, ()))
                if hits:
                    break
        if len(hits) == 1:
            found.extend(h for h in hits if h not in found)
        elif hits:
            problems.append(f"{text!r} names several pilots")
            close += [h for h in sorted(hits) if h not in close]
        else:
            problems.append(f"{text!r} is not a pilot id or name")
            close += [c for c in _close(normalize(text), index) if c not in close]
    if problems:
        near = "; ".join(labels[c] for c in close)
        raise RegistryError("; ".join(problems),
                            "a pilot id (P3-16) or a pilot's Chinese (三明 / 三明市), English (Sanming) or pinyin "
                            "name (sanming)",
                            (f"did you mean {near}? " if near else "") + "`atlas regions` lists all 87 pilots")
    return found


# --------------------------------------------------------------------------- provinces


@functools.lru_cache(maxsize=4)
def _load_provinces(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise RegistryError(f"Province table {path} is missing", f"{PROVINCES_CSV} in {path.parent}",
                            "restore geodata/ from the repository")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [c for c in _PROVINCE_COLUMNS if c not in frame.columns]
    if missing:
        raise RegistryError(f"{path} lacks columns {missing}", f"columns {_PROVINCE_COLUMNS}",
                            "compare the header with geodata/PROVINCES.md")
    frame["adcode"] = frame["adcode"].astype(int)
    return frame


def load_provinces_table(folder: str | Path | None = None) -> pd.DataFrame:
    """The 34 province-level units with their names (``geodata/provinces.csv``), read once per folder."""
    folder = Path(folder) if folder is not None else geodata_dir()
    return _load_provinces(folder / PROVINCES_CSV).copy()


def province_label(adcode: int, provinces: pd.DataFrame | None = None) -> str:
    """``广东省 Guangdong`` for 440000 (the code itself when it is not a province's)."""
    provinces = load_provinces_table() if provinces is None else provinces
    row = provinces[provinces["adcode"] == int(adcode)]
    return f"{row['name_zh'].iloc[0]} {row['name_en'].iloc[0]}" if len(row) else str(adcode)


def province_index(provinces: pd.DataFrame) -> dict[str, frozenset[int]]:
    """Compare form -> province adcodes."""
    index: dict[str, set[int]] = {}
    for row in provinces.itertuples(index=False):
        names = [row.name_zh, row.short_zh, row.name_en, row.pinyin, *str(row.other_names).split(";")]
        for form in set().union(*(name_forms(n) for n in names if n)):
            index.setdefault(form, set()).add(int(row.adcode))
    return {k: frozenset(v) for k, v in index.items()}


def resolve_province(value: object, provinces: pd.DataFrame | None = None) -> int:
    """Six-digit adcode of the province-level unit named by ``value``.

    Parameters
    ----------
    value : str or int
        Adcode (``440000`` or ``44``), Chinese name (``广东省``, ``广东``, ``粤``), English
        (``Guangdong``, ``Inner Mongolia``, ``Tibet``, ``Hong Kong``) or pinyin (``xizang``).
    provinces : pandas.DataFrame, optional
        :func:`load_provinces_table` (read from ``geodata/`` when omitted).

    Raises
    ------
    RegistryError
        The value names no province-level unit, or several.
    """
    provinces = load_provinces_table() if provinces is None else provinces
    codes = set(provinces["adcode"])
    names = dict(zip(provinces["adcode"], provinces["name_zh"] + " " + provinces["name_en"]))
    text = str(value).strip()
    expected = ("a province-level unit as adcode (440000 or 44), Chinese name (广东省 or 广东), English "
                "(Guangdong, Inner Mongolia, Tibet, Hong Kong) or pinyin (guangdong)")
    if text.isdigit():
        code = int(text) * 10000 if len(text) <= 2 else int(text)
        if code in codes:
            return code
        parent = code // 10000 * 10000
        where = f" (it lies in {names[parent]}, {parent})" if len(text) == 6 and parent in codes else ""
        raise RegistryError(f"{text} is not a province adcode{where}", expected,
                            "give the province's code, e.g. 440000 or 44 for 广东省")
    index = province_index(provinces)
    hits: set[int] = set()
    for form in sorted(name_forms(text), key=len, reverse=True):
        hits = set(index.get(form, ()))
        if hits:
            break
    if len(hits) == 1:
        return hits.pop()
    if hits:
        raise RegistryError(f"{text!r} names several provinces ({'; '.join(names[c] for c in sorted(hits))})",
                            expected, "use the adcode")
    close = difflib.get_close_matches(normalize(text), list(index), n=8, cutoff=0.75)
    near = list(dict.fromkeys(names[c] for k in close for c in sorted(index[k])))[:4]
    fix = f"did you mean {' or '.join(near)}?" if near else "geodata/provinces.csv lists the accepted names"
    raise RegistryError(f"{text!r} is not a province-level unit of China", expected, fix)
