"""Differentially private model training on numpy arrays (no database, no Flask).

Every module here imports torch, opacus, scikit-learn and diffprivlib only inside the functions that train, so
importing this package (and anything a web worker loads) stays cheap. The job handlers in
``governance.training.tasks`` turn a gateway dataset into arrays and call:

- :func:`governance.training.ml.classifier.train_classifier` (Opacus DP-SGD, example-level DP),
- :func:`governance.training.ml.recommender.train_recommender` (Opacus DP-SGD, user-level DP),
- :func:`governance.training.ml.dpl.train_dpl_logistic` / :func:`~governance.training.ml.dpl.train_dpl_naive_bayes`
  (diffprivlib, pure epsilon-DP).
"""
