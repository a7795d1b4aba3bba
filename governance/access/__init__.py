"""The access domain: authentication, Cedar authorization, staff accounts, OAuth2 clients and tokens, sign-in
pages. See docs/contracts.md for what other domains may call; governance/composition.py wires it into the app."""
