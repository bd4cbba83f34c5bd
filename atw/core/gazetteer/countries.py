"""Countries by code or name: ISO 3166 alpha-2 codes, English names, aliases, suggestions."""

from __future__ import annotations

from dataclasses import dataclass

from .sources import tzdata_country_names
from .text import fold

# Display names where the ISO short name is an inverted or official form a traveller would not
# write ("Korea, Republic of"); pycountry's `common_name` already covers Bolivia, Iran, Laos, …
DISPLAY_NAMES = {
    "BN": "Brunei",
    "CD": "Democratic Republic of the Congo",
    "FK": "Falkland Islands",
    "FM": "Micronesia",
    "MF": "Saint Martin",
    "PS": "Palestine",
    "RU": "Russia",
    "SH": "Saint Helena",
    "SX": "Sint Maarten",
    "VA": "Vatican City",
    "VG": "British Virgin Islands",
    "VI": "U.S. Virgin Islands",
    # Not in ISO 3166 (a user-assigned code), but GeoNames files Kosovo's places under XK.
    "XK": "Kosovo",
}

# Other names people use, folded on load. Codes and ISO/tzdata names need no entry here.
ALIASES = {
    "america": "US",
    "usa": "US",
    "u s a": "US",
    "united states of america": "US",
    "uk": "GB",
    "u k": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "holland": "NL",
    "the netherlands": "NL",
    "burma": "MM",
    "ivory coast": "CI",
    "turkey": "TR",
    "czech republic": "CZ",
    "swaziland": "SZ",
    "macedonia": "MK",
    "east timor": "TL",
    "cape verde": "CV",
    "vatican": "VA",
    "holy see": "VA",
    "drc": "CD",
    "congo kinshasa": "CD",
    "congo brazzaville": "CG",
    "south korea": "KR",
    "north korea": "KP",
    "korea": "KR",
    "russia": "RU",
    "palestinian territory": "PS",
    "west bank": "PS",
    "gaza": "PS",
    "kosovo": "XK",
    "svalbard": "SJ",
}


# The least similarity (rapidfuzz ratio, 0–100) for a country suggestion ("Portgual" scores 88).
SUGGEST_CUTOFF = 70.0


@dataclass(frozen=True, slots=True)
class Country:
    """One country or territory: ISO alpha-2 code (upper case) and English display name."""

    code: str
    name: str


class CountryIndex:
    """Resolves "pt", "PT", "PRT", "Portugal", "portugal" → PT; suggests names for unknown input."""

    def __init__(self) -> None:
        import pycountry  # imported here: a process that never resolves countries never loads it

        tz_names = tzdata_country_names()
        self._names: dict[str, str] = {}
        keys: dict[str, str] = {}
        for c in pycountry.countries:
            code = c.alpha_2
            name = DISPLAY_NAMES.get(code) or getattr(c, "common_name", None) or c.name
            self._names[code] = name
            for alias in (
                c.alpha_3,
                c.name,
                getattr(c, "common_name", None),
                getattr(c, "official_name", None),
                tz_names.get(code),
                name,
            ):
                if alias:
                    keys.setdefault(fold(alias), code)
        self._names["XK"] = DISPLAY_NAMES["XK"]
        keys.setdefault("xkx", "XK")
        keys.setdefault("kosovo", "XK")
        for alias, code in ALIASES.items():
            keys.setdefault(fold(alias), code)
        self._keys = keys
        self._choices = list(keys)

    def name(self, code: str | None) -> str | None:
        """The English display name of an alpha-2 code (None for None or an unknown code)."""
        return self._names.get(code.upper()) if code else None

    def get(self, text: str | None) -> Country | None:
        """The country a code, alpha-3 code, name or alias names; None when nothing matches.

        Two letters are read as an alpha-2 code first, so "pt" is Portugal."""
        if not text or not text.strip():
            return None
        raw = text.strip()
        if len(raw) == 2 and raw.isascii() and raw.isalpha() and raw.upper() in self._names:
            code = raw.upper()
            return Country(code, self._names[code])
        code = self._keys.get(fold(raw))
        return Country(code, self._names[code]) if code else None

    def suggest(self, text: str, limit: int = 3) -> list[Country]:
        """The closest country names to a misspelt one ("Portgual" → Portugal), best first."""
        from rapidfuzz import fuzz, process

        key = fold(text or "")
        if not key:
            return []
        found = process.extract(
            key, self._choices, scorer=fuzz.ratio, limit=limit * 4, score_cutoff=SUGGEST_CUTOFF
        )
        out: list[Country] = []
        for alias, _score, _i in found:
            code = self._keys[alias]
            if all(c.code != code for c in out):
                out.append(Country(code, self._names[code]))
            if len(out) == limit:
                break
        return out

    def all(self) -> list[Country]:
        """Every known country, sorted by display name."""
        return sorted((Country(c, n) for c, n in self._names.items()), key=lambda c: fold(c.name))
