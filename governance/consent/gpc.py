"""`GET /.well-known/gpc.json`: the Global Privacy Control support resource (W3C GPC, "GPC Support Resource").

The service honours the signal (docs/consent.md, "GPC"): `Sec-GPC: 1` on a consent write, `"gpc": true` in its
body (a product forwarding its visitor's signal) or a dashboard consent page opened with the header withdraws
every granted sale/sharing purpose (`consent.service.apply_gpc`). So the resource says `"gpc": true`.

`lastUpdate` is the date this statement of support last changed meaning, taken from the policy files instead of
written here: the newest `published` date among the notices of the sale/sharing purposes (what a GPC signal
opts out of), or of every notice when no purpose is a sale or sharing. Publishing a new notice version for such
a purpose moves the date; nothing else does.
"""

from __future__ import annotations

import datetime as dt

from flask import Response, jsonify
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field

from governance.access.decorators import public
from governance.consent import service
from governance.consent.policy import PurposeCatalog

bp = APIBlueprint(
    "gpc_wellknown",
    __name__,
    url_prefix="/.well-known",
    abp_tags=[Tag(name="standards", description="Standard endpoints: GPC, DRP, ISO/IEC TS 27560, AuthZEN")],
)


class GpcSupport(BaseModel):
    gpc: bool = Field(description="true: the server intends to abide by GPC requests")
    lastUpdate: str = Field(description="RFC 3339 full-date of the last change of this statement")


def last_update(catalog: PurposeCatalog) -> dt.date:
    """The newest notice publication date of the purposes a GPC signal concerns."""
    concerned = catalog.sale_or_sharing_purposes() or list(catalog)
    return max(notice.published for purpose in concerned for notice in purpose.notices)


@bp.get("/gpc.json", responses={200: GpcSupport})
@public("the GPC support resource is public by specification (W3C Global Privacy Control)")
def gpc_support() -> Response:
    body = GpcSupport(gpc=True, lastUpdate=last_update(service.purposes()).isoformat())
    response = jsonify(body.model_dump())
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
