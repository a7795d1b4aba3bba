"""Import every domain's models so that `Base.metadata` knows all tables (Alembic, the drift test)."""

from __future__ import annotations

import importlib

DOMAINS = ("jobs", "audit", "outbox", "access", "vault", "consent", "requests", "gateway", "training", "web")


def import_all_models() -> None:
    for domain in DOMAINS:
        try:
            importlib.import_module(f"governance.{domain}.models")
        except ModuleNotFoundError as exc:
            if exc.name != f"governance.{domain}.models":
                raise
