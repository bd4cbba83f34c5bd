"""The one schema of the index: SQLAlchemy 2.0 typed models and the schema version."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from atw.core.dialect import BIG_INTEGER
from atw.core.fspath import FsPath


class Base(DeclarativeBase):
    pass


class Photo(Base):
    """One distinct image content, identified by the sha256 of its bytes."""

    __tablename__ = "photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    bytes: Mapped[int] = mapped_column(BIG_INTEGER)
    format: Mapped[str | None] = mapped_column(String(16))
    # Size as displayed, i.e. after the EXIF orientation is applied.
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    # EXIF orientation 1..8 as recorded; None when absent or invalid (displayed as 1).
    orientation: Mapped[int | None] = mapped_column(Integer)
    # Local wall-clock capture time as recorded (naive): what the photo's clock showed. Date
    # filters and "taken on" use it. From the photo's metadata (pipelines/capture.py says which
    # field wins), else the file's modification time in FILE_TIME_ZONE (time_estimated).
    taken_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The UTC offset of taken_at ("+02:00") if known; since revision 0002 the RESOLVED offset,
    # whichever step gave it (offset_source below), not only the EXIF tag's.
    utc_offset: Mapped[str | None] = mapped_column(String(6))
    # True when taken_at comes from the file's modification time, not from the metadata.
    time_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    altitude: Mapped[float | None] = mapped_column(Float)
    camera_make: Mapped[str | None] = mapped_column(String(128))
    camera_model: Mapped[str | None] = mapped_column(String(128))
    # A few more EXIF fields for the viewer, as JSON text (lens, exposure, ISO, …).
    exif_json: Mapped[str | None] = mapped_column(Text)
    # Where the photo came from: "scan" (an indexed folder) or "upload".
    source: Mapped[str] = mapped_column(String(16), default="scan")
    # The photo that a path held before its file was edited into this one.
    previous_version_id: Mapped[int | None] = mapped_column(ForeignKey("photo.id"))
    indexed_at: Mapped[datetime] = mapped_column(DateTime)
    first_run_id: Mapped[int | None] = mapped_column(ForeignKey("index_run.id"))
    # Added in schema 2 (query layer). True while at least one PhotoPath points here (older
    # versions of edited files have none and are not listed): replaces an EXISTS per row, so
    # listing queries are index range scans. Kept by pipelines/writer.py (Writer._photo).
    listed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Added in schema 2. The position as a unit vector (atw.core.geo.unit_vector): the exact
    # great-circle radius test is then plain arithmetic in SQL (no trigonometry functions).
    geo_x: Mapped[float | None] = mapped_column(Float)
    geo_y: Mapped[float | None] = mapped_column(Float)
    geo_z: Mapped[float | None] = mapped_column(Float)
    # Added in schema 3. The file is damaged (truncated or corrupt data): its pixels only partly
    # decode; the thumbnail shows what does, and damage_reason says why (atw.core.media).
    damaged: Mapped[bool] = mapped_column(Boolean, default=False)
    damage_reason: Mapped[str | None] = mapped_column(Text)

    # --- Revision 0002 (issue 13): the capture instant and the place ---------------------------
    # offset_source: where utc_offset came from (atw.core.localtime, tried in this order):
    #   "exif" written with the chosen date (EXIF OffsetTime…, or the zone designator of the
    #   XMP/IPTC/PNG value that gave it); "gps" local − GPS clock (UTC), to a quarter hour; "zone"
    #   the IANA zone at the position at that local time; "file" a time_estimated photo's
    #   FILE_TIME_ZONE offset; "none" no offset (taken_at is a wall-clock time only).
    # taken_at_utc = taken_at − utc_offset (naive UTC), None without an offset. sort_time: the
    # key of every time order = taken_at_utc, else taken_at; |sort_time − taken_at| ≤ 14 h
    # always (localtime.SORT_SLACK), so a local-date range [a, b) on taken_at lies inside
    # [a − 14 h, b + 14 h) on sort_time. All four by localtime.photo_time: at index time (writer),
    # again in the places stage once the zone is known.
    offset_source: Mapped[str] = mapped_column(String(8), default="none", server_default="none")
    taken_at_utc: Mapped[datetime | None] = mapped_column(DateTime)
    sort_time: Mapped[datetime | None] = mapped_column(DateTime)
    # Facts kept to resolve again without reading the file: the offset written with the chosen
    # date ("+HH:MM", not yet judged) and the GPS clock (EXIF GPSDateStamp + GPSTimeStamp, or
    # XMP exif:GPSTimeStamp) as naive UTC.
    exif_offset: Mapped[str | None] = mapped_column(String(6))
    gps_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The place (pipelines/places.py, StageDone "places"; None before it ran or without lat/lon).
    # time_zone: the IANA zone at the position ("Etc/GMT+3" at sea). On land: country_code ISO
    # 3166-1 alpha-2 (XK Kosovo) by polygons, its name derived (gazetteer.country_name);
    # place: nearest GeoNames populated place IN that country, place_km its distance, region
    # its first-level division. At sea: at_sea, no country/region/place; near: nearest populated
    # place on any coast ("Lajes das Flores, Portugal"), place_km its distance.
    time_zone: Mapped[str | None] = mapped_column(String(64))
    country_code: Mapped[str | None] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(128))
    place: Mapped[str | None] = mapped_column(String(128))
    place_km: Mapped[float | None] = mapped_column(Float)
    at_sea: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    near: Mapped[str | None] = mapped_column(String(200))

    paths: Mapped[list[PhotoPath]] = relationship(
        back_populates="photo", order_by="PhotoPath.path", foreign_keys="PhotoPath.photo_id"
    )
    labels: Mapped[list[Label]] = relationship(
        back_populates="photo", order_by="(Label.source, Label.score.desc())"
    )
    detections: Mapped[list[Detection]] = relationship(
        back_populates="photo", order_by="Detection.score.desc()"
    )

    __table_args__ = (
        # Revision 0004 (was ix_photo_taken_at): newest/oldest first by the instant, local dates
        # (a sort_time window, then taken_at: atw.query.conditions), estimated times excluded,
        # from this index alone (since 0008 with the place, so a date range's places are counted
        # from it). listed is not leading on purpose: with it first, SQLite would prefer this
        # index to the (lat, lon) range of a radius search or a folder's paths. Since 0009 with
        # the position, so a big place's newest photos are walked in it alone (atw.query.recent).
        Index(
            "ix_photo_sort_time",
            *("sort_time", "id", "listed", "time_estimated", "taken_at"),
            *("country_code", "region", "place"),
            *("lat", "lon", "geo_x", "geo_y", "geo_z"),
        ),
        # Schema 2 (replaces the plain (lat, lon) index): the radius search's bounding box is a
        # range on lat (lon checked in the index), and the exact test, the date range and the
        # listed flag are read from the index too (and, since revision 0004, the sort key;
        # since 0007 the place, so that the places within a radius are counted from it).
        Index(
            "ix_photo_lat_lon",
            *("lat", "lon", "geo_x", "geo_y", "geo_z", "listed", "taken_at", "id", "sort_time"),
            *("country_code", "region", "place"),
        ),
        # Schema 2: the camera filter, and the filter panel's list of cameras (one index
        # seek per distinct make/model instead of a scan of every photo).
        Index("ix_photo_camera", "camera_make", "camera_model"),
        # Schema 2: the few unlisted photos, so the unfiltered total is count(photo) minus
        # this (a b-tree count) instead of a scan of every row. Partial: never chosen for
        # queries on listed photos.
        Index(
            "ix_photo_unlisted",
            "listed",
            sqlite_where=text("listed = 0"),
            postgresql_where=text("listed = false"),
        ),
        # Schema 3: the few damaged photos, for the "needs attention" list.
        Index(
            "ix_photo_damaged",
            "damaged",
            sqlite_where=text("damaged = 1"),
            postgresql_where=text("damaged = true"),
        ),
        # Revision 0002: country / region / place filters and counts from this index alone;
        # with listed and time_estimated fixed a place's photos come in sort_time order.
        Index(
            "ix_photo_place",
            "country_code",
            "region",
            "place",
            "listed",
            "time_estimated",
            "sort_time",
            "id",
            "taken_at",
        ),
    )


class PhotoPath(Base):
    """A place on disk where a photo was found, with the size and mtime seen there."""

    __tablename__ = "photo_path"

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photo.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(FsPath, unique=True)
    # The indexed root the path was found under.
    root: Mapped[str] = mapped_column(FsPath)
    size: Mapped[int] = mapped_column(BIG_INTEGER)
    mtime_ns: Mapped[int] = mapped_column(BIG_INTEGER)
    first_seen: Mapped[datetime] = mapped_column(DateTime)
    # Set when a run of this root no longer finds the file; cleared when it comes back.
    missing_since: Mapped[datetime | None] = mapped_column(DateTime)

    photo: Mapped[Photo] = relationship(back_populates="paths", foreign_keys=[photo_id])


class Label(Base):
    """A classification of a whole photo (ImageNet class) with its score and provenance."""

    __tablename__ = "label"

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photo.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))  # "imagenet"
    label: Mapped[str] = mapped_column(String(128))
    score: Mapped[float] = mapped_column(Float)
    model: Mapped[str] = mapped_column(String(64))
    weights_id: Mapped[str] = mapped_column(String(64))
    # Copy of photo.taken_at so class + date filters are answered from one covering index.
    taken_at: Mapped[datetime | None] = mapped_column(DateTime)

    photo: Mapped[Photo] = relationship(back_populates="labels")

    __table_args__ = (
        Index("ix_label_photo", "photo_id"),
        Index("ix_label_label", "label", "taken_at", "score", "photo_id"),
    )


class Detection(Base):
    """A COCO object found in a photo, with its box normalised to the upright image (0..1)."""

    __tablename__ = "detection"

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photo.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    x0: Mapped[float] = mapped_column(Float)
    y0: Mapped[float] = mapped_column(Float)
    x1: Mapped[float] = mapped_column(Float)
    y1: Mapped[float] = mapped_column(Float)
    model: Mapped[str] = mapped_column(String(64))
    weights_id: Mapped[str] = mapped_column(String(64))
    taken_at: Mapped[datetime | None] = mapped_column(DateTime)

    photo: Mapped[Photo] = relationship(back_populates="detections")

    __table_args__ = (
        Index("ix_detection_photo", "photo_id"),
        Index("ix_detection_label", "label", "taken_at", "score", "photo_id"),
    )


class PhotoClass(Base):
    """Added in schema 2: one row per listed photo, labelling source and class, derived from its
    Label/Detection rows by atw.core.derived.class_rows (kept by pipelines/writer.py).

    Why: "class ≥ score", "all of these classes", "at least k objects" and counts become index
    range scans with one row per photo per class (Label/Detection can hold several per class).
    score is the best score of that class in the photo; s2…s5 the 2nd…5th best (COCO boxes;
    NULL when fewer), so "at least k boxes ≥ t" is s_k ≥ t for k ≤ 5; n counts the boxes."""

    __tablename__ = "photo_class"

    # The primary key is in this order on purpose: the table itself is then sorted by class and
    # photo id, so "all of these classes" merges id-ordered ranges (INTERSECT … ORDER BY id)
    # and checks a photo's other classes with one seek that also reads the scores.
    label: Mapped[str] = mapped_column(String(128), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), primary_key=True)  # "imagenet" | "coco"
    photo_id: Mapped[int] = mapped_column(
        ForeignKey("photo.id", ondelete="CASCADE"), primary_key=True
    )
    # Copy of photo.taken_at (which never changes): class + date from one index, newest first.
    taken_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Revision 0002: copy of photo.sort_time (it changes when the places stage finds the zone;
    # derived.set_sort_times keeps the copies in step). ix_photo_class_label is ordered by it.
    sort_time: Mapped[datetime | None] = mapped_column(DateTime)
    score: Mapped[float] = mapped_column(Float)
    s2: Mapped[float | None] = mapped_column(Float)
    s3: Mapped[float | None] = mapped_column(Float)
    s4: Mapped[float | None] = mapped_column(Float)
    s5: Mapped[float | None] = mapped_column(Float)
    n: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        # One class newest/oldest first by the instant, and class + dates (0004: sort_time).
        Index(
            "ix_photo_class_label",
            "label",
            "source",
            "sort_time",
            "photo_id",
            "score",
            "s2",
            "s3",
            "s4",
            "s5",
            "taken_at",
        ),
        # A photo's rows: replacing them when it is relabelled, class counts of a photo set.
        Index("ix_photo_class_photo", "photo_id"),
        # SQLite-specific table option (other databases ignore it): store the rows in the
        # primary key's b-tree, so a lookup by key reads the scores without a second seek.
        {"sqlite_with_rowid": False},
    )


class ClassCount(Base):
    """Added in schema 2: how many listed photos have a class with their best score in a
    0.01-wide bucket (bucket = ⌊score × 100⌋), kept at insert time by atw.core.derived.

    Why: the class picker's unfiltered counts at any threshold on the 0.01 grid are a sum over
    at most 100 small rows per class instead of a scan of millions of PhotoClass rows."""

    __tablename__ = "class_count"

    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    label: Mapped[str] = mapped_column(String(128), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    photos: Mapped[int] = mapped_column(Integer)


class StageDone(Base):
    """Which model last labelled a photo in a stage ("imagenet", "coco"), even with no result."""

    __tablename__ = "stage_done"

    photo_id: Mapped[int] = mapped_column(
        ForeignKey("photo.id", ondelete="CASCADE"), primary_key=True
    )
    stage: Mapped[str] = mapped_column(String(16), primary_key=True)
    model: Mapped[str] = mapped_column(String(64))
    weights_id: Mapped[str] = mapped_column(String(64))
    done_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (Index("ix_stage_done_stage", "stage", "model", "weights_id"),)


class IndexRun(Base):
    """One run of the indexer: what it was asked to do and what it found."""

    __tablename__ = "index_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    # running → completed | failed; a run left "running" by a killed process stays so.
    status: Mapped[str] = mapped_column(String(16), default="running")
    roots_json: Mapped[str] = mapped_column(Text)
    stages: Mapped[str] = mapped_column(String(256), default="")
    seen: Mapped[int] = mapped_column(Integer, default=0)
    indexed: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    new_paths: Mapped[int] = mapped_column(Integer, default=0)
    relabelled: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    missing: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class Quarantine(Base):
    """A file that could not be indexed, with a one-line reason; retried when it changes."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(FsPath, unique=True)
    root: Mapped[str] = mapped_column(FsPath)
    size: Mapped[int] = mapped_column(BIG_INTEGER)
    mtime_ns: Mapped[int] = mapped_column(BIG_INTEGER)
    reason: Mapped[str] = mapped_column(Text)
    seen_at: Mapped[datetime] = mapped_column(DateTime)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("index_run.id"))


