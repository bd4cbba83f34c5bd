"""Trips: the /trips page, GET /api/trips and GET /api/trips/<id> (with its path for the map)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, render_template, url_for

from atw.present.trip_words import trip_facts
from atw.query import trip_store
from atw.query.filters import FilterError
from atw.query.travel import Trip
from atw.query.trip_paths import trip_path
from atw.web import db

bp = Blueprint("trips", __name__)


def _trips() -> trip_store.TripSet:
    """The index's trips; a HOME that names no place is the server's error, said plainly."""
    try:
        return trip_store.current(db.session())
    except trip_store.HomeError as exc:
        abort(500, description=f"{exc} (README, Trips: how to set HOME)")


def _links(trip: Trip) -> dict[str, Any]:
    return {
        **trip.to_json(),
        "url": url_for("trips.api_trip", trip_id=trip.id),
        "photos_url": url_for("pages.home", trip=trip.id),
    }


@bp.get("/trips")
def page():  # type: ignore[no-untyped-def]
    found = _trips()
    trips = [(t, trip_facts(t)) for t in reversed(found.trips)]  # newest first
    return render_template("trips.html", found=found, trips=trips)


@bp.get("/api/trips")
def api_trips():  # type: ignore[no-untyped-def]
    """{home: {lat, lon, label, source, photos}, settings, trips: [trip, …] oldest first,
    computed_at, seconds (to compute them), photos (with a known capture time, considered)}."""
    found = _trips()
    return jsonify(
        home=found.home.__dict__ if found.home else None,
        settings=found.settings,
        trips=[_links(t) for t in found.trips],
        computed_at=found.computed_at,
        seconds=found.seconds,
        photos=found.photos,
    )


@bp.get("/api/trips/<trip_id>")
def api_trip(trip_id: str):  # type: ignore[no-untyped-def]
    """One trip with its path: the located photos in time order (atw.query.trip_paths)."""
    _trips()
    try:
        trip = trip_store.find(db.session(), trip_id)
    except FilterError as exc:
        abort(404, description=exc.message)
    return jsonify(**_links(trip), path=trip_path(db.session(), trip))
