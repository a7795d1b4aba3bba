from enum import StrEnum


class DatasetSpecBodyPseudonyms(StrEnum):
    PER_RELEASE = "per_release"
    STABLE = "stable"

    def __str__(self) -> str:
        return str(self.value)
