"""The `web` blueprint: the end-user dashboard (/me), the staff console (/console) and static files."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint

STATIC_DIR = Path(__file__).resolve().parent / "static"

bp = Blueprint("web", __name__, static_folder=str(STATIC_DIR), static_url_path="/assets/web")
