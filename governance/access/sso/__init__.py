"""Staff single sign-on with OpenID Connect: the authorization code flow with PKCE (Authlib's client), the ID
token checked here (joserfc), roles mapped from a claim by `policies/sso.yaml`, MFA from the provider's
`amr`/`acr` or the local TOTP, just-in-time accounts with no role until a group is mapped.

What is stored and written about a person: the account keeps `sso_subject`, SHA-256 of the issuer and the
person's `sub`; audit entries carry `ref:` and its first 16 hex digits (`subject_ref`). Names, e-mail addresses and
tokens from the provider are never stored, logged or audited (the ID token is read and dropped).

The service functions take a Session and never commit: the route commits the account, its roles and every
audit entry of one sign-in (succeeded or refused) together.

The modules, by concern: `policy` (the policy file and settings), `client` (the provider and the ID token),
`sign_in` (accounts, roles, the second factor, refusals), `errors`. This package re-exports their names, so
callers import `governance.access.sso` only.
"""

from governance.access.sso.client import (
    CLOCK_LEEWAY,
    FLOW_LIFETIME,
    ID_TOKEN_ALGORITHMS,
    METADATA_TTL,
    Identity,
    SsoClient,
    origin,
    subject_ref,
)
from governance.access.sso.errors import SsoDisabledError, SsoRefusedError, SsoUnavailableError
from governance.access.sso.policy import DEFAULT_MFA_AMR, SsoPolicy, load_policy
from governance.access.sso.sign_in import (
    SignInResult,
    account_uses_sso,
    apply_identity,
    link_account,
    provider_asserted_mfa,
    record_refusal,
    session_timeouts,
)

EXTENSION_KEY = "governance.access.sso"
FLOW_KEY = "access_sso_flow"  # the signed cookie's entry for one sign-in in flight (state, nonce, verifier)
SIGNED_IN_KEY = "access_sso"  # marks a staff session started through the provider (for sign-out there)

__all__ = [
    "CLOCK_LEEWAY",
    "DEFAULT_MFA_AMR",
    "EXTENSION_KEY",
    "FLOW_KEY",
    "FLOW_LIFETIME",
    "ID_TOKEN_ALGORITHMS",
    "METADATA_TTL",
    "SIGNED_IN_KEY",
    "Identity",
    "SignInResult",
    "SsoClient",
    "SsoDisabledError",
    "SsoPolicy",
    "SsoRefusedError",
    "SsoUnavailableError",
    "account_uses_sso",
    "apply_identity",
    "link_account",
    "load_policy",
    "origin",
    "provider_asserted_mfa",
    "record_refusal",
    "session_timeouts",
    "subject_ref",
]
