"""The training domain. See docs/contracts.md for what other domains may call (`governance.training.service`).

Nothing here imports torch, opacus, scikit-learn or diffprivlib: they load inside the job that trains.
"""

from flask_openapi3 import OpenAPI


def init_app(app: OpenAPI) -> None:
    """Load policies/training.yaml (a bad file stops start-up), register the API and the job handlers."""
    # deferred: importing the package (say, for its models) must not load its routes and job handlers
    from governance.core.runtime import runtime_of
    from governance.training import tasks
    from governance.training.api import bp
    from governance.training.policy import TRAINING_POLICY, load_policy

    config = runtime_of(app)
    settings = config.settings
    config.provide(TRAINING_POLICY, load_policy(config.policies_dir))
    app.register_api(bp)
    tasks.register_schedules(
        reconcile_seconds=max(1, settings.get_int("TRAINING_RECONCILE_SECONDS", 300)),
        flags_seconds=max(1, settings.get_int("TRAINING_FLAGS_SECONDS", 3600)),
    )
