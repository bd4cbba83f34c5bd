"""The Flask application factory: defaults → instance/config.py → ATW_* environment → test dict."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Config, Flask, current_app

from atw.core import settings as cfg
from atw.web import apikeys, db, errors, security, views

MIB = 1024 * 1024
# The app is named after the package: templates and static files stay in atw/templates and
# atw/static, beside the layers, where the design card puts them.
IMPORT_NAME = "atw"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the web app (atw.create_app adds the command line to it)."""
    instance_path = os.environ.get("ATW_INSTANCE_PATH") or None
    if test_config and test_config.get("INSTANCE_PATH"):
        instance_path = test_config["INSTANCE_PATH"]
    if instance_path:
        instance_path = str(Path(instance_path).expanduser().resolve())
    else:
        instance_path = default_instance_path()
    app = Flask(IMPORT_NAME, instance_path=instance_path, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    app.config.from_mapping(cfg.DEFAULTS)
    _declared_layers(app)
    if test_config:
        app.config.from_mapping(test_config)
    cfg.finish(app.config, app.instance_path)

    db.init_app(app)
    security.init_app(app)  # first: Host allow-list, cross-site writes; CSP etc. on responses
    apikeys.init_app(app)  # wrong-key rate limit, API keys, then CSRF (the JSON API is exempt)
    _uploads(app)  # request size limit, retention worker
    views.init_app(app)
    errors.init_app(app)
    return app


def _declared_layers(app: Flask) -> None:
    """instance/config.py, then the ATW_* environment, each checked against the declared
    settings (atw.core.settings): a malformed value stops start-up naming it and why."""
    from_file = Config(app.config.root_path)
    from_file.from_pyfile("config.py", silent=True)
    try:
        path = str(Path(app.config.root_path) / "config.py")
        file_values = cfg.check_file(from_file, path, passthrough=app.default_config)
        env_values = cfg.from_environ(os.environ)
    except cfg.SettingsError as exc:
        raise SystemExit(f"atw: malformed settings:\n{exc}") from None
    app.config.update(file_values)
    app.config.update(env_values)


def default_instance_path() -> str | None:
    """Where the instance folder is when ATW_INSTANCE_PATH is not set. In a source checkout
    (pyproject.toml beside the atw package; an editable install too): None, Flask's default,
    <checkout>/instance. Installed from a wheel: ./instance in the current folder (Flask's
    default would be <venv>/var/atw-instance, which is lost with the virtualenv)."""
    if (Path(__file__).resolve().parents[2] / "pyproject.toml").is_file():
        return None
    return str(Path.cwd() / "instance")


def _uploads(app: Flask) -> None:
    """Derive the request size limit, and start the background upload worker on the first
    request when retention is on (so the daily prune runs without uploads)."""
    if not app.config.get("MAX_CONTENT_LENGTH"):
        app.config["MAX_CONTENT_LENGTH"] = (
            int(app.config["UPLOAD_MAX_BYTES"]) * int(app.config["UPLOAD_MAX_FILES"]) + MIB
        )
    if float(app.config.get("UPLOAD_RETENTION_DAYS") or 0) > 0:
        started: list[bool] = []

        @app.before_request
        def _start_retention() -> None:
            if not started:
                from atw.services import upload_worker

                upload_worker.worker_for(current_app.config)
                started.append(True)
