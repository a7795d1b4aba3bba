"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi governance ...`."""

from governance import create_app

app = create_app()
