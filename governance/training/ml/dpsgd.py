"""The one DP-SGD loop every Opacus model kind shares.

Poisson sampling, ``make_private_with_epsilon`` (PRV accountant by default), ``BatchMemoryManager`` to bound
memory, ``ModuleValidator`` to fix or reject layers, a cancellation check between optimizer steps and progress
reports with the epsilon spent so far. torch and opacus are imported inside the functions (web workers import
this module without them).
"""

from __future__ import annotations

import math
import secrets
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from governance.training.ml.accounting import epsilon_for, quiet_accountant_warnings

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch
    from torch import nn
    from torch.utils.data import Dataset

__all__ = [
    "DPSGDConfig",
    "DPSGDOutcome",
    "Progress",
    "TrainingHooks",
    "UnsupportedModuleError",
    "batches_per_epoch",
    "prepare_module",
    "train_dp_sgd",
]

Accountant = Literal["prv", "rdp"]


class UnsupportedModuleError(ValueError):
    """Raised when a module has layers Opacus cannot compute per-sample gradients for, even after fixing."""


@dataclass(frozen=True, kw_only=True)
class DPSGDConfig:
    """What a DP-SGD run may spend and how it trains.

    ``seed`` fixes initialization and the held-out split and is reported. ``noise_seed`` fixes the Gaussian noise
    and the Poisson sampling; leave it ``None`` in production (a fresh 63-bit secret from the OS is drawn and never
    stored or reported): anyone who knows it could subtract the noise. Tests set it for reproducibility.
    """

    target_epsilon: float
    target_delta: float
    epochs: int
    batch_size: int
    max_grad_norm: float
    learning_rate: float = 0.01
    max_physical_batch_size: int = 256
    seed: int = 0
    noise_seed: int | None = None
    accountant: Accountant = "prv"
    # A PUBLIC dataset size (e.g. a DP count) for the Poisson sampling rate q = 1 / round(public_examples /
    # batch_size). None uses the true size: only for library use and tests, since q then reveals it.
    public_examples: int | None = None
    # Small networks train fastest on one thread; more threads only add synchronization (and contend with the
    # web workers on the same machine).
    threads: int = 1

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.max_physical_batch_size < 1:
            raise ValueError("epochs, batch_size and max_physical_batch_size must be positive")
        if not (self.max_grad_norm > 0 and math.isfinite(self.max_grad_norm)):
            raise ValueError("max_grad_norm must be a positive finite number")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ValueError("learning_rate must be a positive finite number")
        if self.threads < 1:
            raise ValueError("threads must be at least 1")
        if self.accountant not in ("prv", "rdp"):
            raise ValueError("accountant must be 'prv' or 'rdp'")
        if self.public_examples is not None and self.public_examples < 1:
            raise ValueError("public_examples must be at least 1")


@dataclass(frozen=True)
class Progress:
    """Reported after every epoch (and when a run stops early)."""

    epoch: int
    epochs: int
    step: int
    total_steps: int
    loss: float
    epsilon_spent: float


@dataclass
class TrainingHooks:
    """Callbacks a job passes in: ``progress`` after each epoch; ``should_stop`` polled between optimizer steps."""

    progress: Callable[[Progress], None] | None = None
    should_stop: Callable[[], bool] | None = None


