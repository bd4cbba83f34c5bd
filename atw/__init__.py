"""atw ("Around The World"): the Flask application factory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

from atw import config as cfg


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults → instance/config.py → ATW_* environment → test_config."""
    instance_path = os.environ.get("ATW_INSTANCE_PATH") or None
    if test_config and test_config.get("INSTANCE_PATH"):
        instance_path = test_config["INSTANCE_PATH"]
    if instance_path:
        instance_path = str(Path(instance_path).expanduser().resolve())
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    app.config.from_mapping(cfg.DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_mapping(cfg.from_environ(os.environ))
    if test_config:
        app.config.from_mapping(test_config)
    cfg.finish(app.config, app.instance_path)

    from atw import auth, cli, db, security, uploads, views

    db.init_app(app)
    security.init_app(app)  # first: Host allow-list, cross-site writes; CSP etc. on responses
    auth.init_app(app)  # wrong-key rate limit, API keys, then CSRFProtect (the JSON API is exempt)
    uploads.init_app(app)  # request size limit, prune-uploads, retention worker
    views.init_app(app)
    cli.init_app(app)
    return app
