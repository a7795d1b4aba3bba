"""One typed settings object, read from `GOVERNANCE_*` environment variables (or a mapping in tests).

Development defaults keep everything inside `instance/`; production refuses to start without explicit secrets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Environment = Literal["development", "test", "production"]
PREFIX = "GOVERNANCE_"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """Raised at start-up when the configuration is missing or unsafe; the message says which setting."""


def _as_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"expected a boolean, got {value!r}")


@dataclass(frozen=True)
class Settings:
    env: Environment
    instance_path: Path
    database_url: str
    key_dir: Path
    policies_dir: Path
    base_url: str
    log_level: str
    max_body_bytes: int
    session_cookie_secure: bool
    session_idle_minutes: int
    session_absolute_hours: int
    ratelimit_storage_url: str | None
    worker_in_process: bool
    job_lease_seconds: int
    job_poll_seconds: float
    raw: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def get(self, name: str, default: str | None = None) -> str | None:
        """A domain's own setting `GOVERNANCE_<NAME>` (domains keep their typed parsing next to their code)."""
        return self.raw.get(name.upper(), default)

    def get_int(self, name: str, default: int) -> int:
        value = self.get(name)
        try:
            return default if value is None else int(value)
        except ValueError as exc:
            raise ConfigError(f"{PREFIX}{name.upper()} must be an integer") from exc

    def get_float(self, name: str, default: float) -> float:
        value = self.get(name)
        try:
            return default if value is None else float(value)
        except ValueError as exc:
            raise ConfigError(f"{PREFIX}{name.upper()} must be a number") from exc

    def get_bool(self, name: str, default: bool) -> bool:
        value = self.get(name)
        return default if value is None else _as_bool(value)

    @classmethod
    def load(cls, overrides: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
        """Merge environment variables and explicit overrides (keys without the prefix, any case)."""
        environ = os.environ if environ is None else environ
        raw: dict[str, str] = {k[len(PREFIX) :]: v for k, v in environ.items() if k.startswith(PREFIX)}
        for key, value in (overrides or {}).items():
            raw[key.upper()] = str(value)

        env = raw.get("ENV", "development")
        if env not in ("development", "test", "production"):
            raise ConfigError(f"{PREFIX}ENV must be development, test or production, got {env!r}")
        instance_path = Path(raw.get("INSTANCE_PATH", PROJECT_ROOT / "instance")).resolve()
        default_db = f"sqlite:///{instance_path / 'governance.sqlite3'}"
        database_url = raw.get("DATABASE_URL", default_db)
        if env == "production" and database_url == default_db and not _as_bool(raw.get("ALLOW_SQLITE", "0")):
            raise ConfigError(f"{PREFIX}DATABASE_URL must be set in production (or {PREFIX}ALLOW_SQLITE=1)")
        secure_default = env == "production"
        try:
            return cls(
                env=env,  # type: ignore[arg-type]
                instance_path=instance_path,
                database_url=database_url,
                key_dir=Path(raw.get("KEY_DIR", instance_path / "keys")).resolve(),
                policies_dir=Path(raw.get("POLICIES_DIR", PROJECT_ROOT / "policies")).resolve(),
                base_url=raw.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
                log_level=raw.get("LOG_LEVEL", "INFO").upper(),
                max_body_bytes=int(raw.get("MAX_BODY_BYTES", str(8 * 1024 * 1024))),
                session_cookie_secure=_as_bool(raw.get("SESSION_COOKIE_SECURE", str(secure_default))),
                session_idle_minutes=int(raw.get("SESSION_IDLE_MINUTES", "30")),
                session_absolute_hours=int(raw.get("SESSION_ABSOLUTE_HOURS", "12")),
                ratelimit_storage_url=raw.get("RATELIMIT_STORAGE_URL") or None,
                worker_in_process=_as_bool(raw.get("WORKER_IN_PROCESS", "0")),
                job_lease_seconds=int(raw.get("JOB_LEASE_SECONDS", "60")),
                job_poll_seconds=float(raw.get("JOB_POLL_SECONDS", "0.5")),
                raw=raw,
            )
        except ValueError as exc:
            raise ConfigError(f"invalid numeric setting: {exc}") from exc
