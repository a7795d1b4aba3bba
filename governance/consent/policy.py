"""Processing purposes and their notices, as policy (`policies/purposes.yaml`, `policies/notices/**`).

The catalog is immutable once loaded. Every notice version pins the SHA-256 of its text, so a notice cannot
be edited in place without the service refusing to start: a changed text needs a new version, and a version
marked `material` makes consents given to older versions count as not given until renewed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from governance.policyfiles import PolicyFileError, load_yaml

# Errors name the file (and the line where known), never personal data.
PolicyError = PolicyFileError

PURPOSE_KEY_PATTERN = r"^[a-z][a-z0-9_]{1,63}$"
PurposeKey = Annotated[str, StringConstraints(pattern=PURPOSE_KEY_PATTERN)]
CategoryName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class LegalBasis(StrEnum):
    CONSENT = "consent"
    LEGITIMATE_INTEREST = "legitimate_interest"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"


# Art. 21 GDPR: a subject may object to processing based on legitimate interest; for consent purposes an
# objection (or restriction) blocks use even while a consent exists. Contract and legal obligation cannot be
# objected to through this service.
OBJECTABLE_BASES = frozenset({LegalBasis.CONSENT, LegalBasis.LEGITIMATE_INTEREST})


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]


class NoticeTranslation(_Frozen):
    """The notice text of one version in another language, pinned by its own SHA-256 like the original."""

    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    file: str | None = Field(default=None, description="default: the original's file as <name>.<language>.md")
    change: str | None = Field(default=None, description="the version's `change` in this language")


class PurposeTranslation(_Frozen):
    """A purpose's title and description in another language (the dashboard shows them to its readers)."""

    title: str = Field(min_length=3, max_length=120)
    description: str = Field(min_length=10, max_length=2000)


class NoticeVersion(_Frozen):
    """One published version of the notice text that describes a purpose."""

    version: int = Field(ge=1)
    file: str = Field(min_length=1, description="path relative to the policies directory")
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    published: dt.date
    material: bool = Field(default=False, description="consents to older versions no longer count after this version")
    change: str | None = Field(default=None, description="what changed since the previous version")
    language: str = "en"
    translations: dict[LanguageCode, NoticeTranslation] = Field(default_factory=dict)

    def notice_id(self, purpose_key: str) -> str:
        return f"{purpose_key}:v{self.version}"

    def translation_file(self, language: str) -> str:
        """Where the text in `language` lives: given in the policy, or next to the original as vN.<language>.md."""
        translation = self.translations[language]
        if translation.file:
            return translation.file
        stem, dot, suffix = self.file.rpartition(".")
        return f"{stem}.{language}.{suffix}" if dot else f"{self.file}.{language}"

    @model_validator(mode="after")
    def _not_the_original_language(self) -> NoticeVersion:
        if self.language in self.translations:
            raise ValueError(f"a translation into {self.language}, the notice's own language, is not a translation")
        return self


class GatewayPolicy(_Frozen):
    """What the data gateway may release for a purpose."""

    epsilon: Decimal = Field(gt=0, le=100, description="total privacy budget (epsilon) for the purpose")
    delta: Decimal = Field(ge=0, lt=1, description="total privacy budget (delta) for the purpose")
    k_anonymity: int = Field(default=10, ge=2, le=10_000)
    stable_pseudonyms: bool = Field(
        default=False, description="a client may get a stable pseudonym key per purpose across releases"
    )


