"""The Cedar policy engine: loads `policies/schema.cedarschema` and `policies/access/*.cedar` once, validates
them, and answers "may this principal perform this action on this resource?".

Parsing happens once per engine (cedarpy's pre-parsed `PolicySet` and `Schema` handles); a decision only
builds the two request entities (principal and resource) and evaluates. Errors in the files name the file
and line: Cedar reports parse errors without positions, so the statement at fault is found by parsing the
statements one by one, and the line inside it from the token Cedar names; type errors are located by the
`@id` of the rule they are reported for.
"""

from __future__ import annotations

import functools
import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cedarpy

from governance import policyfiles
from governance.access.principals import Principal, Resource

__all__ = [
    "Decision",
    "PolicyEngine",
    "PolicyFileError",
    "PolicyRequestError",
]

_END_OF_INPUT = "unexpected end of input"
_ID_ANNOTATION = re.compile(r'@id\(\s*"((?:[^"\\]|\\.)*)"\s*\)')
_ACTION_DECL = re.compile(r"^\s*action\s+(.+?)(?:\s+in\s+\[|\s+appliesTo|;)", re.MULTILINE | re.DOTALL)
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')

_ANY_ID = "*"
# A character that can start no Cedar token (Cedar's "invalid token" does not say which one).
_STRAY_CHARACTER = re.compile(r"""[^\w\s{}\[\]()<>,;:?@"=!&|.+\-*']""")
# An entity literal such as Dataset::"d-17" (roles and actions are named, not particular items).
_SPECIFIC_ENTITY = re.compile(r'\b(?!Role::|Action::)[A-Z]\w*::"')

_PRINCIPAL_TYPES = {
    "staff": "Staff",
    "subject": "SubjectSession",
    "client": "Client",
    "system": "Internal",
    "anonymous": "Anonymous",
}


class PolicyFileError(policyfiles.PolicyFileError):
    """A schema or policy file is invalid. `str()` names the file and line; the service must not start."""

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        self.message = message
        super().__init__(Path(path), line, message)


class PolicyRequestError(ValueError):
    """An action or resource type the schema does not declare was asked for (a bug in the caller)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one decision. `policies` are the `@id`s of the rules that decided it (the permits
    that allowed it, or the forbids that denied it; empty when nothing permitted: deny by default)."""

    allowed: bool
    policies: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        if self.policies:
            return ",".join(self.policies)
        return "allowed" if self.allowed else "no-permit"


@dataclass(frozen=True, slots=True)
class _SourcePolicy:
    policy_id: str  # the @id annotation
    path: str
    line: int


