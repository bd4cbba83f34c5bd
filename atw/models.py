"""The one schema of the index (SQLAlchemy 2.0 typed models) and engine setup."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from sqlalchemy.pool import NullPool


class Base(DeclarativeBase):
    pass


class Photo(Base):
    """One distinct image content, identified by the sha256 of its bytes."""

    __tablename__ = "photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    bytes: Mapped[int] = mapped_column(Integer)
    format: Mapped[str | None] = mapped_column(String(16))
    # Size as displayed, i.e. after the EXIF orientation is applied.
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    # EXIF orientation 1..8 as recorded; None when absent or invalid (displayed as 1).
    orientation: Mapped[int | None] = mapped_column(Integer)
    # Local wall-clock capture time as recorded (naive) and its UTC offset ("+02:00") if known.
    taken_at: Mapped[datetime | None] = mapped_column(DateTime)
    utc_offset: Mapped[str | None] = mapped_column(String(6))
    # True when taken_at comes from the file's modification time, not from EXIF.
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
        Index("ix_photo_taken_at", "taken_at", "id"),
        Index("ix_photo_lat_lon", "lat", "lon"),
    )


class PhotoPath(Base):
    """A place on disk where a photo was found, with the size and mtime seen there."""

    __tablename__ = "photo_path"

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photo.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    # The indexed root the path was found under.
    root: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    mtime_ns: Mapped[int] = mapped_column(Integer)
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
    path: Mapped[str] = mapped_column(Text, unique=True)
    root: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    mtime_ns: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    seen_at: Mapped[datetime] = mapped_column(DateTime)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("index_run.id"))


class Meta(Base):
    """Small key/value facts about the index (schema version)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


SCHEMA_VERSION = "1"


def make_engine(url: str) -> Engine:
    """An engine for the index; SQLite gets WAL, a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def create_schema(engine: Engine) -> None:
    """Create missing tables and record the schema version (idempotent)."""
    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        if session.get(Meta, "schema_version") is None:
            session.add(Meta(key="schema_version", value=SCHEMA_VERSION))