class Purpose(_Frozen):
    """A processing purpose: why data is used, on what legal basis, which data, how long."""

    key: PurposeKey
    title: str = Field(min_length=3, max_length=120)
    description: str = Field(min_length=10, max_length=2000)
    legal_basis: LegalBasis
    profile_fields: tuple[CategoryName, ...] = ()
    event_categories: tuple[CategoryName, ...] = ()
    retention_days: int = Field(ge=1, le=36_600)
    sale_or_sharing: bool = False
    max_consent_age_days: int | None = Field(default=None, ge=1, le=36_600)
    notices: tuple[NoticeVersion, ...] = Field(min_length=1)
    gateway: GatewayPolicy | None = None
    # The W3C Data Privacy Vocabulary purpose class (a term of https://w3id.org/dpv#) this purpose is an instance
    # of, for consent records exported as ISO/IEC TS 27560 JSON-LD (docs/standards.md); generic dpv:Purpose if unset.
    dpv_purpose: str | None = Field(default=None, pattern=r"^[A-Z][A-Za-z]{2,80}$")
    translations: dict[LanguageCode, PurposeTranslation] = Field(default_factory=dict)

    @field_validator("profile_fields", "event_categories")
    @classmethod
    def _no_duplicates(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        duplicates = sorted({v for v in value if value.count(v) > 1})
        if duplicates:
            raise ValueError(f"listed more than once: {', '.join(duplicates)}")
        return value

    @model_validator(mode="after")
    def _check(self) -> Purpose:
        versions = [n.version for n in self.notices]
        if versions != sorted(set(versions)):
            raise ValueError("notice versions must be strictly increasing, oldest first")
        if self.notices[0].material:
            raise ValueError("the first notice version cannot be a material change")
        dates = [n.published for n in self.notices]
        if dates != sorted(dates):
            raise ValueError("notice publication dates must not go backwards")
        if self.legal_basis != LegalBasis.CONSENT and self.max_consent_age_days is not None:
            raise ValueError("max_consent_age_days only applies to purposes whose legal basis is consent")
        if self.legal_basis != LegalBasis.CONSENT and self.sale_or_sharing:
            raise ValueError("a sale/sharing purpose must rest on consent (GPC must be able to opt out)")
        if not self.profile_fields and not self.event_categories:
            raise ValueError("a purpose must name the data it may use")
        return self

    @property
    def requires_consent(self) -> bool:
        return self.legal_basis == LegalBasis.CONSENT

    @property
    def objectable(self) -> bool:
        return self.legal_basis in OBJECTABLE_BASES

    @property
    def current_notice(self) -> NoticeVersion:
        return self.notices[-1]

    @property
    def renewal_from_version(self) -> int:
        """The oldest notice version a consent may refer to and still count (the last material change)."""
        material = [n.version for n in self.notices if n.material]
        return material[-1] if material else self.notices[0].version

    @property
    def max_consent_age(self) -> dt.timedelta | None:
        return dt.timedelta(days=self.max_consent_age_days) if self.max_consent_age_days else None

    @property
    def data_categories(self) -> frozenset[str]:
        return frozenset(self.profile_fields) | frozenset(self.event_categories)

    def notice(self, version: int) -> NoticeVersion:
        for notice in self.notices:
            if notice.version == version:
                return notice
        raise KeyError(version)


class Controller(_Frozen):
    """The controller named in receipts (Kantara `piiControllers`, ISO/IEC TS 27560 `pii_controller`)."""

    name: str = Field(min_length=1)
    contact: str = Field(min_length=1)
    email: str = Field(min_length=3)
    address: str = Field(min_length=1)
    policy_url: str = Field(pattern=r"^https://")
    default_jurisdiction: str = Field(default="EU", min_length=2, max_length=16)
    notice_base_url: str | None = Field(default=None, pattern=r"^https://")


class PurposesFile(_Frozen):
    """The shape of `policies/purposes.yaml`."""

    schema_version: int = Field(ge=1, le=1)
    controller: Controller
    purposes: tuple[Purpose, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_keys(self) -> PurposesFile:
        keys = [p.key for p in self.purposes]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"purpose keys listed more than once: {', '.join(duplicates)}")
        return self


class _CategoryNames(BaseModel):
    """Just the names from the vault's category catalog."""

    model_config = ConfigDict(extra="ignore")
    profile_fields: dict[str, Any]
    event_categories: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ShownNotice:
    """The notice text a reader was shown: its language and the SHA-256 it is pinned by."""

    language: str
    text: str
    sha256: str


class PurposeCatalog:
    """The loaded purposes, looked up by key in O(1). Immutable; hashable content fingerprint in `version`."""

    __slots__ = ("_by_key", "controller", "fingerprint", "notice_texts", "source", "translated_texts")

    def __init__(
        self,
        spec: PurposesFile,
        *,
        notice_texts: dict[tuple[str, int], str] | None = None,
        translated_texts: dict[tuple[str, int, str], str] | None = None,
        source: str = "<memory>",
        fingerprint: str = "",
    ) -> None:
        self._by_key: dict[str, Purpose] = {p.key: p for p in spec.purposes}
        self.controller = spec.controller
        self.notice_texts = dict(notice_texts or {})
        self.translated_texts = dict(translated_texts or {})
        self.source = source
        self.fingerprint = fingerprint

    def __iter__(self) -> Iterator[Purpose]:
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def get(self, key: str) -> Purpose | None:
        return self._by_key.get(key)

    def __getitem__(self, key: str) -> Purpose:
        return self._by_key[key]

    @property
    def keys(self) -> list[str]:
        return list(self._by_key)

    def consent_purposes(self) -> list[Purpose]:
        return [p for p in self if p.requires_consent]

    def sale_or_sharing_purposes(self) -> list[Purpose]:
        """Purposes a Global Privacy Control signal opts the subject out of."""
        return [p for p in self if p.sale_or_sharing]

    def purposes_using(self, category: str) -> list[Purpose]:
        return [p for p in self if category in p.data_categories]

    def notice_text(self, key: str, version: int) -> str | None:
        return self.notice_texts.get((key, version))

    def notice_shown(self, key: str, version: int, language: str) -> ShownNotice | None:
        """The text of a notice version a reader of `language` is shown: the translation when the policy pins
        one, else the original. None for an unknown purpose or version."""
        purpose = self._by_key.get(key)
        original = self.notice_texts.get((key, version))
        if purpose is None or original is None:
            return None
        notice = purpose.notice(version)
        translated = self.translated_texts.get((key, version, language))
        if translated is not None and language in notice.translations:
            return ShownNotice(language, translated, notice.translations[language].sha256)
        return ShownNotice(notice.language, original, notice.sha256)

    def check_categories(self, profile_fields: Iterable[str], event_categories: Iterable[str]) -> None:
        """Raise PolicyError if a purpose names a field or event category the catalog does not know."""
        known_fields, known_events = set(profile_fields), set(event_categories)
        problems = []
        for purpose in self:
            unknown_fields = sorted(set(purpose.profile_fields) - known_fields)
            unknown_events = sorted(set(purpose.event_categories) - known_events)
            if unknown_fields:
                problems.append(f"{purpose.key}: unknown profile fields {', '.join(unknown_fields)}")
            if unknown_events:
                problems.append(f"{purpose.key}: unknown event categories {', '.join(unknown_events)}")
        if problems:
            raise PolicyError(Path(self.source), None, "; ".join(problems))

    def check_categories_file(self, path: Path) -> None:
        """Check the purposes against the vault's `categories.yaml` (names only)."""
        data = load_yaml(path, _CategoryNames)
        self.check_categories(data.profile_fields, data.event_categories)


def load_catalog(path: str | Path) -> PurposeCatalog:
    """Load `purposes.yaml` and the notice texts it references (relative to the file's directory).

    Raises PolicyError naming the file when the YAML is invalid, a notice file is missing, or a notice text
    does not match its pinned SHA-256 (a published notice was edited instead of getting a new version).
    """
    path = Path(path)
    spec = load_yaml(path, PurposesFile)
    base = path.parent.resolve()
    texts: dict[tuple[str, int], str] = {}
    translated: dict[tuple[str, int, str], str] = {}
    digest = hashlib.sha256(path.read_bytes())
    for purpose in spec.purposes:
        for notice in purpose.notices:
            label = f"{purpose.key} v{notice.version}"
            raw = _pinned_text(path, base, label, notice.file, notice.sha256)
            texts[(purpose.key, notice.version)] = raw.decode("utf-8")
            digest.update(raw)
            for language, translation in sorted(notice.translations.items()):
                file = notice.translation_file(language)
                raw = _pinned_text(path, base, f"{label} ({language})", file, translation.sha256)
                translated[(purpose.key, notice.version, language)] = raw.decode("utf-8")
                digest.update(raw)
    return PurposeCatalog(
        spec, notice_texts=texts, translated_texts=translated, source=str(path), fingerprint=digest.hexdigest()
    )


def _pinned_text(path: Path, base: Path, label: str, file: str, pinned: str) -> bytes:
    """A notice file's bytes, refused when outside the policies directory, unreadable or not the pinned text."""
    notice_path = (base / file).resolve()
    if not notice_path.is_relative_to(base):
        raise PolicyError(path, None, f"{label}: notice file outside {base}")
    try:
        raw = notice_path.read_bytes()
    except OSError as exc:
        raise PolicyError(path, None, f"{label}: notice file {file} cannot be read") from exc
    actual = hashlib.sha256(raw).hexdigest()
    if actual != pinned:
        raise PolicyError(
            notice_path,
            None,
            f"text does not match the sha256 pinned for {label} in {path} "
            f"(pinned {pinned[:12]}…, actual {actual[:12]}…); publish a new version "
            "instead of editing a published notice",
        )
    return raw


def notice_sha256(text: str | bytes) -> str:
    """The content hash recorded with every consent event and pinned in the policy."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(raw).hexdigest()


_KEY_RE = re.compile(PURPOSE_KEY_PATTERN)


def is_valid_purpose_key(key: str) -> bool:
    return bool(_KEY_RE.match(key))
