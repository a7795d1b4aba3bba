"""The gateway domain. See docs/contracts.md for what other domains may call (`governance.gateway.service`);
governance/composition.py wires it into the app (`policies/gateway.yaml`, API, jobs)."""
