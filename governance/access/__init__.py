"""The access domain. See docs/contracts.md for what other domains may call."""

from flask_openapi3 import OpenAPI


def init_app(app: OpenAPI) -> None:
    """Load and validate the policy files (a broken file stops start-up), register the blueprint, the OAuth2
    server, rate limits, the housekeeping job and CLI commands."""
    from governance.access import credentials, sso, sso_pages, tasks
    from governance.access.api import bp
    from governance.access.api_v1 import bp as api_bp
    from governance.access.cli import register
    from governance.access.oauth import init_server
    from governance.access.policy import PolicyEngine
    from governance.access.ratelimit import init_limiter
    from governance.access.service import POLICY_ENGINE
    from governance.cli import governance_cli
    from governance.core.runtime import runtime_of

    del sso_pages  # imported for its routes on the access blueprint

    settings = app.extensions["governance.settings"]
    runtime_of(app).provide(POLICY_ENGINE, PolicyEngine.from_directory(settings.policies_dir))
    policy = sso.load_policy(settings)  # a bad policies/sso.yaml stops start-up, like a bad Cedar file
    app.extensions[sso.EXTENSION_KEY] = sso.SsoClient(policy) if policy is not None else None
    if policy is not None:
        # Sign-out is a form post that ends at the provider (RP-initiated logout): the CSP must allow it.
        app.extensions["governance.csp.form_action_origins"] = (sso.origin(policy.issuer),)
    if settings.env == "test":
        credentials.use_cheap_hashing_for_tests()
    app.register_blueprint(bp)
    app.register_api(api_bp)
    app.extensions["governance.access.oauth"] = init_server(app)
    app.extensions["governance.access.limiter"] = init_limiter(app)
    tasks.register_schedules()
    if "staff" not in governance_cli.commands:
        register(governance_cli)
