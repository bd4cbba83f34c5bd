"""Trips in words for the Trips page: date spans, lengths, distances, countries and places."""

from __future__ import annotations

from datetime import date
from typing import Any

from atw.query.travel import MONTHS, Trip

MAX_PLACES_LISTED = 8


def day_span(start: date, end: date) -> str:
    """ "4 Oct 2014", "4–10 Oct 2014", "28 Sep – 3 Oct 2014", "30 Dec 2014 – 2 Jan 2015"."""
    if start == end:
        return f"{start.day} {MONTHS[start.month - 1]} {start.year}"
    tail = f"{end.day} {MONTHS[end.month - 1]} {end.year}"
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}–{tail}"
    if start.year == end.year:
        return f"{start.day} {MONTHS[start.month - 1]} – {tail}"
    return f"{start.day} {MONTHS[start.month - 1]} {start.year} – {tail}"


def distance(km: float) -> str:
    """ "0 km", "12.3 km", "1,234 km"."""
    return f"{km:.1f} km" if 0 < km < 100 else f"{km:,.0f} km"


def counted(items: list[dict[str, Any]], limit: int | None = None) -> str:
    """ "Tokyo (120), Kyoto (80) and 3 more"."""
    shown = items if limit is None else items[:limit]
    text = ", ".join(f"{i['name']} ({i['photos']:,})" for i in shown)
    more = len(items) - len(shown)
    return f"{text} and {more} more" if more else text


def trip_facts(trip: Trip) -> dict[str, str]:
    """What the Trips page shows of a trip besides its name and map."""
    days = "1 day" if trip.days == 1 else f"{trip.days} days"
    photos = "1 photo" if trip.photos == 1 else f"{trip.photos:,} photos"
    without = trip.photos - trip.located
    return {
        "dates": day_span(trip.first_day, trip.last_day),
        "days": days,
        "photos": photos,
        "without": f"{without:,} without a position" if without else "",
        "distance": distance(trip.km),
        "countries": counted(trip.countries),
        "places": counted(trip.places, MAX_PLACES_LISTED),
    }
