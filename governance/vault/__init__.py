"""The vault domain. See docs/contracts.md for what other domains may call (`governance.vault.service`)."""

from flask import Flask

from governance.vault.runtime import EXTENSION, LazyRuntime, check_settings


def init_app(app: Flask) -> None:
    """Check the vault's settings and set up its runtime (key provider, blind-index key, category catalog;
    built on first use, or now in production), register the API, the job handlers, the `keys` CLI group and
    the readiness check."""
    from governance.cli import governance_cli
    from governance.health import add_ready_check
    from governance.vault import tasks
    from governance.vault.api import bp
    from governance.vault.cli import keys_cli
    from governance.vault.keyproviders import KeyProviderUnavailable

    settings = app.extensions["governance.settings"]
    check_settings(settings)  # a wrong setting stops start-up even where the keys are loaded later
    holder = LazyRuntime(app)
    if settings.is_production:
        # nothing can be generated in production: load every key now, so that a missing one stops start-up
        holder.get()
    app.extensions[EXTENSION] = holder
    app.register_api(bp)  # type: ignore[attr-defined]  # the app is a flask_openapi3.OpenAPI
    tasks.register_schedules()
    if keys_cli.name not in governance_cli.commands:
        governance_cli.add_command(keys_cli)

    def master_key_ready() -> tuple[bool, str]:
        try:
            provider = holder.get().provider  # the first probe builds the runtime (development keys included)
        except Exception:  # a ConfigError names paths and settings, never key material; the type is enough
            return False, "vault master key provider unavailable"
        name = provider.name
        try:
            provider.versions()
        except KeyProviderUnavailable as exc:  # an HSM: the reason is a fixed word (token_missing, pin_incorrect)
            return False, f"vault master key provider '{name}' unavailable ({exc.reason})"
        except Exception:  # the detail must not carry key material; the type is enough
            return False, "vault master key provider unavailable"
        return True, f"vault master key provider '{name}'"

    add_ready_check(app, "vault_master_key", master_key_ready)
