"""The offline gazetteer: countries decided by polygons near borders, names, forward lookup.

How the test positions were chosen and checked: each comes from a public source (the GeoNames
coordinates of the town, as shipped in the data, or a well-known landmark), and each was then
checked against the time-zone polygons themselves: `assert_inside` re-asks the gazetteer for a
ring of 16 points at the given distance around the position (half the largest distance found
clear), and every one must be in the same country. So a position is never within metres of a
border, and a data upgrade that moved a border near one of them fails loudly here instead of
silently flipping a test. Where a case
exists to defeat a nearest-city lookup, `nearest_anywhere` (plain haversine over every GeoNames
place, independent of the module's k-d trees) shows that the nearest city is in the other
country, so the test could not pass by accident."""

from __future__ import annotations

import math
import time
from importlib import metadata

import numpy as np
import pytest

from atw.core import gazetteer as gz
from atw.core.gazetteer.reverse import SHARED_ZONES, is_ocean_zone
from atw.core.gazetteer.sources import zone_countries

R_KM = 6371.0088


def nearest_anywhere(lat: float, lon: float) -> tuple[str, str]:
    """(name, country code) of the nearest GeoNames place in any country: the naive answer."""
    p = gz.gazetteer().places
    la1, lo1 = math.radians(lat), math.radians(lon)
    la2, lo2 = np.radians(p.lat), np.radians(p.lon)
    h = np.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
    i = int(np.argmin(h))
    return p.names[i], p.country_codes[i]


def ring(lat: float, lon: float, metres: float, n: int = 16) -> tuple[list[float], list[float]]:
    lats, lons = [], []
    for k in range(n):
        a = 2 * math.pi * k / n
        lats.append(lat + metres / 111_320 * math.cos(a))
        lons.append(lon + metres / (111_320 * math.cos(math.radians(lat))) * math.sin(a))
    return lats, lons


def assert_inside(lat: float, lon: float, metres: float, code: str) -> None:
    """Every point of a ring `metres` around the position is in country `code` too."""
    places = gz.reverse_many(*ring(lat, lon, metres))
    assert {p.country_code for p in places if p} == {code}, places


def where(lat: float, lon: float) -> gz.Place:
    place = gz.reverse(lat, lon)
    assert place is not None
    return place


# --- borders: the polygon decides, not the nearest city ------------------------------------


def test_montana_near_cardston_is_us():
    # 1.1 km south of the 49th parallel at the Carway–Piegan crossing (Glacier County, MT).
    lat, lon = 48.99, -113.35
    assert nearest_anywhere(lat, lon) == ("Cardston", "CA")
    p = where(lat, lon)
    assert (p.country_code, p.country, p.region) == ("US", "United States", "Montana")
    assert gz.lookup(p.name, country="US"), p.name  # named after a US place
    assert p.time_zone == "America/Denver"
    assert_inside(lat, lon, 400, "US")


def test_san_ysidro_us_side_is_us_and_named_after_a_us_place():
    # San Ysidro, San Diego: ~300 m north of the San Ysidro port of entry.
    lat, lon = 32.5445, -117.0300
    assert nearest_anywhere(lat, lon) == ("Tijuana", "MX")
    p = where(lat, lon)
    assert (p.country_code, p.region) == ("US", "California")
    assert p.name == "Imperial Beach" and 8 < p.distance_km < 10
    assert_inside(lat, lon, 100, "US")


def test_swiss_points_near_italy_are_ch():
    # Müstair (Val Müstair, Grisons), 2 km from Tubre/Taufers in South Tyrol.
    lat, lon = 46.6297, 10.4479
    assert nearest_anywhere(lat, lon) == ("Tubre", "IT")
    p = where(lat, lon)
    assert (p.country_code, p.country, p.region) == ("CH", "Switzerland", "Grisons")
    assert_inside(lat, lon, 400, "CH")
    # Campione d'Italia: an Italian enclave on Lake Lugano, surrounded by Switzerland.
    lat, lon = 45.96621, 8.97121
    p = where(lat, lon)
    assert (p.country_code, p.region, p.time_zone) == ("IT", "Lombardy", "Europe/Rome")
    assert_inside(lat, lon, 200, "IT")


