"""Standard endpoints that other systems call at fixed paths (docs/standards.md): OpenID AuthZEN evaluation.

A domain above access, consent and requests: it answers in the standards' shapes by calling those domains'
service functions (docs/contracts.md) and owns no data of its own.
"""

from flask_openapi3 import OpenAPI


def init_app(app: OpenAPI) -> None:
    from governance.standards.authzen import bp, metadata_bp

    app.register_api(bp)
    app.register_api(metadata_bp)
