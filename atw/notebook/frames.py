"""Plain rows (atw.query.bulk) → pandas DataFrames with fixed dtypes, empty or not.

pandas is the `notebook` extra (`pip install 'atw[notebook]'`), imported here on first use only:
the web install neither needs nor loads it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from atw.query.bulk import Rows

if TYPE_CHECKING:  # for the type checker only: no pandas at import time
    import pandas as pd

INSTALL_HINT = "pip install 'atw[notebook]'"

# The dtype of each column a table can have; any other column is text ("str"). Local capture
# times are naive (the photo's wall clock), taken_at_utc is UTC-aware; nullable whole numbers
# use pandas' Int64.
DTYPES: dict[str, str] = {
    "id": "int64",
    "photo_id": "int64",
    "photos": "int64",
    "bytes": "int64",
    "boxes": "int64",
    "width": "Int64",
    "height": "Int64",
    "orientation": "Int64",
    "taken_at": "datetime64[us]",
    "taken_at_utc": "datetime64[us, UTC]",
    "period": "datetime64[us]",
    "time_estimated": "bool",
    "at_sea": "bool",
    "damaged": "bool",
    "missing": "bool",
    "lat": "float64",
    "lon": "float64",
    "altitude": "float64",
    "place_km": "float64",
    "top_score": "float64",
    "score": "float64",
    "x0": "float64",
    "y0": "float64",
    "x1": "float64",
    "y1": "float64",
    "distance_km": "float64",
}


def pandas() -> Any:
    """The pandas module, or an ImportError that says how to install it."""
    try:
        import pandas as pd
    except ImportError as exc:  # the web install: no pandas
        raise ImportError(
            f"the notebook API needs pandas: {INSTALL_HINT} (or pip install pandas)"
        ) from exc
    return pd


def column(name: str, values: Sequence[Any]) -> pd.Series:
    """One column with its dtype (DTYPES; else text); None becomes the dtype's missing value."""
    pd = pandas()
    dtype = DTYPES.get(name, "str")
    if dtype == "datetime64[us, UTC]":  # stored as naive UTC
        return pd.Series(values, dtype="datetime64[us]", name=name).dt.tz_localize("UTC")
    return pd.Series(values, dtype=dtype, name=name)


def frame(rows: Rows) -> pd.DataFrame:
    """A DataFrame of rows: one column per name, in order, with its dtype (also when empty)."""
    return table(rows.columns, rows.rows)


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> pd.DataFrame:
    """A DataFrame of tuples under these column names, each column with its dtype."""
    pd = pandas()
    data = list(zip(*rows, strict=True)) or [()] * len(columns)
    return pd.DataFrame(
        {name: column(name, values) for name, values in zip(columns, data, strict=True)}
    )


def add_distance(df: pd.DataFrame, lat: float, lon: float) -> pd.DataFrame:
    """df with distance_km: the great-circle distance from (lat, lon) to each photo (NaN
    without a position), on the sphere the radius filter uses (atw.core.geo, `haversine`)."""
    import numpy as np
    from haversine import Unit, haversine_vector

    distance = np.full(len(df), np.nan)
    where = df["lat"].notna().to_numpy() & df["lon"].notna().to_numpy()
    if where.any():
        points = np.column_stack([df["lat"].to_numpy()[where], df["lon"].to_numpy()[where]])
        centre = np.broadcast_to(np.array([[lat, lon]]), points.shape)
        distance[where] = haversine_vector(centre, points, Unit.KILOMETERS)
    df["distance_km"] = distance
    return df