def test_busingen_is_germany_and_schaffhausen_next_door_is_switzerland():
    lat, lon = 47.70172, 8.69724  # the middle of the German exclave
    p = where(lat, lon)
    assert (p.country_code, p.name, p.time_zone) == ("DE", "Büsingen", "Europe/Busingen")
    assert p.region == "Baden-Wurttemberg"
    assert_inside(lat, lon, 400, "DE")
    sh = where(47.69732, 8.63493)  # Schaffhausen (GeoNames), 4.7 km west
    assert (sh.country_code, sh.name) == ("CH", "Schaffhausen")


def test_baarle_enclaves():
    # H1, the main Belgian enclave (Baarle-Hertog town) inside the Netherlands.
    lat, lon = 51.43259, 4.93077
    assert nearest_anywhere(lat, lon)[1] == "NL"  # Baarle-Nassau's centre is closer
    p = where(lat, lon)
    assert (p.country_code, p.name, p.time_zone) == ("BE", "Baarle-Hertog", "Europe/Brussels")
    assert_inside(lat, lon, 100, "BE")
    # A Dutch counter-enclave inside H1 (a hole in the Belgian polygon).
    lat, lon = 51.43825, 4.92305
    p = where(lat, lon)
    assert (p.country_code, p.name) == ("NL", "Baarle-Nassau")
    assert_inside(lat, lon, 25, "NL")
    # Baarle-Nassau's own centre (GeoNames).
    assert where(51.4475, 4.92917).country_code == "NL"
    assert_inside(51.4475, 4.92917, 25, "NL")


def test_gibraltar_and_la_linea():
    p = where(36.1408, -5.3536)  # Gibraltar town
    assert (p.country_code, p.country, p.name) == ("GI", "Gibraltar", "Gibraltar")
    assert_inside(36.1408, -5.3536, 400, "GI")
    es = where(36.16809, -5.34777)  # La Línea de la Concepción (GeoNames), 3 km north
    assert (es.country_code, es.region) == ("ES", "Andalusia")


def test_fiji_on_both_sides_of_the_antimeridian():
    suva = where(-18.13683, 178.42531)  # 178° E
    tubou = where(-18.23652, -178.81232)  # Tubou, Lakeba (Lau group), 178° W
    assert (suva.country_code, suva.name, suva.time_zone) == ("FJ", "Suva", "Pacific/Fiji")
    assert (tubou.country_code, tubou.name, tubou.region) == ("FJ", "Tubou", "Eastern")
    assert where(-18.23652, 181.18768) == tubou  # the same meridian written past 180°
    assert_inside(-18.13683, 178.42531, 1600, "FJ")
    assert_inside(-18.23652, -178.81232, 1600, "FJ")


def test_svalbard_is_sj():
    p = where(78.22334, 15.64689)  # Longyearbyen
    assert (p.country_code, p.country, p.name) == ("SJ", "Svalbard and Jan Mayen", "Longyearbyen")
    assert p.time_zone == "Arctic/Longyearbyen"


def test_a_ship_in_mid_atlantic_is_at_sea():
    p = where(30.0, -40.0)
    assert p.at_sea
    assert (p.country_code, p.country, p.region, p.name) == (None, None, None, None)
    assert p.time_zone == "Etc/GMT+3"  # the nautical zone
    assert p.near == "Lajes das Flores, Portugal" and 1200 < p.distance_km < 1400
    assert p.label.startswith("at sea, 1317 km from Lajes das Flores")


def test_more_enclaves_and_small_states():
    cases = [
        ((42.46462, 1.9807), "ES", 400),  # Llívia, Spanish exclave in France
        ((48.98538, -123.07797), "US", 800),  # Point Roberts, WA
        ((41.90234, 12.45224), "VA", 100),  # Vatican City, by St Peter's
    ]
    for (lat, lon), code, metres in cases:
        assert where(lat, lon).country_code == code, (lat, lon)
        assert_inside(lat, lon, metres, code)
    assert nearest_anywhere(48.98538, -123.07797) == ("Point Roberts", "US")


