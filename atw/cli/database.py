"""The `db` commands: upgrade the index's schema once, under the index lock; show and check it."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from atw.core import migrations
from atw.core.engine import derive_groups, make_engine
from atw.core.locks import IndexerBusy, index_lock

db_group = AppGroup(
    "db",
    help="The index's schema: upgrade it after installing a newer atw; show where it stands.",
)


@db_group.command("upgrade")
def upgrade_command() -> None:
    """Upgrade the index to this atw's schema (once; stop the web app first).

    Runs the migrations in atw/core/migrations under the index lock (an index run waits, or
    this waits for it), in one transaction: an interrupted upgrade leaves the index as it was.
    A database that does not exist yet is created."""
    config = current_app.config
    try:
        lock = index_lock(config["INSTANCE_PATH"], config["DATABASE_URL"])
    except IndexerBusy as exc:
        raise click.ClickException(f"{exc}, then run the upgrade") from None
    engine = make_engine(config["DATABASE_URL"])
    try:
        before = migrations.upgrade(engine, echo=click.echo)
        derive_groups(engine, echo=click.echo)  # class-group rows of a new vocabulary
    except migrations.SchemaOutdated as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
        lock.close()
    where = migrations.where(engine)
    if before.kind == "empty":
        click.echo(f"atw: created a new index {where} at revision {migrations.head()}")
    elif before.current:
        click.echo(f"atw: the index {where} is up to date (revision {migrations.head()})")


@db_group.command("current")
def current_command() -> None:
    """Show the index's schema revision and whether it is this atw's (head)."""
    engine = make_engine(current_app.config["DATABASE_URL"])
    try:
        st = migrations.state(engine)
    finally:
        engine.dispose()
    click.echo(f"{migrations.where(engine)}: {st.describe()}")


@db_group.command("check")
def check_command() -> None:
    """Exit with an error unless the index is at head and matches the models exactly."""
    engine = make_engine(current_app.config["DATABASE_URL"])
    try:
        st = migrations.state(engine)
        if not st.current:
            raise click.ClickException(st.refusal(migrations.where(engine)))
        with engine.connect() as conn:
            diffs = migrations.differences(conn)
    finally:
        engine.dispose()
    if diffs:
        lines = "\n".join(f"  {d}" for d in diffs)
        raise click.ClickException(f"the index differs from the models:\n{lines}")
    click.echo(f"{migrations.where(engine)}: {st.describe()}; it matches the models")


@db_group.command("revision")
@click.option("-m", "--message", required=True, help="What the revision changes.")
@click.option(
    "--autogenerate/--empty",
    default=True,
    show_default=True,
    help="Write the operations that bring the revisions so far to the models (review them).",
)
def revision_command(message: str, autogenerate: bool) -> None:
    """For developers: write a new revision after the head into atw/core/migrations/versions
    (docs/architecture.md, "Migrations")."""
    path = migrations.new_revision(message, autogenerate)
    click.echo(f"wrote {path}: review it, then run the tests (tests/test_migrations.py)")
