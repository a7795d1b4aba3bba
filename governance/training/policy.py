"""policies/training.yaml: limits on what a training job may ask for."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from governance.core.runtime import Slot
from governance.policyfiles import load_yaml

__all__ = ["TRAINING_POLICY", "TrainingPolicy", "load_policy"]


class TrainingPolicy(BaseModel):
    """Validated content of policies/training.yaml (see the comments in that file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = Field(1, ge=1, le=1)
    epsilon_cap: float = Field(10.0, gt=0, le=100)
    max_delta: float = Field(1e-4, gt=0, lt=1)
    max_interactions: int = Field(50, ge=1, le=100_000)
    max_epochs: int = Field(100, ge=1)
    max_batch_size: int = Field(10_000, ge=1)
    max_physical_batch_size: int = Field(1024, ge=1)
    max_items: int = Field(20_000, ge=2)
    feature_buckets: int = Field(128, ge=8, le=1 << 16)
    download_link_minutes: int = Field(15, ge=1, le=24 * 60)
    max_attempts: int = Field(3, ge=1, le=20)
    # model cards publish DP counts (people, rows), charged to the job's own epsilon
    count_epsilon: float = Field(0.05, gt=0, le=1)
    count_max_rows_per_person: int = Field(100, ge=1, le=100_000)


def load_policy(policies_dir: Path) -> TrainingPolicy:
    """Load policies/training.yaml (defaults when absent); raises PolicyFileError naming file and line."""
    path = policies_dir / "training.yaml"
    if not path.exists():
        return TrainingPolicy()
    return load_yaml(path, TrainingPolicy)


# where the app's loaded policies/training.yaml lives (filled at start-up, read by training.current_policy())
TRAINING_POLICY = Slot("training.policy", TrainingPolicy)
