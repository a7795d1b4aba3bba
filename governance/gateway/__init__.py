"""The gateway domain. See docs/contracts.md for what other domains may call (`governance.gateway.service`)."""

from flask_openapi3 import OpenAPI


def init_app(app: OpenAPI) -> None:
    """Load and validate `policies/gateway.yaml` (a bad file stops start-up), register the API and job handlers."""
    from governance.core.runtime import runtime_of
    from governance.gateway import tasks
    from governance.gateway.api import bp
    from governance.gateway.policy import GATEWAY_POLICY, load_gateway_policy

    config = runtime_of(app)
    config.provide(GATEWAY_POLICY, load_gateway_policy(config.policies_dir / "gateway.yaml"))
    tasks.register_schedules()
    app.register_api(bp)
