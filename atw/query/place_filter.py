"""The filter's places: country, region and place names → the stored values they select (through
the offline gazetteer), unknown names refused with suggestions, their SQL and their words.

The stored place columns (atw.core.schema.Photo: country_code, region, place) hold the
gazetteer's own strings, so once the gazetteer has read a name it is matched exactly:
- country: ISO codes or names, one or several ("pt", "Portugal", "PT,ES") → country_code IN …;
- region: a first-level division ("Lisbon", "California"; "Georgia, US" picks one country) →
  every (country, region) pair of that name, case and accents ignored;
- place: a populated place as the forward lookup reads it ("Lisbon", "Paris, Texas") → every
  (country, region, place) of that name, and for a town the places that belong to it (Lisbon's
  Intendente: atw.query.placenames, the rule captions use): one seek each in ix_photo_place.
A name the gazetteer does not know is a FilterError naming the field, with "did you mean"
suggestions; a known name where no photo was taken selects nothing (it is not an error)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache

from sqlalchemy import ColumnElement, and_, or_

from atw.core import gazetteer
from atw.core.gazetteer import fold
from atw.core.schema import Photo
from atw.query import placenames
from atw.query.rules import FilterError

MAX_COUNTRIES = 50  # countries in one filter
MAX_NAME = 200  # characters of a region or place name
# Places of one name a filter selects at most ("San José": dozens; none has more than this).
MAX_PLACES = 1000
SUGGESTIONS = 3


# --- names → stored values ------------------------------------------------------------------


def country_codes(values: Iterable[str]) -> tuple[str, ...]:
    """ISO alpha-2 codes of countries given by code or name (each item may hold several,
    comma-separated), in the order given, without repeats. FilterError("country") names the
    first one the gazetteer does not know, with close names."""
    codes: dict[str, None] = {}
    for value in values:
        for text in (t.strip() for t in str(value).split(",")):
            if not text:
                continue
            found = gazetteer.country(text)
            if found is None:
                close = tuple(c.name for c in gazetteer.suggest_countries(text, SUGGESTIONS))
                _refuse("country", "country", text, close)
            codes[found.code] = None
    if len(codes) > MAX_COUNTRIES:
        raise FilterError("country", f"country: at most {MAX_COUNTRIES} countries")
    return tuple(codes)


def region_pairs(region: str) -> tuple[tuple[str, str], ...]:
    """The stored (country_code, region) pairs a region name selects; () if none is known.
    "Georgia, US" / "Georgia, United States" keeps the one in that country."""
    name, codes = _split_country(region)
    pairs = _regions().get(fold(name), ())
    return tuple(p for p in pairs if not codes or p[0] in codes)


def place_triples(place: str) -> tuple[tuple[str, str | None, str], ...]:
    """The stored (country_code, region, place) of every populated place of that name (with
    the forward lookup's qualifiers: "Paris, Texas", "Lisbon, PT"); () if none."""
    try:
        found = gazetteer.lookup(place, limit=MAX_PLACES)
    except ValueError:
        return ()
    return tuple(dict.fromkeys((c.country_code, c.region, c.name) for c in found))


def place_keys(place: str) -> tuple[tuple[str, str | None, str], ...]:
    """What a place name selects: the places of that name and the places belonging to each
    that is a town (placenames.parts_of), as stored (country_code, region, place)."""
    keys: dict[tuple[str, str | None, str], None] = {}
    for key in place_triples(place):
        keys[key] = None
        keys.update(dict.fromkeys(placenames.parts_of(key)))
    return tuple(keys)


def check(flt: object) -> None:
    """Refuse (FilterError naming the field, with suggestions) a region or place name the
    gazetteer does not know. Countries were read into codes already (country_codes)."""
    region, place = getattr(flt, "region", None), getattr(flt, "place", None)
    for param, value in (("region", region), ("place", place)):
        if value is not None and len(value) > MAX_NAME:
            raise FilterError(param, f"{param} is longer than {MAX_NAME} characters")
    if region is not None and not region_pairs(region):
        _refuse("region", "region", region, _suggest_regions(region))
    if place is not None and not place_triples(place):
        close = tuple(dict.fromkeys(c.name for c in gazetteer.suggest(place, SUGGESTIONS)))
        _refuse("place", "place", place, close)


def _refuse(param: str, what: str, text: str, close: tuple[str, ...]) -> None:
    """ "no place named 'Lisbn' — did you mean Lisbon?" as a FilterError on `param`."""
    hint = ""
    if close:
        names = close[0] if len(close) == 1 else ", ".join(close[:-1]) + " or " + close[-1]
        hint = f" — did you mean {names}?"
    reason = f"no {what} named {text!r}{hint}"
    raise FilterError(param, f"{param}: {reason}", reason, close)


def _split_country(text: str) -> tuple[str, set[str]]:
    """ "Georgia, US" → ("Georgia", {"US"}); a last part that names no country stays."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if len(parts) > 1:
        found = gazetteer.country(parts[-1])
        if found is not None:
            return ", ".join(parts[:-1]), {found.code}
    return text.strip(), set()


@lru_cache(maxsize=1)
def _regions() -> dict[str, tuple[tuple[str, str], ...]]:
    """folded region name → the (country_code, region) pairs spelt so, from the gazetteer's
    places (the regions a photo can be given)."""
    table = gazetteer.gazetteer().places
    found: dict[str, dict[tuple[str, str], None]] = defaultdict(dict)
    for code, region in zip(table.country_codes, table.regions, strict=True):
        if region:
            found[fold(region)][(code, region)] = None
    return {k: tuple(v) for k, v in found.items()}


def _suggest_regions(text: str) -> tuple[str, ...]:
    """Region names close to a misspelt one, most places first."""
    from rapidfuzz import fuzz, process

    name, _codes = _split_country(text)
    regions = _regions()
    hits = process.extract(fold(name), list(regions), scorer=fuzz.ratio, limit=SUGGESTIONS)
    return tuple(dict.fromkeys(regions[k][0][1] for k, score, _i in hits if score >= 75))


# --- SQL ------------------------------------------------------------------------------------


def conditions(flt: object) -> list[ColumnElement[bool]]:
    """The photo conditions of the filter's country, region and place (each ANDed)."""
    out: list[ColumnElement[bool]] = []
    codes = getattr(flt, "country", ())
    if codes:
        out.append(Photo.country_code.in_(codes))
    region = getattr(flt, "region", None)
    if region is not None:
        out.append(_any_of(region_pairs(region)))
    place = getattr(flt, "place", None)
    if place is not None:
        out.append(_any_of(place_keys(place)))
    return out


def _any_of(keys: Iterable[tuple[str, ...]]) -> ColumnElement[bool]:
    """OR of (country_code, region[, place]) = key, grouped by (country, region) so each group
    is one seek in ix_photo_place with an IN list of places."""
    groups: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    for key in keys:
        code, region = key[0], key[1]
        items = groups[(code, region)]
        if len(key) > 2:
            items.append(key[2])  # type: ignore[misc]
    conds = []
    for (code, region), names in groups.items():
        here = [
            Photo.country_code == code,
            Photo.region.is_(None) if region is None else Photo.region == region,
        ]
        if names:
            here.append(Photo.place == names[0] if len(names) == 1 else Photo.place.in_(names))
        conds.append(and_(*here))
    return or_(*conds) if conds else Photo.id.is_(None)  # nothing (ids are never NULL)


# --- words ----------------------------------------------------------------------------------


def words(flt: object) -> str | None:
    """ "in Sintra, Lisbon (region), Portugal or Spain"; None without a place condition."""
    pieces = []
    place = getattr(flt, "place", None)
    if place is not None:
        names = {name for _c, _r, name in place_triples(place)}
        pieces.append(
            names.pop() if len(names) == 1 and "," not in place else " ".join(place.split())
        )
    region = getattr(flt, "region", None)
    if region is not None:
        found_regions = {r for _c, r in region_pairs(region)}
        pieces.append(f"{found_regions.pop() if len(found_regions) == 1 else region} (region)")
    codes = getattr(flt, "country", ())
    if codes:
        names_ = [gazetteer.country_name(c) or c for c in codes]
        pieces.append(
            names_[0] if len(names_) == 1 else ", ".join(names_[:-1]) + " or " + names_[-1]
        )
    return "in " + ", ".join(pieces) if pieces else None
