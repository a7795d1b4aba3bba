from enum import StrEnum


class ProfileOutView(StrEnum):
    CLEAR = "clear"
    MASKED = "masked"
    SUMMARY = "summary"

    def __str__(self) -> str:
        return str(self.value)