def test_antarctica_south_of_60_is_aq_whatever_the_zone():
    mcmurdo = where(-77.85, 166.67)
    assert (mcmurdo.country_code, mcmurdo.country) == ("AQ", "Antarctica")
    peninsula = where(-64.8, -62.9)  # the polygons use Argentina's zone here
    assert peninsula.time_zone == "America/Argentina/Ushuaia"
    assert peninsula.country_code == "AQ" and peninsula.name is None
    assert peninsula.label == "Antarctica"


def test_zones_shared_by_two_countries_are_split_by_geonames():
    hanoi = where(21.0285, 105.8542)  # Hoàn Kiếm lake
    assert (hanoi.country_code, hanoi.time_zone) == ("VN", "Asia/Bangkok")
    assert where(13.7563, 100.5018).country_code == "TH"  # Bangkok
    pristina = where(42.6629, 21.1655)
    assert (pristina.country_code, pristina.country, pristina.name) == ("XK", "Kosovo", "Pristina")
    assert where(44.8125, 20.4612).country_code == "RS"  # Belgrade


def test_every_land_zone_has_a_country_and_no_other_zone_is_shared():
    """The polygon data against tzdata and GeoNames: each land zone maps to one country, and
    no zone outside SHARED_ZONES holds ≥ 5 GeoNames places of a second country."""
    rg = gz.gazetteer().reverse
    countries = zone_countries()
    land = [z for z in rg.zone_names if not is_ocean_zone(z) and z != "Etc/UTC"]
    assert len(land) > 400
    assert [z for z in land if z not in countries] == []
    shared = {}
    for zone, counts in rg.census().items():
        if zone in SHARED_ZONES:
            assert set(SHARED_ZONES[zone]) <= set(counts), (zone, counts)
            continue
        (_top, _n), *others = counts.most_common()
        if others and others[0][1] >= 5:
            shared[zone] = counts
    assert shared == {}


# --- names --------------------------------------------------------------------------------


def test_lisbon_and_sintra():
    sintra = where(38.7976, -9.3904)  # Sintra National Palace
    assert (sintra.country_code, sintra.region, sintra.name) == ("PT", "Lisbon", "Sintra")
    assert sintra.label == "Sintra, Portugal" and 0.5 < sintra.distance_km < 2
    comercio = where(38.7075, -9.1364)  # Praça do Comércio
    assert (comercio.country_code, comercio.region, comercio.time_zone) == (
        "PT",
        "Lisbon",
        "Europe/Lisbon",
    )
    first = gz.lookup("Lisbon")[0]
    assert (first.name, first.country_code, first.country) == ("Lisbon", "PT", "Portugal")
    assert first.population > 500_000
    assert abs(first.lat - 38.72) < 0.05 and abs(first.lon + 9.14) < 0.05
    assert gz.lookup("lisbon")[0] == first == gz.lookup("  LISBON ")[0]
    assert gz.lookup("Lisbon, Portugal") == [first]
    assert gz.lookup("sintra")[0].region == "Lisbon"


def test_paris_is_ambiguous_and_listed_by_population():
    found = gz.lookup("Paris")
    assert found[0].country_code == "FR" and found[0].country == "France"
    assert {"FR", "US", "CA"} <= {c.country_code for c in found}
    pops = [c.population for c in found]
    assert pops == sorted(pops, reverse=True)
    texas = gz.lookup("Paris, Texas")
    assert [(c.country_code, c.region) for c in texas] == [("US", "Texas")]
    assert [c.country_code for c in gz.lookup("paris, fr")] == ["FR"]
    assert [c.country_code for c in gz.lookup("Paris", country="Canada")] == ["CA"]
    with pytest.raises(ValueError, match="Narnia"):
        gz.lookup("Paris", country="Narnia")


