"""The requests domain. See docs/contracts.md for what other domains may call; governance/composition.py wires it
into the app (policy files, APIs, the Data Rights Protocol, jobs, the overdue gauge)."""
