"""Forward lookup: a place name → GeoNames candidates, prefix completion and "did you mean"."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from .countries import CountryIndex
from .sources import PlaceTable
from .text import fold

# Fuzzy suggestions: the least similarity (0–100, rapidfuzz ratio) worth offering, and how many
# near-misses are re-ranked by population before the best are returned.
SUGGEST_CUTOFF = 75.0
_SUGGEST_POOL = 40
# Suggestions look among the names of towns of this size first (≈ 1/5 of the names, so ≈ 5×
# faster), and among every name only when none of those is close enough.
_SUGGEST_TOWN = 10_000


@dataclass(frozen=True, slots=True)
class Candidate:
    """One populated place from GeoNames, as a forward lookup lists it."""

    name: str
    country_code: str
    country: str | None
    region: str | None
    population: int
    lat: float
    lon: float

    @property
    def label(self) -> str:
        """ "Lisbon, Portugal" (the region is left to callers that need to tell twins apart)."""
        return ", ".join(p for p in (self.name, self.country or self.country_code) if p)


def population_bonus(population: int) -> float:
    """Extra fuzzy score for size (≈ 12 points for a city of a million, 6 for a village of
    1000), so "Lisbn" suggests Lisbon before an equally close hamlet."""
    return 2.0 * math.log10(1 + max(0, population))


class PlaceIndex:
    """Every GeoNames place by its folded name, most populous first. Built once (≈ 0.5 s)."""

    def __init__(self, places: PlaceTable, countries: CountryIndex) -> None:
        self._p = places
        self._countries = countries
        buckets: dict[str, list[int]] = {}
        for i, name in enumerate(places.names):
            buckets.setdefault(fold(name), []).append(i)
        pop = places.population.tolist()
        self._by_key: dict[str, list[int]] = {
            k: sorted(v, key=lambda i: -pop[i]) if len(v) > 1 else v
            for k, v in buckets.items()
            if k
        }
        self._keys = sorted(self._by_key)
        self._top_pop = [pop[self._by_key[k][0]] for k in self._keys]
        self._towns = [j for j, n in enumerate(self._top_pop) if n >= _SUGGEST_TOWN]
        self._town_keys = [self._keys[j] for j in self._towns]

    def candidate(self, i: int) -> Candidate:
        p = self._p
        code = p.country_codes[i]
        return Candidate(
            p.names[i],
            code,
            self._countries.name(code),
            p.regions[i],
            int(p.population[i]),
            float(p.lat[i]),
            float(p.lon[i]),
        )

    def lookup(self, query: str, country: str | None = None, limit: int = 20) -> list[Candidate]:
        """Places named `query`, case- and accent-insensitive, most populous first.

        The query may carry qualifiers after commas: "Paris, France", "Paris, FR",
        "Portland, Oregon", "Paris, Texas, US". The last qualifier is a country when it names
        one, any other is a region (matched on its start). `country` (a code or a name) filters
        too; an unknown `country` raises ValueError. No match gives []."""
        parts = [s.strip() for s in (query or "").split(",") if s.strip()]
        if not parts:
            return []
        key, quals = fold(parts[0]), parts[1:]
        codes: set[str] = set()
        if country:
            c = self._countries.get(country)
            if c is None:
                raise ValueError(f"no country named {country!r}")
            codes.add(c.code)
        if quals:
            c = self._countries.get(quals[-1])
            if c is not None:
                if codes and c.code not in codes:
                    return []
                codes, quals = {c.code}, quals[:-1]
        regions = [fold(q) for q in quals]
        out: list[Candidate] = []
        for i in self._by_key.get(key, ()):
            if codes and self._p.country_codes[i] not in codes:
                continue
            if regions and not all(fold(self._p.regions[i] or "").startswith(r) for r in regions):
                continue
            out.append(self.candidate(i))
            if len(out) == limit:
                break
        return out

    def complete(self, prefix: str, limit: int = 10) -> list[Candidate]:
        """Places whose name starts with `prefix` (folded), the most populous of each name first,
        names ordered by their largest place: for a search box as the user types."""
        key = fold(prefix or "")
        if not key:
            return []
        lo = bisect.bisect_left(self._keys, key)
        hi = bisect.bisect_left(self._keys, key + "\uffff")
        ranked = sorted(range(lo, hi), key=lambda j: -self._top_pop[j])
        out: list[Candidate] = []
        for j in ranked:
            for i in self._by_key[self._keys[j]]:
                out.append(self.candidate(i))
                if len(out) == limit:
                    return out
        return out

    def suggest(self, query: str, limit: int = 5) -> list[Candidate]:
        """Near-miss names for a query that matched nothing ("Lisbn" → Lisbon, Portugal): the
        most populous place of each similar name, by similarity plus a population bonus."""
        from rapidfuzz import fuzz, process

        key = fold((query or "").split(",")[0])
        if not key:
            return []
        found: list[tuple[int, float]] = []
        for keys, where in ((self._town_keys, self._towns), (self._keys, None)):
            hits = process.extract(
                key, keys, scorer=fuzz.ratio, limit=_SUGGEST_POOL, score_cutoff=SUGGEST_CUTOFF
            )
            found = [(at if where is None else where[at], score) for _k, score, at in hits]
            if found:
                break
        found.sort(key=lambda f: -(f[1] + population_bonus(self._top_pop[f[0]])))
        return [self.candidate(self._by_key[self._keys[j]][0]) for j, _s in found[:limit]]
