"""The end-user privacy dashboard (/me): what we hold, consent, requests, and how the data is used.

Routes parse, authorize (the `@requires` declaration; the resource is always the session's own subject or one of
its requests), call the other domains' services and render. URLs and titles hold no personal data: pages live
at fixed paths, and the only ids in URLs are request, receipt and purpose ids.

Every page is a route of the `web` blueprint (endpoints `web.dashboard*`); importing this package registers them.
The modules: `subject` (whose data: the routes' resources), `layout` (the chrome every page shares, and the one page
an erased person sees), `your_data` (/me), `consents` (/me/consent), `receipts` (receipts and notices), `requests`
(/me/requests), `downloads`, `erasure` (confirming it, and /me after it), `certificates`, `usage` (/me/usage),
`who_accessed` (/me/access) and `language` (the switcher).
"""

from governance.web.dashboard import (  # noqa: F401 - importing registers the routes
    certificates,
    consents,
    downloads,
    erasure,
    language,
    receipts,
    requests,
    usage,
    who_accessed,
    your_data,
)
from governance.web.dashboard.layout import dashboard_chrome

__all__ = ["dashboard_chrome"]
