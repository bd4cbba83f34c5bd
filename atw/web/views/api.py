"""The read-only JSON API: /api/photos (filtered), /api/classes (+ /<name>), /api/places,
/api/geocode, /api/photos/<id>, attention."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request, url_for

from atw.query import (
    catalog,
    filters,
    place_counts,
    placenames,
    records,
    search,
    trip_store,
    unlabelled,
)
from atw.web import db

bp = Blueprint("api", __name__, url_prefix="/api")


class BadParam(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name, self.message = name, message


@bp.errorhandler(BadParam)
def _bad_param(exc: BadParam):  # type: ignore[no-untyped-def]
    return jsonify(error="Bad Request", parameter=exc.name, message=exc.message, status=400), 400


@bp.errorhandler(filters.FilterError)
def _bad_filter(exc: filters.FilterError):  # type: ignore[no-untyped-def]
    response, status = _bad_param(BadParam(exc.param, exc.message))
    if exc.suggestions:  # an unknown class word: the close names (or the categories)
        response = jsonify({**response.get_json(), "suggestions": list(exc.suggestions)})
    return response, status


def int_arg(name: str, default: int, lo: int, hi: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParam(name, f"{name} must be a whole number, got {raw!r}") from None
    if value < lo or (hi is not None and value > hi):
        top = f" and {hi}" if hi is not None else ""
        raise BadParam(name, f"{name} must be between {lo}{top}, got {value}")
    return value


def with_urls(rec: dict[str, Any]) -> dict[str, Any]:
    rec["thumbnail_url"] = url_for("media.thumbnail", photo_id=rec["id"])
    return rec


@bp.get("/photos")
def photos():  # type: ignore[no-untyped-def]
    """One page of the photos matching the filter parameters (atw.query.filters.parse)."""
    flt = filters.parse(request.args)
    per_page = int_arg(
        "per_page", current_app.config["PER_PAGE"], 1, current_app.config["MAX_PER_PAGE"]
    )
    page = int_arg("page", 1, 1)
    session = db.session()
    result = search.search(session, flt, page, per_page)
    recs = records.photo_records(session, result.ids, result.distances)
    return jsonify(
        total=result.total,
        page=page,
        per_page=per_page,
        description=filters.describe(flt, trip_name=trip_store.name_of(session, flt.trip)),
        # listed photos without labels yet (atw.query.unlabelled): class filters miss them
        unlabelled=unlabelled.count(session, unlabelled.stages_of(current_app.config["LABELERS"])),
        photos=[with_urls(r) for r in recs],
    )


@bp.get("/classes")
def classes():  # type: ignore[no-untyped-def]
    """Classes, WordNet groups and categories within the filtered photos, most photos first
    (atw.query.catalog): {kind: class|group|category, key, label (the word for a filter),
    name, members (member classes), photos}; class rows also have source (one per source).
    ?kind= keeps one kind. With ?q= (the autocomplete): the entries whose name or a synonym
    starts with q (or has a word that does; a class label containing it), at most ?limit=
    (12), one per member set, with their sources."""
    session, flt = db.session(), filters.parse(request.args)
    typed = request.args.get("q")
    if typed is not None:
        return jsonify(catalog.complete(session, flt, typed, int_arg("limit", 12, 1, 100)))
    kind = request.args.get("kind") or None
    if kind is not None and kind not in catalog.KINDS:
        raise BadParam("kind", f"kind must be one of {', '.join(catalog.KINDS)}, got {kind!r}")
    return jsonify(catalog.listing(session, flt, kind))


@bp.get("/classes/<path:name>")
def class_detail(name: str):  # type: ignore[no-untyped-def]
    """One class, group or category (a word or a key): its member classes, parents and
    children (counted within the filtered photos, for drill-down), and the word's other
    senses. 404 with suggestions for a word the vocabulary does not know."""
    found = catalog.detail(db.session(), filters.parse(request.args), name)
    if found is None:
        message = f"no class, group or category called {name!r}"
        close = catalog.suggestions(name)
        return jsonify(error="Not Found", message=message, suggestions=close, status=404), 404
    return jsonify(found)


@bp.get("/map")
def map_points():  # type: ignore[no-untyped-def]
    """{"points": [[id, lat, lon, date], …], "truncated"}: where the filtered photos are."""
    limit = int_arg("limit", 5000, 1, 20000)
    return jsonify(search.map_points(db.session(), filters.parse(request.args), limit))


@bp.get("/places")
def places():  # type: ignore[no-untyped-def]
    """Countries, regions and populated places of the filtered photos with their photo counts
    (atw.query.place_counts), at most ?limit= (1000) of each. With ?q= and ?kind=country|region|
    place (the filter panel's autocomplete): the entries of that kind containing q, best first,
    at most ?limit= (12), each with `value`, the text that selects it."""
    session, flt = db.session(), filters.parse(request.args)
    typed = request.args.get("q")
    if typed is not None:
        kind = request.args.get("kind") or "place"
        if kind not in place_counts.KINDS:
            raise BadParam("kind", f"kind must be one of {', '.join(place_counts.KINDS)}")
        limit = int_arg("limit", 12, 1, 100)
        return jsonify(place_counts.complete(session, flt, kind, typed, limit))
    return jsonify(place_counts.place_counts(session, flt, int_arg("limit", 1000, 1, 100_000)))


@bp.get("/geocode")
def geocode():  # type: ignore[no-untyped-def]
    """Places named ?q= in the offline gazetteer (GeoNames), most populous first, for the map's
    place box: [{name, country_code, country, region, population, lat, lon, label}], at most
    ?limit= (10). "Paris" lists every Paris; "Paris, Texas" or "Paris, US" narrow it; a name
    that no place has exactly is completed from its start ("Lisb")."""
    typed = (request.args.get("q") or "").strip()
    if not typed:
        raise BadParam("q", "q (a place name) is required, e.g. q=Lisbon")
    if len(typed) > 200:
        raise BadParam("q", "q is longer than 200 characters")
    return jsonify(placenames.geocode(typed, int_arg("limit", 10, 1, 50)))


@bp.get("/photos/<int:photo_id>")
def photo(photo_id: int):  # type: ignore[no-untyped-def]
    rec = records.photo_record(db.session(), photo_id)
    if rec is None:
        abort(404, description=f"no photo with id {photo_id}")
    return jsonify(with_urls(rec))


@bp.get("/quarantine")
def quarantine():  # type: ignore[no-untyped-def]
    return jsonify(records.quarantine(db.session()))


@bp.get("/attention")
def attention():  # type: ignore[no-untyped-def]
    """{"damaged": [photo…], "quarantined": [file…]}: what needs the user's attention."""
    found = records.attention(db.session())
    for rec in found["damaged"]:
        with_urls(rec)
        rec["url"] = url_for("pages.photo", photo_id=rec["id"])
    return jsonify(found)
