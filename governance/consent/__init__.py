"""The consent domain. See docs/contracts.md for what other domains may call."""

from flask_openapi3 import OpenAPI


def init_app(app: OpenAPI) -> None:
    """Load and validate the purposes (a bad policy file stops start-up), register the API, the jobs and the
    `consent` CLI group."""
    from governance.cli import governance_cli
    from governance.consent import tasks
    from governance.consent.api import bp, public_bp
    from governance.consent.cli import consent_cli
    from governance.consent.gpc import bp as gpc_bp
    from governance.consent.iso27560 import bp as iso27560_bp
    from governance.consent.service import PURPOSE_CATALOG, load_purposes
    from governance.core.runtime import runtime_of

    config = runtime_of(app)
    config.provide(PURPOSE_CATALOG, load_purposes(config.policies_dir))
    tasks.register_schedules()
    app.register_api(bp)
    app.register_api(public_bp)
    app.register_api(gpc_bp)
    app.register_api(iso27560_bp)
    if consent_cli.name not in governance_cli.commands:
        governance_cli.add_command(consent_cli)
