"""The purpose catalog in force: loaded and validated once at start-up, read by every check and write."""

from __future__ import annotations

from pathlib import Path

from governance.consent.errors import UnknownPurposeError
from governance.consent.policy import Purpose, PurposeCatalog, load_catalog
from governance.core.runtime import Slot, runtime

# the app's purposes.yaml and notices (filled at start-up from the configured policies folder)
PURPOSE_CATALOG = Slot("consent.purposes", PurposeCatalog)


def load_purposes(policies_dir: Path) -> PurposeCatalog:
    """Load and validate `purposes.yaml` and the notices, and check the categories against the vault's catalog."""
    catalog = load_catalog(policies_dir / "purposes.yaml")
    categories = policies_dir / "categories.yaml"
    if categories.exists():
        catalog.check_categories_file(categories)
    return catalog


def purposes() -> PurposeCatalog:
    """The app's purpose catalog (from its configured policies folder); raises outside an app."""
    return runtime().get(PURPOSE_CATALOG)


def purpose(key: str) -> Purpose:
    """The purpose with `key`; raises UnknownPurposeError (422, listing the valid keys)."""
    catalog = purposes()
    found = catalog.get(key)
    if found is None:
        raise UnknownPurposeError(key, catalog.keys)
    return found
