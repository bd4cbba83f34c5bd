"""WSGI entry point: `waitress-serve --call wsgi:create_app` or `flask --app atw serve`."""

from atw import create_app

app = create_app()
