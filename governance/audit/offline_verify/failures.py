"""The two ways verification stops: a check that fails (with its position and reason code), or input that
cannot be read at all."""

from __future__ import annotations


class VerificationFailed(Exception):
    def __init__(self, reason: str, position: int | None, detail: str, range_end: int | None = None) -> None:
        super().__init__(detail)
        self.reason, self.position, self.detail, self.range_end = reason, position, detail, range_end


class UnusableInput(Exception):
    """The export or the key cannot be read at all."""
