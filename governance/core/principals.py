"""Who is acting (principals) and on what (resources): the vocabulary of every access decision.

These are plain values, independent of how the principal was authenticated, so that services, the audit log
and the Cedar policy engine can all use them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

from governance.errors import NotFoundError

PrincipalKind = Literal["staff", "subject", "client", "system", "anonymous"]


@dataclass(frozen=True, slots=True)
class ActorRef:
    """The minimal, non-personal reference to an actor that the audit log stores."""

    kind: PrincipalKind
    id: str


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated (or anonymous) caller.

    - staff: `id` is the staff account id, `roles` its roles (admin, dpo, support, auditor), `mfa` whether the
      session passed the second factor, `must_change_password` whether an admin reset the password and
      the person has not chosen a new one yet.
    - subject: `id` is the dashboard session id, `subject_id` the data subject it may act for.
    - client: `id` is the OAuth2 client id, `scopes` the scopes of the presented token, `purposes` the
      purposes the client is registered for.
    - system: the service itself (jobs, CLI); `id` names the component.
    """

    kind: PrincipalKind
    id: str
    roles: frozenset[str] = field(default_factory=frozenset)
    scopes: frozenset[str] = field(default_factory=frozenset)
    purposes: frozenset[str] = field(default_factory=frozenset)
    subject_id: uuid.UUID | None = None
    mfa: bool = False
    must_change_password: bool = False

    @property
    def ref(self) -> ActorRef:
        return ActorRef(self.kind, self.id)

    @property
    def owner_label(self) -> str:
        """Who owns what this principal starts, as `kind:id` (a job's `created_by`, read by `job.read`): what a
        subject session starts belongs to its data subject, not to the session, which ends within hours."""
        if self.kind == "subject" and self.subject_id is not None:
            return f"subject:{self.subject_id}"
        return f"{self.kind}:{self.id}"

    @classmethod
    def system(cls, component: str) -> Principal:
        return cls(kind="system", id=component)

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(kind="anonymous", id="anonymous")


@dataclass(frozen=True, slots=True)
class Resource:
    """What an action is performed on.

    `type` is a Cedar entity type name declared in policies/schema.cedarschema (for example "Subject",
    "AuditLog", "Request", "Dataset", "TrainingJob", "Purpose", "Console"; "System" for the service as a whole
    or a collection). `owner_subject_id` ties a resource to a data subject (a subject session may reach only
    its own). `purpose` ties a resource to a processing purpose (a client may act only for its purposes).
    `owner_client_id` ties it to the service client that owns it (its releases, jobs, tokens).
    """

    type: str
    id: str = "*"
    owner_subject_id: uuid.UUID | None = None
    purpose: str | None = None
    owner_client_id: str | None = None

    @classmethod
    def subject(cls, subject_id: uuid.UUID | str) -> Resource:
        """The data subject `subject_id`. A malformed id (from a URL) is a 404, never a 500."""
        if isinstance(subject_id, uuid.UUID):
            sid = subject_id
        else:
            try:
                sid = uuid.UUID(str(subject_id))
            except ValueError:
                raise NotFoundError("No such subject.") from None
        return cls(type="Subject", id=str(sid), owner_subject_id=sid)

    @classmethod
    def system(cls, name: str = "service") -> Resource:
        return cls(type="System", id=name)
