from enum import StrEnum


class DPQueryBodyStatistic(StrEnum):
    COUNT = "count"
    HISTOGRAM = "histogram"
    MEAN = "mean"
    QUANTILES = "quantiles"
    SUM = "sum"
    VARIANCE = "variance"

    def __str__(self) -> str:
        return str(self.value)
