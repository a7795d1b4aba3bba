"""One trainer per model kind: the job's request and its people's rows in, a TrainedModel out.

Each trains with the job's epsilon minus the card counts' share, sampling at the public (DP) dataset size. No
database here; the heavy libraries load inside the ml functions called.
"""

from __future__ import annotations

from governance.training import features
from governance.training.features import ClassificationArrays, PersonRows
from governance.training.ml.classifier import train_classifier
from governance.training.ml.dpl import train_dpl_logistic, train_dpl_naive_bayes
from governance.training.ml.dpsgd import DPSGDConfig, TrainingHooks
from governance.training.ml.recommender import train_recommender
from governance.training.ml.result import TrainedModel
from governance.training.policy import TrainingPolicy
from governance.training.schemas import TrainingJobIn

__all__ = ["train_model"]


def train_model(
    body: TrainingJobIn, people: list[PersonRows], policy: TrainingPolicy, hooks: TrainingHooks, *, public_people: int
) -> TrainedModel:
    """Train with the job's epsilon minus the card counts' share, on the public (DP) dataset size."""
    epsilon = body.privacy.epsilon - policy.count_epsilon
    if body.kind == "recommender":
        return _recommender(body, people, policy, hooks, epsilon=epsilon, public_people=public_people)
    assert body.label is not None
    arrays = features.classification_arrays(
        people,
        profile_fields=body.dataset.fields,
        count_categories=body.dataset.event_categories,
        label_category=body.label.event_category,
        buckets=policy.feature_buckets,
    )
    if body.kind == "classifier":
        return _classifier(body, arrays, policy, hooks, epsilon=epsilon, public_people=public_people)
    if body.kind == "dpl_logistic":
        return _dpl_logistic(body, arrays, policy, epsilon=epsilon)
    return _dpl_naive_bayes(body, arrays, policy, epsilon=epsilon)


def _dpsgd_config(
    body: TrainingJobIn, *, epsilon: float, default_learning_rate: float, public_examples: int
) -> DPSGDConfig:
    t = body.training
    return DPSGDConfig(
        target_epsilon=epsilon,
        target_delta=body.privacy.delta,
        epochs=t.epochs,
        batch_size=t.batch_size,
        max_grad_norm=t.max_grad_norm,
        learning_rate=t.learning_rate or default_learning_rate,
        max_physical_batch_size=t.max_physical_batch_size,
        seed=t.seed,
        public_examples=public_examples,
    )


def _recommender(
    body: TrainingJobIn,
    people: list[PersonRows],
    policy: TrainingPolicy,
    hooks: TrainingHooks,
    *,
    epsilon: float,
    public_people: int,
) -> TrainedModel:
    t = body.training
    histories = features.interaction_histories(people, items=body.items or [])
    # user-level privacy: one example is one person's whole history, so the public size is the people count
    config = _dpsgd_config(body, epsilon=epsilon, default_learning_rate=0.05, public_examples=max(public_people, 1))
    return train_recommender(
        histories,
        n_items=len(body.items or []),
        config=config,
        max_interactions=t.max_interactions or policy.max_interactions,
        embedding_dim=t.embedding_dim,
        holdout_fraction=t.holdout_fraction,
        k=t.k,
        epsilon_cap=policy.epsilon_cap,
        hooks=hooks,
    )


def _classifier(
    body: TrainingJobIn,
    arrays: ClassificationArrays,
    policy: TrainingPolicy,
    hooks: TrainingHooks,
    *,
    epsilon: float,
    public_people: int,
) -> TrainedModel:
    t = body.training
    # the held-out share never trains: the sampling rate uses the public size of the training part
    public_train = max(round(public_people * (1 - t.holdout_fraction)), 1)
    config = _dpsgd_config(body, epsilon=epsilon, default_learning_rate=0.02, public_examples=public_train)
    return train_classifier(
        arrays.features,
        arrays.labels,
        n_classes=2,
        config=config,
        hidden_units=t.hidden_units,
        test_fraction=t.holdout_fraction,
        epsilon_cap=policy.epsilon_cap,
        hooks=hooks,
    )


def _dpl_logistic(
    body: TrainingJobIn, arrays: ClassificationArrays, policy: TrainingPolicy, *, epsilon: float
) -> TrainedModel:
    t = body.training
    return train_dpl_logistic(
        arrays.features,
        arrays.labels,
        epsilon=epsilon,
        data_norm=arrays.data_norm,
        seed=t.seed,
        test_fraction=t.holdout_fraction,
        epsilon_cap=policy.epsilon_cap,
    )


def _dpl_naive_bayes(
    body: TrainingJobIn, arrays: ClassificationArrays, policy: TrainingPolicy, *, epsilon: float
) -> TrainedModel:
    t = body.training
    width = arrays.features.shape[1]
    return train_dpl_naive_bayes(
        arrays.features,
        arrays.labels,
        epsilon=epsilon,
        lower=[0.0] * width,
        upper=[1.0] * width,
        n_classes=2,
        seed=t.seed,
        test_fraction=t.holdout_fraction,
        epsilon_cap=policy.epsilon_cap,
    )