class PolicyEngine:
    """Schema and policies parsed and validated once; thread-safe and immutable afterwards."""

    def __init__(
        self,
        schema_text: str,
        policy_files: Mapping[str, str],
        *,
        schema_path: str = "schema",
        cache_size: int = 8192,
    ) -> None:
        """Parse and validate. `policy_files` maps a display path to its Cedar text.

        Raises PolicyFileError naming the file and line of the first problem found.
        """
        self.schema_path = schema_path
        self._schema = _parse_schema(schema_text, schema_path)
        if not policy_files:
            raise PolicyFileError(schema_path, None, "no policy files found")
        sources: list[_SourcePolicy] = []
        for path, text in sorted(policy_files.items()):
            sources.extend(_parse_policy_file(path, text))
        _check_unique_ids(sources)
        combined = "\n".join(text for _, text in sorted(policy_files.items()))
        self._policies = cedarpy.PolicySet.from_str(combined)
        self._sources = {source.policy_id: source for source in sources}
        _validate(combined, self._schema, self._sources, schema_path)
        self.actions: frozenset[str] = _declared_actions(schema_text)
        self.version = _content_hash(schema_text, policy_files)
        self.policy_ids: tuple[str, ...] = tuple(source.policy_id for source in sources)
        self.ids_matter = _names_specific_entities(policy_files.values())
        # When no rule names a particular item and owners are only ever compared with the principal itself,
        # a decision depends on "mine / someone else's / nobody's", not on which ids: the cache key drops them
        # and one cached decision serves every subject, item and staff member of the same kind.
        self.relational = not self.ids_matter and _owners_only_compared_to_principal(policy_files.values())
        # Decisions are pure functions of (principal, action, resource, context) for a fixed policy set, so a
        # bounded cache is exact; it turns the common repeated check into a dictionary lookup.
        self._cached_decide = functools.lru_cache(maxsize=cache_size)(self._evaluate)

    @classmethod
    def from_directory(cls, policies_dir: str | Path, *, cache_size: int = 8192) -> PolicyEngine:
        """Load `<dir>/schema.cedarschema` and every `<dir>/access/*.cedar`."""
        root = Path(policies_dir)
        schema_file = root / "schema.cedarschema"
        try:
            schema_text = schema_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyFileError(str(schema_file), None, f"cannot read: {exc.strerror}") from exc
        paths = sorted((root / "access").glob("*.cedar"))
        files = {str(path): path.read_text(encoding="utf-8") for path in paths}
        return cls(schema_text, files, schema_path=str(schema_file), cache_size=cache_size)

    def source_of(self, policy_id: str) -> tuple[str, int] | None:
        """The file and line where the policy with this @id is written."""
        source = self._sources.get(policy_id)
        return (source.path, source.line) if source else None

    def decide(
        self,
        principal: Principal,
        action: str,
        resource: Resource,
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Evaluate one request. Raises PolicyRequestError for an undeclared action or resource type."""
        if action not in self.actions:
            raise PolicyRequestError(f"unknown action {action!r}; see docs/access.md for the catalogue")
        items = tuple(sorted((context or {}).items()))
        if self.relational:
            principal, resource = _canonical(principal, resource)
        try:
            return self._cached_decide(principal, action, resource, items)
        except TypeError:  # an unhashable context value: evaluate without the cache
            return self._evaluate(principal, action, resource, items)

    def _evaluate(
        self, principal: Principal, action: str, resource: Resource, context: tuple[tuple[str, Any], ...]
    ) -> Decision:
        principal_uid, entities = _entities(principal, resource)
        request = {
            "principal": principal_uid,
            "action": {"type": "Action", "id": action},
            "resource": {"type": resource.type, "id": resource.id},
            "context": dict(context),
        }
        result = cedarpy.is_authorized(request, self._policies, entities, schema=self._schema)
        if result.decision is cedarpy.Decision.NoDecision:
            errors = "; ".join(result.diagnostics.errors)
            raise PolicyRequestError(f"cannot evaluate {action!r} on {resource.type!r}: {errors}")
        annotations = result.diagnostics.id_annotations_by_reason
        policies = tuple(sorted(annotations.get(pid, pid) for pid in result.diagnostics.reasons))
        return Decision(allowed=result.allowed, policies=policies)

    def applies_to(self, action: str, resource_type: str) -> bool:
        """Whether the schema lets `action` be asked on a `resource_type` (checked for every route at start-up)."""
        if action not in self.actions:
            return False
        request = {
            "principal": {"type": "Anonymous", "id": "route-check"},
            "action": {"type": "Action", "id": action},
            "resource": {"type": resource_type, "id": "route-check"},
            "context": {},
        }
        entities = [
            {"uid": request["principal"], "attrs": {}, "parents": []},
            {"uid": request["resource"], "attrs": {}, "parents": []},
        ]
        result = cedarpy.is_authorized(request, self._policies, entities, schema=self._schema)
        return result.decision is not cedarpy.Decision.NoDecision

    def is_allowed(
        self,
        principal: Principal,
        action: str,
        resource: Resource,
        context: Mapping[str, Any] | None = None,
    ) -> bool:
        return self.decide(principal, action, resource, context).allowed


def _entities(principal: Principal, resource: Resource) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The two request entities: the principal (with its roles as parents) and the resource."""
    ptype = _PRINCIPAL_TYPES[principal.kind]
    attrs: dict[str, Any]
    parents: list[dict[str, str]] = []
    if ptype == "Staff":
        attrs = {"mfa": principal.mfa, "must_change_password": principal.must_change_password}
        parents = [{"type": "Role", "id": role} for role in sorted(principal.roles)]
    elif ptype == "SubjectSession":
        attrs = {"subject": str(principal.subject_id) if principal.subject_id else ""}
    elif ptype == "Client":
        attrs = {
            "client_id": principal.id,
            "scopes": sorted(principal.scopes),
            "purposes": sorted(principal.purposes),
        }
    else:
        attrs = {}
    principal_uid = {"type": ptype, "id": principal.id}
    resource_attrs: dict[str, str] = {}
    if resource.owner_subject_id is not None:
        resource_attrs["owner_subject"] = str(resource.owner_subject_id)
    if resource.purpose is not None:
        resource_attrs["purpose"] = resource.purpose
    if resource.owner_client_id is not None:
        resource_attrs["owner_client"] = resource.owner_client_id
    entities: list[dict[str, Any]] = [
        {"uid": principal_uid, "attrs": attrs, "parents": parents},
        {"uid": {"type": resource.type, "id": resource.id}, "attrs": resource_attrs, "parents": []},
    ]
    return principal_uid, entities


_SELF_SUBJECT = uuid.UUID(int=1)
_OTHER_SUBJECT = uuid.UUID(int=2)
_SELF_CLIENT = "self"
_OTHER_CLIENT = "other"
_OWNER_MENTION = re.compile(r"owner_subject|owner_client|principal\.subject\b|principal\.client_id")
_OWNER_ALLOWED = re.compile(
    r"resource has owner_subject"
    r"|resource has owner_client"
    r"|resource\.owner_subject == principal\.subject\b"
    r"|resource\.owner_client [!=]= principal\.client_id"
)


def _owners_only_compared_to_principal(texts: Any) -> bool:
    for text in texts:
        code = _strip_comments(text)
        mentions = len(_OWNER_MENTION.findall(code))
        allowed = sum(len(_OWNER_MENTION.findall(m.group(0))) for m in _OWNER_ALLOWED.finditer(code))
        if mentions != allowed:
            return False
    return True


def _canonical(principal: Principal, resource: Resource) -> tuple[Principal, Resource]:
    """The same request with ids replaced by their relation to the principal (see `relational`)."""
    owner_subject = resource.owner_subject_id
    if owner_subject is not None:
        mine = principal.subject_id is not None and owner_subject == principal.subject_id
        owner_subject = _SELF_SUBJECT if mine else _OTHER_SUBJECT
    owner_client = resource.owner_client_id
    if owner_client is not None:
        mine = principal.kind == "client" and owner_client == principal.id
        owner_client = _SELF_CLIENT if mine else _OTHER_CLIENT
    principal = replace(
        principal,
        id=_SELF_CLIENT if principal.kind == "client" else _ANY_ID,
        subject_id=_SELF_SUBJECT if principal.subject_id is not None else None,
    )
    resource = replace(resource, id=_ANY_ID, owner_subject_id=owner_subject, owner_client_id=owner_client)
    return principal, resource


def _names_specific_entities(texts: Any) -> bool:
    return any(_SPECIFIC_ENTITY.search(_strip_comments(text)) for text in texts)


def _content_hash(schema_text: str, policy_files: Mapping[str, str]) -> str:
    digest = hashlib.sha256()
    digest.update(b"schema\0" + schema_text.encode())
    for path, text in sorted(policy_files.items()):
        digest.update(b"\0" + Path(path).name.encode() + b"\0" + text.encode())
    return digest.hexdigest()[:16]


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _chunks(text: str) -> list[tuple[int, int]]:
    """(start, end) of each `;`-terminated statement, ignoring `;` inside strings and // comments."""
    chunks: list[tuple[int, int]] = []
    start, index, in_string = 0, 0, False
    while index < len(text):
        char = text[index]
        if in_string:
            if char == "\\":
                index += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif text.startswith("//", index):
            newline = text.find("\n", index)
            index = len(text) if newline < 0 else newline
            continue
        elif char == ";":
            chunks.append((start, index + 1))
            start = index + 1
        index += 1
    if _strip_comments(text[start:]).strip():
        chunks.append((start, len(text)))
    return chunks


def _line_in_chunk(text: str, start: int, end: int, message: str) -> int:
    """The line of the offending token inside one statement (Cedar names the token but not where it is)."""
    code = _strip_comments(text[start:end])
    token = re.search(r"unexpected token `([^`]+)`", message)
    if token and token.group(1) in code:
        return _line_of(text, start + code.index(token.group(1)))
    if "invalid token" in message:
        outside_strings = _QUOTED.sub(lambda m: " " * len(m.group(0)), code)
        stray = _STRAY_CHARACTER.search(outside_strings)
        if stray:
            return _line_of(text, start + stray.start())
    stripped = code.rstrip()
    if _END_OF_INPUT in message and stripped:
        return _line_of(text, start + len(stripped) - 1)
    leading = len(code) - len(code.lstrip())
    return _line_of(text, start + leading)


def _policy_error_line(text: str) -> int | None:
    """Policies are independent statements: the first one that does not parse on its own is the culprit."""
    for start, end in _chunks(text):
        try:
            cedarpy.PolicySet.from_str(text[start:end])
        except ValueError as exc:
            return _line_in_chunk(text, start, end, str(exc))
    return None


def _schema_error_line(text: str) -> int | None:
    """Declarations refer to each other, so grow the text declaration by declaration until it stops being
    syntactically valid (errors about unresolved names are expected in a partial schema and ignored)."""
    for start, end in _chunks(text):
        try:
            cedarpy.Schema.from_str(text[:end])
        except ValueError as exc:
            if "error parsing schema" in str(exc):
                return _line_in_chunk(text, start, end, str(exc))
    return None


def _parse_schema(text: str, path: str) -> cedarpy.Schema:
    try:
        return cedarpy.Schema.from_str(text)
    except ValueError as exc:
        message = str(exc)
        syntax = "error parsing schema" in message
        line = _schema_error_line(text) if syntax else _line_of_name_in(text, message)
        raise PolicyFileError(path, line, message) from None


def _line_of_name_in(text: str, message: str) -> int | None:
    """Best effort for semantic schema errors (no position): the first line mentioning the named thing."""
    names = re.findall(r"`([^`]+)`", message) or re.findall(r":\s*([A-Za-z_][\w:]*)\s*$", message)
    for name in names:
        match = re.search(rf"(?<![\w\"]){re.escape(name)}(?![\w\"])", _strip_comments(text))
        if match:
            return _line_of(text, match.start())
    return None


def _strip_comments(text: str) -> str:
    """Blank out // comments, keeping offsets (so line numbers stay right)."""
    return re.sub(r"//[^\n]*", lambda m: " " * len(m.group(0)), text)


def _parse_policy_file(path: str, text: str) -> list[_SourcePolicy]:
    try:
        policy_set = cedarpy.PolicySet.from_str(text)
    except ValueError as exc:
        raise PolicyFileError(path, _policy_error_line(text), str(exc)) from None
    code = _strip_comments(text)
    found = [(m.group(1), _line_of(text, m.start())) for m in _ID_ANNOTATION.finditer(code)]
    if len(found) != len(policy_set) or len(policy_set) != len(policy_set.to_pst().static_policies):
        first_line = _first_unnamed_policy_line(code)
        raise PolicyFileError(path, first_line, 'every rule needs a name: @id("what-it-is-for")')
    return [_SourcePolicy(policy_id=name, path=path, line=line) for name, line in found]


def _first_unnamed_policy_line(code: str) -> int | None:
    """The line of the first rule whose preamble (text since the previous `;`) carries no @id."""
    previous_end = 0
    for match in re.finditer(r"\b(permit|forbid)\s*\(", code):
        if not _ID_ANNOTATION.search(code[previous_end : match.start()]):
            return _line_of(code, match.start())
        semicolon = code.find(";", match.end())
        previous_end = semicolon + 1 if semicolon >= 0 else len(code)
    return None


def _check_unique_ids(sources: list[_SourcePolicy]) -> None:
    seen: dict[str, _SourcePolicy] = {}
    for source in sources:
        if source.policy_id in seen:
            first = seen[source.policy_id]
            message = f"rule name {source.policy_id!r} already used at {first.path}:{first.line}"
            raise PolicyFileError(source.path, source.line, message)
        seen[source.policy_id] = source


def _validate(combined: str, schema: cedarpy.Schema, sources: Mapping[str, _SourcePolicy], schema_path: str) -> None:
    result = cedarpy.validate_policies(combined, schema)
    if result.validation_passed:
        return
    error = result.errors[0]
    named = result.id_annotations_by_policy_id.get(error.policy_id)
    source = sources.get(named) if named is not None else None
    message = error.error
    if source is None:
        raise PolicyFileError(schema_path, None, message)
    raise PolicyFileError(source.path, source.line, f"rule {source.policy_id!r}: {message}")


def _declared_actions(schema_text: str) -> frozenset[str]:
    names: set[str] = set()
    for declaration in _ACTION_DECL.finditer(_strip_comments(schema_text)):
        names.update(_QUOTED.findall(declaration.group(1)))
    return frozenset(name for name in names if not name.startswith("group."))
