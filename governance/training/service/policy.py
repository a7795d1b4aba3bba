"""What policies/training.yaml and the DP rules allow: the policy in force and every reason a request breaks it
(those knowable before the data set is built; the job checks delta <= 1/(10 N) once N is known)."""

from __future__ import annotations

from governance.core.runtime import runtime
from governance.training.errors import TrainingRefusedError
from governance.training.ml.limits import Refusal, check_privacy_parameters
from governance.training.policy import TRAINING_POLICY, TrainingPolicy
from governance.training.schemas import OPACUS_KINDS, TrainingJobIn

__all__ = ["check_request", "current_policy", "refusal_error"]


def current_policy() -> TrainingPolicy:
    """The app's policies/training.yaml (defaults where the file is silent); raises outside an app."""
    return runtime().get(TRAINING_POLICY)


def refusal_error(refusals: list[Refusal]) -> TrainingRefusedError:
    """One 422 naming every reason; its code is the first reason's."""
    return TrainingRefusedError(
        "; ".join(r.reason for r in refusals),
        code=refusals[0].code,
        extra={"reasons": [{"code": r.code, "reason": r.reason} for r in refusals]},
    )


def check_request(body: TrainingJobIn, policy: TrainingPolicy) -> list[Refusal]:
    """Every reason the request breaks policies/training.yaml or the DP rules knowable before data is built."""
    return _privacy_refusals(body, policy) + _training_refusals(body, policy) + _data_refusals(body, policy)


def _privacy_refusals(body: TrainingJobIn, policy: TrainingPolicy) -> list[Refusal]:
    pure = body.kind not in OPACUS_KINDS
    # N is not known until the data set is built: check epsilon and delta's form now, 1/(10 N) in the job.
    refusals = [
        r
        for r in check_privacy_parameters(
            epsilon=body.privacy.epsilon,
            delta=body.privacy.delta,
            n_examples=0,
            epsilon_cap=policy.epsilon_cap,
            delta_required=not pure,
        )
        if r.code != "too_few_examples"
    ]
    if body.privacy.epsilon <= policy.count_epsilon:
        refusals.append(
            Refusal(
                "epsilon_below_count_share",
                f"epsilon must exceed the {policy.count_epsilon:g} the model card's DP counts take from it",
            )
        )
    if not pure and body.privacy.delta > policy.max_delta:
        refusals.append(Refusal("delta_above_cap", f"delta exceeds the policy maximum of {policy.max_delta:g}"))
    return refusals


def _training_refusals(body: TrainingJobIn, policy: TrainingPolicy) -> list[Refusal]:
    t = body.training
    refusals: list[Refusal] = []
    if t.epochs > policy.max_epochs:
        refusals.append(Refusal("epochs_above_cap", f"at most {policy.max_epochs} epochs"))
    if t.batch_size > policy.max_batch_size or t.max_physical_batch_size > policy.max_physical_batch_size:
        refusals.append(Refusal("batch_above_cap", "batch size above the policy maximum"))
    return refusals


def _data_refusals(body: TrainingJobIn, policy: TrainingPolicy) -> list[Refusal]:
    """What the model kind needs of the data: a recommender its item catalogue and events, the others a label."""
    refusals: list[Refusal] = []
    if body.kind == "recommender":
        if not body.items or len(body.items) < 2:
            refusals.append(Refusal("items_required", "a recommender needs the public item catalogue (2+ items)"))
        elif len(body.items) > policy.max_items or len(set(body.items)) != len(body.items):
            refusals.append(Refusal("items_invalid", f"items must be distinct, at most {policy.max_items}"))
        if (body.training.max_interactions or policy.max_interactions) > policy.max_interactions:
            refusals.append(
                Refusal("interactions_above_cap", f"at most {policy.max_interactions} interactions per person")
            )
        if not body.dataset.event_categories:
            refusals.append(Refusal("event_categories_required", "a recommender trains on events"))
    elif body.label is None:
        refusals.append(Refusal("label_required", "this model kind needs a label (an event category)"))
    elif body.label.event_category not in body.dataset.event_categories:
        refusals.append(Refusal("label_not_in_dataset", "the label's event category must be in the dataset"))
    return refusals
