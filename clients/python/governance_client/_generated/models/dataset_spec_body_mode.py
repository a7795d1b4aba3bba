from enum import StrEnum


class DatasetSpecBodyMode(StrEnum):
    DP_SYNTHETIC = "dp_synthetic"
    PSEUDONYMIZED_ROWS = "pseudonymized_rows"

    def __str__(self) -> str:
        return str(self.value)
