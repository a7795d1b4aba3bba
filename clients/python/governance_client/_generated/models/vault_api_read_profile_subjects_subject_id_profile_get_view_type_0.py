from enum import StrEnum


class VaultApiReadProfileSubjectsSubjectIdProfileGetViewType0(StrEnum):
    CLEAR = "clear"
    MASKED = "masked"
    SUMMARY = "summary"

    def __str__(self) -> str:
        return str(self.value)