class Meta(Base):
    """Small key/value facts about the index (schema version)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# --- Uploads (issue 6: the upload page and POST /api/classify?store=true) ---------------------
# A new table only (create_all adds it to existing indexes); no existing table changes.


class Upload(Base):
    """A photo received over HTTP: atw's own content-addressed copy under <instance>/uploads,
    where it stands in the background indexer, and when it was last uploaded (for retention).

    One row per content hash: uploading the same photo twice refreshes uploaded_at."""

    __tablename__ = "upload"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # <instance>/uploads/ab/<sha256>.<ext>: the indexed path (PhotoPath.path) of the copy.
    path: Mapped[str] = mapped_column(Text, unique=True)
    # The file name the client sent (display only; never used to build a path).
    name: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(16))
    bytes: Mapped[int] = mapped_column(BIG_INTEGER)
    # UTC, naive. uploaded_at is the latest upload of this content: retention counts from it.
    first_uploaded_at: Mapped[datetime] = mapped_column(DateTime)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    # queued → indexing → done | failed (message says why; a re-upload queues it again).
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    message: Mapped[str | None] = mapped_column(Text)
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("photo.id", ondelete="SET NULL"))


# --- end of uploads ------------------------------------------------------------------------


# meta.schema_version: frozen at 3, the last version before Alembic (2: Photo.listed/geo_*,
# PhotoClass, ClassCount; 3: Photo.damaged). Later changes are revisions in atw/core/migrations.
SCHEMA_VERSION = "3"
