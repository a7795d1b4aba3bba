"""Standard endpoints that other systems call at fixed paths (docs/standards.md): OpenID AuthZEN evaluation.

A domain above access, consent and requests: it answers in the standards' shapes by calling those domains'
service functions (docs/contracts.md) and owns no data of its own.
"""