@dataclass(frozen=True)
class DPSGDOutcome:
    """Everything the privacy report needs about a finished (or stopped) DP-SGD run."""

    accountant: Accountant
    epsilon: float
    epsilon_rdp: float
    epsilon_prv: float
    delta: float
    target_epsilon: float
    noise_multiplier: float
    sample_rate: float
    steps: int
    planned_steps: int
    epochs_completed: int
    max_grad_norm: float
    expected_batch_size: int
    max_physical_batch_size: int
    n_examples: int  # the true size: kept for the job, never put in a report
    public_examples: int
    stopped_early: bool
    noise_seed_fixed: bool
    module_fixes: list[str] = field(default_factory=list)
    epoch_losses: list[float] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accountant": self.accountant,
            "epsilon": self.epsilon,
            "epsilon_prv": self.epsilon_prv,
            "epsilon_rdp": self.epsilon_rdp,
            "delta": self.delta,
            "target_epsilon": self.target_epsilon,
            "noise_multiplier": self.noise_multiplier,
            "sample_rate": self.sample_rate,
            "steps": self.steps,
            "planned_steps": self.planned_steps,
            "epochs_completed": self.epochs_completed,
            "max_grad_norm": self.max_grad_norm,
            "expected_batch_size": self.expected_batch_size,
            "max_physical_batch_size": self.max_physical_batch_size,
            "public_examples": self.public_examples,
            "gradient_normalizer": self.expected_batch_size,
            "gradient_normalizer_source": "expected batch size declared in the job spec (public constant)",
            "stopped_early": self.stopped_early,
            "sampling": "poisson",
            "noise_seed_fixed": self.noise_seed_fixed,
            "module_fixes": list(self.module_fixes),
            "epoch_losses": list(self.epoch_losses),
        }


def batches_per_epoch(public_examples: int, batch_size: int) -> int:
    """k in the sampling rate q = 1/k: the public size over the expected batch size, at least 2."""
    # at least 2: q = 1 would be no sampling at all (and PRV's discretization divides by log(1 - q))
    return max(2, round(public_examples / batch_size))


def prepare_module(module: nn.Module) -> tuple[nn.Module, list[str]]:
    """Return a module Opacus can train and the list of fixes applied (e.g. BatchNorm replaced by GroupNorm).

    Raises :class:`UnsupportedModuleError` naming the offending layers when ``ModuleValidator.fix`` cannot help.
    """
    from opacus.validators import ModuleValidator  # deferred: heavy: opacus stays out of web workers

    errors = ModuleValidator.validate(module, strict=False)
    if not errors:
        return module, []
    fixes = sorted({str(e) for e in errors})
    fixed = ModuleValidator.fix(module)
    remaining = ModuleValidator.validate(fixed, strict=False)
    if remaining:
        raise UnsupportedModuleError("unsupported layers: " + "; ".join(sorted({str(e) for e in remaining})))
    return fixed, fixes


def train_dp_sgd(
    module: nn.Module,
    dataset: Dataset,
    loss_fn: Callable[[nn.Module, tuple[torch.Tensor, ...]], torch.Tensor],
    config: DPSGDConfig,
    hooks: TrainingHooks | None = None,
) -> tuple[nn.Module, DPSGDOutcome]:
    """Train ``module`` on ``dataset`` with DP-SGD so that (target_epsilon, target_delta) is never exceeded.

    ``loss_fn(model, batch)`` returns the batch-mean loss. One dataset item is one unit of privacy. The returned
    module is the plain (unwrapped) module with the trained weights. If ``hooks.should_stop`` returns true the run
    stops after the current optimizer step and the outcome reports the epsilon actually spent.
    """
    import torch  # deferred: heavy: torch stays out of web workers

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        return _train(module, dataset, loss_fn, config, hooks or TrainingHooks())
    finally:
        torch.set_num_threads(previous_threads)


@dataclass
class _PrivateRun:
    """A module, optimizer and loader made private by Opacus, with what the run's accounting needs."""

    engine: Any
    module: Any
    optimizer: Any
    loader: Any
    sample_rate: float
    noise_multiplier: float
    planned_steps: int  # the noise multiplier was calibrated for exactly this many steps; never take more
    expected_batch_size: int
    n_examples: int
    public_examples: int
    module_fixes: list[str]
    started: float  # perf_counter when calibration began

    def steps_taken(self) -> int:
        return sum(s for _, _, s in self.engine.accountant.history)

    def spent(self, config: DPSGDConfig) -> float:
        return epsilon_for(
            noise_multiplier=self.noise_multiplier,
            sample_rate=self.sample_rate,
            steps=self.steps_taken(),
            delta=config.target_delta,
            accountant=config.accountant,
        )


@dataclass
class _Epochs:
    """What the training loop reports back: losses per epoch, whether it stopped early, time spent accounting."""

    losses: list[float] = field(default_factory=list)
    stopped: bool = False
    completed: int = 0
    accounting_seconds: float = 0.0


