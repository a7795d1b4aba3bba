"""The staff console (/console) for auditors, the DPO and admins.

Every page declares its action; sections of a page that need another permission are shown only when the
policy allows it (`chrome.may`). Pages show ids and counts, never decrypted personal data. One module per
section, all on the `web` blueprint (endpoints `web.console_…`); importing this package registers them.
"""

from __future__ import annotations

from governance.web.console import (  # noqa: F401 - importing a section registers its routes
    admin,
    audit_log,
    budgets,
    consent_statistics,
    overview,
    policies,
    records_of_processing,
    releases,
    requests_casework,
    requests_queue,
)
from governance.web.console.chrome import console_chrome

__all__ = ["console_chrome"]
