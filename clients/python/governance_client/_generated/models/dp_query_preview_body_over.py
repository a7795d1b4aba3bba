from enum import StrEnum


class DPQueryPreviewBodyOver(StrEnum):
    OCCURRED_AT = "occurred_at"
    VALUE = "value"

    def __str__(self) -> str:
        return str(self.value)
