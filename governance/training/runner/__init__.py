"""The ``training.run`` job: gateway data -> DP training -> artifact, committing each phase in short transactions
of its own (the service modules never commit). Modules: ``job`` (the handler and its phases), ``data`` (the
training data through the gateway), ``trainers`` (one trainer per model kind), ``pacing`` (lease and
cancellation while a phase runs long).

torch, opacus, scikit-learn and diffprivlib load only when a job trains: the ml modules import them inside
their functions, so a web worker that registers the handler stays small.
"""

from __future__ import annotations

from governance.training.runner.job import run_training_job

__all__ = ["run_training_job"]
