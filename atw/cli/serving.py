"""The `serve` command: the dashboard under waitress, with the bound host trusted."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from atw.web import db, security


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@with_appcontext
def serve_command(host: str, port: int, threads: int) -> None:
    """Serve the dashboard with waitress (a production WSGI server)."""
    from waitress import serve

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    db.engine()  # an outdated index: refuse now, naming `flask --app atw db upgrade`
    trusted = app.extensions[security.HOSTS_KEY]
    if not security.trust_host(app, host) and "*" not in trusted:
        click.echo(
            f"atw: answering to the host names {', '.join(sorted(trusted))} only; add the names "
            "other machines use to TRUSTED_HOSTS (ATW_TRUSTED_HOSTS=name1,name2)"
        )
    click.echo(f"atw: serving on http://{host}:{port}/ (Ctrl+C to stop)")
    serve(app, host=host, port=port, threads=threads)
