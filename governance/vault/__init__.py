"""The vault domain. See docs/contracts.md for what other domains may call (`governance.vault.service`);
governance/composition.py wires it into the app (settings check, runtime, API, jobs, `keys` CLI, readiness)."""
