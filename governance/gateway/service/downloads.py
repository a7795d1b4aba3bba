"""Download links: an expiring token per link (only its hash is stored), resolved to the release's file."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from pathlib import Path

from sqlalchemy.orm import Session

from governance import audit
from governance.access.principals import ActorRef, Principal
from governance.db import utcnow
from governance.gateway.errors import LinkExpiredError, ReleaseNotReadyError
from governance.gateway.models import DownloadLink, Release
from governance.gateway.policy import gateway_policy
from governance.gateway.service.releases import releases_dir


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii", "replace")).digest()


def create_download_link(session: Session, release: Release, *, actor: Principal) -> tuple[str, dt.datetime]:
    """A new expiring download token for a ready release (only its hash is stored); audited."""
    if release.status != "ready":
        raise ReleaseNotReadyError()
    token = secrets.token_urlsafe(32)
    expires = utcnow() + dt.timedelta(minutes=gateway_policy().release_download_ttl_minutes)
    session.add(DownloadLink(token_hash=_token_hash(token), release_id=release.id, expires_at=expires))
    audit.record(
        session,
        actor=actor,
        action="gateway.release.link_created",
        target=("release", release.id),
        details={"expires_in_minutes": gateway_policy().release_download_ttl_minutes},
    )
    return token, expires


def resolve_download(session: Session, release_id: uuid.UUID, token: str) -> tuple[Release, Path]:
    """The release and file a download token opens; raises `LinkExpiredError` for any bad or old token."""
    link = session.get(DownloadLink, _token_hash(token))
    if link is None or link.release_id != release_id or link.expires_at <= utcnow():
        raise LinkExpiredError()
    release = session.get(Release, release_id)
    if release is None or release.status != "ready" or not release.file_name:
        raise LinkExpiredError()
    path = releases_dir() / release.file_name
    if not path.is_file():
        raise LinkExpiredError()
    link.downloads += 1
    audit.record(
        session,
        actor=ActorRef("client", release.client_id),
        action="gateway.release.downloaded",
        target=("release", release.id),
        details={"bytes": release.bytes},
    )
    return release, path
