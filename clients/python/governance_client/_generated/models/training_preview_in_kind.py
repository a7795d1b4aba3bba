from enum import StrEnum


class TrainingPreviewInKind(StrEnum):
    CLASSIFIER = "classifier"
    DPL_LOGISTIC = "dpl_logistic"
    DPL_NAIVE_BAYES = "dpl_naive_bayes"
    RECOMMENDER = "recommender"

    def __str__(self) -> str:
        return str(self.value)
