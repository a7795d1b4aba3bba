"""Where a sign-in may send the browser afterwards: only to a path of this service.

`?next=` comes from the URL, so an attacker chooses it. Browsers repair what they are given before they follow a
`Location`: they drop tabs and newlines, read `\\` as `/`, and treat `//host` (or `/\\host`) as another site;
servers and proxies in between may decode `%2f` and `%5c`. A target is accepted only when neither its text nor
its percent-decoded text can be read as anything but an absolute path on this host; anything else falls back to
the default page. The answer is rebuilt from the parsed path and query, never echoed as given.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urljoin, urlsplit

__all__ = ["safe_next"]

# Printable ASCII that may appear in a path and query (RFC 3986 pchar, "/" and "?"), nothing else: no spaces,
# controls, backslashes, quotes, angle brackets, fragments or non-ASCII look-alikes of "/" and ".".
_ALLOWED = re.compile(r"^/[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$")
_DECODE_ROUNDS = 3  # decode repeatedly: %252f becomes %2f becomes /
_BASE = "https://service.invalid"  # stands for this service's own origin when resolving the target


def _plain_path(text: str) -> bool:
    """True when `text` reads as an absolute path on the same host, with no way to become another origin."""
    if not text.startswith("/") or text.startswith(("//", "/\\")):
        return False
    if "\\" in text or any(ord(ch) < 0x21 or ord(ch) > 0x7E for ch in text):
        return False
    parts = urlsplit(text)
    if parts.scheme or parts.netloc:
        return False
    resolved = urlsplit(urljoin(_BASE, text))
    return (resolved.scheme, resolved.netloc) == ("https", "service.invalid")


def safe_next(target: str | None, default: str) -> str:
    """`target` if it is a path of this service (after normalization and decoding), else `default`."""
    if not target or len(target) > 2000 or not _ALLOWED.match(target):
        return default
    text = target
    for _ in range(_DECODE_ROUNDS + 1):
        if not _plain_path(text):
            return default
        try:
            decoded = unquote(text, errors="strict")
        except UnicodeDecodeError:
            return default
        if decoded == text:
            break
        text = decoded
    else:
        return default  # still encoded after several rounds: nobody needs that in a sign-in redirect
    parts = urlsplit(target)
    return parts.path + (f"?{parts.query}" if parts.query else "")
