"""The purpose catalog in force: loaded and validated once at start-up, read by every check and write."""

from __future__ import annotations

from pathlib import Path

from flask import current_app, has_app_context

from governance.consent.errors import UnknownPurposeError
from governance.consent.policy import Purpose, PurposeCatalog, load_catalog
from governance.settings import PROJECT_ROOT

CATALOG_EXTENSION = "governance.consent.catalog"

_default_catalog: PurposeCatalog | None = None


def load_purposes(policies_dir: Path) -> PurposeCatalog:
    """Load and validate `purposes.yaml` and the notices, and check the categories against the vault's catalog."""
    catalog = load_catalog(policies_dir / "purposes.yaml")
    categories = policies_dir / "categories.yaml"
    if categories.exists():
        catalog.check_categories_file(categories)
    return catalog


def purposes() -> PurposeCatalog:
    """The purpose catalog in force (the app's, else the repository's `policies/`)."""
    if has_app_context():
        catalog = current_app.extensions.get(CATALOG_EXTENSION)
        if catalog is not None:
            return catalog
    global _default_catalog
    if _default_catalog is None:
        _default_catalog = load_purposes(PROJECT_ROOT / "policies")
    return _default_catalog


def purpose(key: str) -> Purpose:
    """The purpose with `key`; raises UnknownPurposeError (422, listing the valid keys)."""
    catalog = purposes()
    found = catalog.get(key)
    if found is None:
        raise UnknownPurposeError(key, catalog.keys)
    return found
