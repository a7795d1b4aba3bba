"""The consent domain. See docs/contracts.md for what other domains may call."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this domain's blueprint, CLI commands, job handlers and policy files with the app."""