def _train(
    module: nn.Module,
    dataset: Dataset,
    loss_fn: Callable[[nn.Module, tuple[torch.Tensor, ...]], torch.Tensor],
    config: DPSGDConfig,
    hooks: TrainingHooks,
) -> tuple[nn.Module, DPSGDOutcome]:
    run = _make_private(module, dataset, config)
    calibrated = time.perf_counter()
    run.module.train()
    epochs = _run_epochs(run, loss_fn, config, hooks)
    outcome = _outcome(run, epochs, config, calibrated=calibrated)
    if outcome.epsilon > config.target_epsilon * (1 + 1e-9):
        # Cannot happen when steps <= planned_steps; refuse to hand out a model whose report would exceed it.
        raise RuntimeError("privacy accounting exceeded the target epsilon")
    trained = run.module.to_standard_module()  # drops Opacus hooks and per-sample gradient buffers
    trained.eval()
    return trained, outcome


def _make_private(module: nn.Module, dataset: Dataset, config: DPSGDConfig) -> _PrivateRun:
    """Fix the module's layers, sample with Poisson at the public rate and calibrate the noise for the target."""
    # deferred: heavy: torch and opacus stay out of web workers
    import torch
    from opacus import PrivacyEngine
    from opacus.data_loader import DPDataLoader

    module, fixes = prepare_module(module)
    n_examples = len(dataset)  # type: ignore[arg-type]
    if n_examples < 1:
        raise ValueError("cannot train on an empty dataset")

    noise_seed = config.noise_seed if config.noise_seed is not None else secrets.randbits(63)
    # Sampling and noise come from generators seeded by the secret, never from the reported seed.
    sampling_generator = torch.Generator().manual_seed(noise_seed)
    noise_generator = torch.Generator().manual_seed(noise_seed ^ 0x5DEECE66D)
    del noise_seed

    public_examples = config.public_examples if config.public_examples is not None else n_examples
    # Poisson sampling at q = 1/k with k from the PUBLIC size only (a DP count in jobs), so that q, the noise
    # multiplier calibrated for it and the step count reveal nothing exact about the private dataset
    loader = DPDataLoader(dataset, sample_rate=1.0 / batches_per_epoch(public_examples, config.batch_size),
                          generator=sampling_generator)  # fmt: skip
    optimizer = torch.optim.Adam(module.parameters(), lr=config.learning_rate)
    with warnings.catch_warnings():
        # The secure-RNG warning is stated in every privacy report instead (torchcsprng does not exist for
        # current PyTorch), so it need not reach the worker's log on every job.
        warnings.filterwarnings("ignore", message="Secure RNG turned off", category=UserWarning)
        engine = PrivacyEngine(accountant=config.accountant)
    started = time.perf_counter()
    with quiet_accountant_warnings():
        private_module, dp_optimizer, dp_loader = engine.make_private_with_epsilon(
            module=module,
            optimizer=optimizer,
            data_loader=loader,
            target_epsilon=config.target_epsilon,
            target_delta=config.target_delta,
            epochs=config.epochs,
            max_grad_norm=config.max_grad_norm,
            poisson_sampling=False,  # the loader above already samples with Poisson at the public rate
            noise_generator=noise_generator,
        )
    # Opacus divides the noisy gradient sum by int(N * q), which differs between neighbouring datasets (Opacus
    # issue #819): normalize by the public expected batch size of the job spec instead
    dp_optimizer.expected_batch_size = config.batch_size
    sample_rate = 1 / len(loader)
    return _PrivateRun(
        engine=engine,
        module=private_module,
        optimizer=dp_optimizer,
        loader=dp_loader,
        sample_rate=sample_rate,
        noise_multiplier=float(dp_optimizer.noise_multiplier),
        planned_steps=int(config.epochs / sample_rate),
        expected_batch_size=int(dp_optimizer.expected_batch_size),
        n_examples=n_examples,
        public_examples=public_examples,
        module_fixes=fixes,
        started=started,
    )


