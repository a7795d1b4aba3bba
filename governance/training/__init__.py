"""The training domain. See docs/contracts.md for what other domains may call (`governance.training.service`);
governance/composition.py wires it into the app (`policies/training.yaml`, API, jobs).

Nothing here imports torch, opacus, scikit-learn or diffprivlib: they load inside the job that trains.
"""