def test_did_you_mean():
    assert gz.lookup("Lisbn") == []
    best = gz.suggest("Lisbn")[0]
    assert (best.name, best.country_code) == ("Lisbon", "PT")
    assert gz.suggest("Lisboa")[0].label == "Lisbon, Portugal"
    assert gz.suggest("Pariss")[0].label == "Paris, France"
    assert gz.suggest("qqqqqqqq") == []


def test_accents_and_case_are_ignored():
    assert gz.lookup("Zurich")[0].name == "Zürich"
    assert gz.lookup("sao paulo")[0].country_code == "BR"
    assert gz.lookup("BUSINGEN")[0].country_code == "DE"
    assert gz.lookup("baarle nassau")[0].name == "Baarle-Nassau"
    assert gz.complete("lisb")[0].label == "Lisbon, Portugal"


def test_countries_by_code_and_name():
    for text in ("pt", "PT", "Portugal", "portugal", " PORTUGAL ", "PRT"):
        assert gz.country(text) == gz.Country("PT", "Portugal"), text
    assert gz.country("UK").code == "GB"
    assert gz.country("Viet Nam") == gz.Country("VN", "Vietnam")
    assert gz.country("cote d'ivoire").code == "CI"
    assert gz.country("Narnia") is None and gz.country("") is None
    assert gz.suggest_countries("Portgual")[0].code == "PT"
    assert gz.country_name("sj") == "Svalbard and Jan Mayen"


# --- batch, cache, bad input, provenance --------------------------------------------------


def test_batch_matches_single_calls_and_skips_bad_positions():
    lats = [38.7976, 91.0, float("nan"), 38.7976, 30.0, 47.70172]
    lons = [-9.3904, 0.0, 0.0, -9.3904, -40.0, 8.69724]
    batch = gz.reverse_many(lats, lons)
    assert batch[1] is None and batch[2] is None
    assert batch[0] is batch[3]  # the repeated position is looked up once
    assert batch[0] == gz.reverse(38.7976, -9.3904)
    assert batch[4].at_sea and batch[5].country_code == "DE"
    assert gz.reverse(float("inf"), 0) is None
    with pytest.raises(ValueError):
        gz.reverse_many([1.0, 2.0], [1.0])


def test_version_names_the_packages_that_decide_a_place():
    v = gz.GAZETTEER_VERSION
    for dist in ("timezonefinder", "timezonefinder-data", "reverse_geocode", "tzdata", "pycountry"):
        assert f"{dist} {metadata.version(dist)}" in v
    assert v.startswith("atw-places/")


@pytest.fixture(scope="module")
def fresh() -> gz.Gazetteer:
    """A second gazetteer with an empty position cache (the shared one has answered before)."""
    g = gz.Gazetteer()
    g.load()
    return g


def jittered_places(n: int, seed: int) -> tuple[list[float], list[float]]:
    """n positions a few km from random GeoNames places: land, many near borders and coasts."""
    p = gz.gazetteer().places
    rng = np.random.default_rng(seed)
    i = rng.integers(0, len(p), n)
    return (p.lat[i] + rng.normal(0, 0.03, n)).tolist(), (
        p.lon[i] + rng.normal(0, 0.04, n)
    ).tolist()


def test_single_calls_and_batches_agree(fresh):
    lats, lons = jittered_places(3000, seed=1)
    batch = fresh.reverse.reverse_many(lats, lons)
    singles = [gz.reverse(a, b) for a, b in zip(lats, lons, strict=True)]
    assert batch == singles
    assert sum(p.at_sea for p in batch) < 300 and len({p.country_code for p in batch}) > 100


def test_places_stage_throughput_is_over_2000_per_second(fresh):
    lats, lons = jittered_places(10_000, seed=2)
    t0 = time.perf_counter()
    for s in range(0, len(lats), 500):
        fresh.reverse.reverse_many(lats[s : s + 500], lons[s : s + 500])
    rate = len(lats) / (time.perf_counter() - t0)
    assert rate >= 2000, f"{rate:.0f} positions/s"
