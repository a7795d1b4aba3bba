"""The audit domain: an append-only, tamper-evident log written by every domain through `record`."""

from flask import Flask

from governance.audit.service import record

__all__ = ["init_app", "record"]


def init_app(app: Flask) -> None:
    """Register this domain's blueprint, CLI commands, job handlers and policy files with the app."""