def _run_epochs(
    run: _PrivateRun,
    loss_fn: Callable[[nn.Module, tuple[torch.Tensor, ...]], torch.Tensor],
    config: DPSGDConfig,
    hooks: TrainingHooks,
) -> _Epochs:
    """Train epoch by epoch until the planned steps are taken or ``hooks.should_stop`` says stop."""
    epochs = _Epochs()
    for epoch in range(1, config.epochs + 1):
        epoch_loss, epochs.stopped = _run_epoch(run, loss_fn, config, hooks)
        epochs.losses.append(epoch_loss)
        if not epochs.stopped:
            epochs.completed = epoch
        if hooks.progress is not None:
            tick = time.perf_counter()
            epsilon_so_far = run.spent(config)
            epochs.accounting_seconds += time.perf_counter() - tick
            hooks.progress(
                Progress(epoch, config.epochs, run.steps_taken(), run.planned_steps, epoch_loss, epsilon_so_far)
            )
        if epochs.stopped or run.steps_taken() >= run.planned_steps:
            break
    return epochs


def _run_epoch(
    run: _PrivateRun,
    loss_fn: Callable[[nn.Module, tuple[torch.Tensor, ...]], torch.Tensor],
    config: DPSGDConfig,
    hooks: TrainingHooks,
) -> tuple[float, bool]:
    """One pass over the Poisson-sampled loader in memory-bounded physical batches: (mean loss, stopped)."""
    # deferred: heavy: opacus stays out of web workers
    from opacus.utils.batch_memory_manager import BatchMemoryManager

    loss_sum, loss_batches = 0.0, 0
    stopped = False
    with BatchMemoryManager(
        data_loader=run.loader,
        max_physical_batch_size=config.max_physical_batch_size,
        optimizer=run.optimizer,
    ) as memory_safe_loader:
        for batch in memory_safe_loader:
            if run.steps_taken() >= run.planned_steps:
                break
            before = run.steps_taken()
            run.optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(run.module, tuple(batch))
            with warnings.catch_warnings():
                # Opacus's hooks on the first layer fire although inputs need no gradient: expected.
                warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)
                loss.backward()
            run.optimizer.step()
            if len(batch[0]) > 0:
                loss_sum += float(loss.detach())
                loss_batches += 1
            if run.steps_taken() > before and hooks.should_stop is not None and hooks.should_stop():
                stopped = True
                break
    return (loss_sum / loss_batches if loss_batches else float("nan")), stopped


def _outcome(run: _PrivateRun, epochs: _Epochs, config: DPSGDConfig, *, calibrated: float) -> DPSGDOutcome:
    """The run's privacy report: epsilon by both accountants at the steps actually taken, and the timings."""
    trained_at = time.perf_counter()
    steps = run.steps_taken()
    epsilon = partial(
        epsilon_for,
        noise_multiplier=run.noise_multiplier,
        sample_rate=run.sample_rate,
        steps=steps,
        delta=config.target_delta,
    )
    eps_prv = epsilon(accountant="prv")
    eps_rdp = epsilon(accountant="rdp")
    return DPSGDOutcome(
        accountant=config.accountant,
        epsilon=eps_prv if config.accountant == "prv" else eps_rdp,
        epsilon_prv=eps_prv,
        epsilon_rdp=eps_rdp,
        delta=config.target_delta,
        target_epsilon=config.target_epsilon,
        noise_multiplier=run.noise_multiplier,
        sample_rate=run.sample_rate,
        steps=steps,
        planned_steps=run.planned_steps,
        epochs_completed=epochs.completed,
        max_grad_norm=config.max_grad_norm,
        expected_batch_size=run.expected_batch_size,
        max_physical_batch_size=config.max_physical_batch_size,
        n_examples=run.n_examples,
        public_examples=run.public_examples,
        stopped_early=epochs.stopped,
        noise_seed_fixed=config.noise_seed is not None,
        module_fixes=run.module_fixes,
        epoch_losses=epochs.losses,
        timings={
            "calibration_seconds": calibrated - run.started,
            "training_seconds": trained_at - calibrated - epochs.accounting_seconds,
            "accounting_seconds": epochs.accounting_seconds + time.perf_counter() - trained_at,
        },
    )
