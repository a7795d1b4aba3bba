"""The vault domain. See docs/contracts.md for what other domains may call (`governance.vault.service`)."""

from flask import Flask

from governance.vault.runtime import EXTENSION, build_runtime


def init_app(app: Flask) -> None:
    """Build the vault's runtime (key provider, blind-index key, category catalog), register the API, the job
    handlers, the `keys` CLI group and the readiness check."""
    from governance.cli import governance_cli
    from governance.health import add_ready_check
    from governance.vault import tasks
    from governance.vault.api import bp
    from governance.vault.cli import keys_cli
    from governance.vault.keyproviders import KeyProviderUnavailable

    runtime = build_runtime(app)
    app.extensions[EXTENSION] = runtime
    app.register_api(bp)  # type: ignore[attr-defined]  # the app is a flask_openapi3.OpenAPI
    tasks.register_schedules()
    if keys_cli.name not in governance_cli.commands:
        governance_cli.add_command(keys_cli)

    def master_key_ready() -> tuple[bool, str]:
        name = runtime.provider.name
        try:
            runtime.provider.versions()
        except KeyProviderUnavailable as exc:  # an HSM: the reason is a fixed word (token_missing, pin_incorrect)
            return False, f"vault master key provider '{name}' unavailable ({exc.reason})"
        except Exception:  # the detail must not carry key material; the type is enough
            return False, "vault master key provider unavailable"
        return True, f"vault master key provider '{name}'"

    add_ready_check(app, "vault_master_key", master_key_ready)
