"""The consent domain. See docs/contracts.md for what other domains may call; governance/composition.py wires it
into the app (purposes, APIs, jobs, `consent` CLI)."""
