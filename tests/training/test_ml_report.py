"""Model card content, id checks on weights, and no heavy import when the package is loaded."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import numpy as np
import pytest

from governance.training.ml.artifacts import IdentifierLeakError, assert_no_identifiers, weights_to_bytes
from governance.training.ml.report import model_card
from governance.training.ml.result import TrainedModel


def opacus_like_model(**privacy: object) -> TrainedModel:
    return TrainedModel(
        kind="classifier",
        architecture={"type": "mlp", "n_features": 3, "n_classes": 2, "hidden_units": 4},
        weights={"0.weight": np.zeros((4, 3), dtype=np.float32)},
        privacy={
            "accountant": "prv",
            "epsilon": 2.5,
            "epsilon_rdp": 2.9,
            "delta": 1e-5,
            "noise_multiplier": 1.1,
            "sample_rate": 0.01,
            "steps": 500,
            "max_grad_norm": 1.0,
            "noise_seed_fixed": False,
            **privacy,
        },
        metrics={"accuracy": 0.8, "auc": 0.9},
        unit_of_privacy="example",
        n_train=800,
        n_test=200,
        seed=42,
    )


def test_model_card_states_the_privacy_report_and_the_rng_truth() -> None:
    snapshot = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    card = model_card(
        opacus_model := opacus_like_model(),
        dataset={"release_id": "r-1", "fields": ["age_band"]},
        consent_snapshot_at=snapshot,
        counts={"people": 1003, "rows": 9870, "method": "dp", "epsilon": 0.05},
        purpose="personalization",
    )
    json.dumps(card)  # JSON-ready
    privacy = card["privacy"]
    for key in ("epsilon", "delta", "accountant", "noise_multiplier", "sample_rate", "steps", "max_grad_norm"):
        assert privacy[key] == opacus_model.privacy[key]
    assert privacy["unit_of_privacy"] == "example"
    assert privacy["secure_rng"] is False
    assert "torchcsprng" in privacy["rng_statement"]
    assert card["data"]["consent_snapshot_at"] == "2026-11-28T12:00:00+00:00"
    assert card["data"]["n_subjects"] == 1003  # the DP count
    assert card["data"]["counts"]["method"] == "dp"
    assert "n_train" not in card["data"]
    assert "n_test" not in card["data"]
    assert card["seed"] == 42
    assert {"torch", "opacus", "diffprivlib", "python"} <= set(card["libraries"])
    assert card["libraries"]["torch"].startswith("2.13.0")


def test_fixed_noise_seed_is_flagged_as_test_only() -> None:
    card = model_card(opacus_like_model(noise_seed_fixed=True))
    assert card["caveats"][0].startswith("TEST ONLY")


def test_weights_refuse_ids_pseudonyms_and_integer_tensors() -> None:
    good = {"0.weight": np.zeros((2, 2), dtype=np.float32)}
    assert_no_identifiers(good, {"kind": "classifier"})
    subject = str(uuid.uuid4())
    with pytest.raises(IdentifierLeakError) as raised:
        assert_no_identifiers({f"user.{subject}": np.zeros(2)}, {})
    assert subject not in str(raised.value)
    with pytest.raises(IdentifierLeakError):
        assert_no_identifiers(good, {"note": f"trained for {subject}"})
    with pytest.raises(IdentifierLeakError):
        assert_no_identifiers(good, {"note": "pseudonym p_8f3a2b"}, forbidden=["p_8f3a2b"])
    with pytest.raises(IdentifierLeakError):
        weights_to_bytes({"ids": np.arange(3)}, architecture={}, kind="classifier")


def test_importing_the_training_package_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys, governance.training, governance.training.ml.classifier, governance.training.ml.recommender, "
        "governance.training.ml.dpl, governance.training.ml.report, governance.training.ml.artifacts; "
        "heavy = {'torch', 'opacus', 'sklearn', 'diffprivlib', 'pandas', 'pyarrow', 'safetensors'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_creating_the_app_with_training_imports_no_heavy_library(tmp_path) -> None:  # type: ignore[no-untyped-def]
    code = (
        "import sys, json\n"
        "from governance import create_app\n"
        f"app = create_app({{'ENV': 'test', 'INSTANCE_PATH': {str(tmp_path)!r}, 'LOG_LEVEL': 'ERROR'}})\n"
        "rules = [r.rule for r in app.url_map.iter_rules()]\n"
        "heavy = ['torch', 'opacus', 'sklearn', 'diffprivlib', 'safetensors', 'scipy', 'pandas', 'pyarrow']\n"
        "print(json.dumps({'training': '/api/v1/training/jobs' in rules, "
        "'heavy': sorted(m for m in heavy if m in sys.modules)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"training": True, "heavy": []}
