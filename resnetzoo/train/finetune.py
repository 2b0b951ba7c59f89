"""fine_tune: a pretrained network adapted to new data in two phases, each a :meth:`Trainer.fit`.

1. **The head alone.** The backbone is frozen (``requires_grad=False``) and its BatchNorm layers
   stay in eval mode, so the backbone is a fixed function of its input; only the classifier
   (and, with ``train_bn``, the norm layers' scales and shifts) trains, for ``freeze_epochs``
   epochs of a one-cycle schedule peaking at ``lr``. A freshly initialised head sends large,
   random gradients back; freezing keeps them out of the pretrained features until the head
   makes sense (Howard & Ruder 2018, ULMFiT's gradual unfreezing; fastai's ``fine_tune``).
2. **Everything.** Every parameter trains for ``epochs`` epochs of one-cycle with
   discriminative learning rates: the head at ``lr`` and each level closer to the input
   ``lr_mult`` times the level after it. Early layers hold generic features that transfer
   as they are, later ones more task-specific ones (Yosinski et al. 2014), so the early ones
   move least. BatchNorm layers are in training mode again: their statistics adapt to the new
   data together with the weights.

Why the BatchNorm statistics are frozen in phase 1: the pretrained weights were trained with
the pretrained statistics, so a frozen backbone computes the features it learned only with
those. In training mode BatchNorm would normalise each batch by its own statistics (noisy for
small batches of a small data set) and drift its running estimates towards the new data, so
the head would be fitted to features that differ from the ones it is evaluated on, and the
running statistics would have changed under weights that could not follow. In eval mode the
head learns on exactly the features it will see.

The levels of a network with ``S`` stages, from the output back (``m`` = ``lr_mult``)::

    head           lr
    stage S        lr * m          (with the modules after the last stage, e.g. a final norm)
    ...
    stage 1        lr * m**S
    stem           lr * m**(S + 1) (everything before the first stage)
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from .._validate import check_bool, check_instance, check_int, check_number
from ..errors import ArgumentError
from ._run_lock import run_folder_lock
from ._setup import check_labels_fit
from .callbacks import Callback
from .checkpoint import list_checkpoints
from .config import TrainConfig
from .distributed import DistributedEnv
from .run import RunFolder
from .trainer import Trainer, parameter_groups, seed_everything

__all__ = ["fine_tune", "stage_levels"]

logger = logging.getLogger(__name__)

# Layers whose scales and shifts train in phase 1 with train_bn=True. _BatchNorm is torch's base of
# BatchNorm1d/2d/3d and SyncBatchNorm (timm's freeze_batch_norm_2d relies on it too).
_NORM_LAYERS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm)
_PHASES = ("phase1", "phase2")  # the sub-folders of TrainConfig.out_dir, one per Trainer.fit


def stage_levels(model: nn.Module) -> list[tuple[str, list[nn.Parameter]]]:
    """The model's parameters by depth: stem, each stage, head, from the input to the output.

    Parameters before the first stage form the stem; those after a stage and outside the head
    (a pre-activation network's final norm) join that stage. Stages are named as the model names
    them (``layer1`` ...). Every parameter appears exactly once.

    Raises:
        TypeError: If the model has no ``stages`` or ``get_classifier`` (as :class:`~resnetzoo.CifarResNet`).
    """
    _check_model(model)
    stages = list(model.stages)
    head = model.get_classifier()
    names = {id(module): name for name, module in model.named_modules()}
    level_of: dict[int, int] = {}
    for level, module in enumerate([*stages, head], start=1):
        for param in module.parameters():
            level_of[id(param)] = level
    levels: list[tuple[str, list[nn.Parameter]]] = [
        ("stem", []),
        *((names.get(id(stage), f"stage{i + 1}"), []) for i, stage in enumerate(stages)),
        ("head", []),
    ]
    current = 0
    for param in model.parameters():
        level = level_of.get(id(param))
        if level is None:  # outside the stages and the head: goes with what came before it
            level = min(current, len(stages))
        else:
            current = level
        levels[level][1].append(param)
    return levels


def _check_model(model: nn.Module) -> None:
    check_instance("model", model, nn.Module, what="a torch.nn.Module")
    if not hasattr(model, "stages") or not callable(getattr(model, "get_classifier", None)):
        raise TypeError(
            f"fine_tune needs a model that names its stages and its head (model.stages and "
            f"model.get_classifier(), as resnetzoo's CifarResNet does); {type(model).__name__} does not"
        )


class _DiscriminativeTrainer(Trainer):
    """A Trainer whose optimizer gives each level of :func:`stage_levels` its own lr, head first."""

    def __init__(self, model: nn.Module, config: TrainConfig, callbacks: Sequence[Callback], lr_mult: float):
        super().__init__(model, config, callbacks)
        self.lr_mult = lr_mult

    def param_groups(self) -> list[dict[str, Any]]:
        # Computed from self.model when fit builds the optimizer: after the move to the device and any
        # SyncBatchNorm conversion. Head first, so that trainer.lr and the history's lr are the head's.
        cfg = self.config
        levels = stage_levels(self.model)
        groups = []
        for depth, (name, params) in enumerate(reversed(levels)):
            trainable = [p for p in params if p.requires_grad]
            for group in parameter_groups(trainable, cfg.weight_decay, cfg.decay_norm_and_bias):
                groups.append({**group, "lr": cfg.lr * self.lr_mult**depth, "name": name})
        return groups


class _FrozenBatchNormStatistics(Callback):
    """Keeps the BatchNorm layers outside the head in eval mode: their running statistics stay put."""

    def on_epoch_start(self, trainer: Trainer) -> None:
        head = {id(m) for m in trainer.model.get_classifier().modules()}
        for module in trainer.model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and id(module) not in head:
                module.eval()


def fine_tune(
    model: nn.Module,
    train_loader: Iterable[Any],
    *,
    num_classes: int | None = None,
    val_loader: Iterable[Any] | None = None,
    epochs: int = 5,
    freeze_epochs: int = 1,
    lr: float = 0.1,
    lr_mult: float = 0.5,
    train_bn: bool = False,
    config: TrainConfig | None = None,
    callbacks: Sequence[Callback] = (),
    resume: str | None = None,
) -> nn.Module:
    """Fine-tune a (pretrained) model on new data: the head on a frozen backbone, then everything.

    Phase 1 trains a new head for ``freeze_epochs`` epochs with the backbone frozen and its
    BatchNorm statistics fixed; phase 2 trains the whole network for ``epochs`` epochs with a
    learning rate per stage, ``lr`` for the head and ``lr_mult`` times less for each stage
    closer to the input (see :mod:`resnetzoo.train.finetune` for the levels and why). Both
    phases use a one-cycle schedule and run on :class:`~resnetzoo.Trainer`: AMP, channels_last,
    the progress bar, callbacks, checkpoints and resuming all apply.

    The model is changed in place and returned, holding the weights of the epoch with the best
    validation top-1 over both phases (the last weights without ``val_loader``), on the
    configured device. ``model.fine_tune_history`` holds one dict of metrics per epoch, as
    :attr:`Trainer.history <resnetzoo.Trainer.history>` does, with ``phase`` (1 or 2) and
    ``epoch`` counted over both phases. Parameters frozen before the call stay frozen.

    ``model.pretrained_cfg`` then describes the new weights: the new data's class names, data set and
    normalisation (as the training loader tells them), the selected validation top-1, and
    ``base_model``, the weights it started from. With ``config.out_dir``, each phase is a run folder
    (``out_dir/phase1``, ``out_dir/phase2``) and ``out_dir/best/`` receives the returned model with its
    record, as ``from_pretrained`` and every CLI command's ``--weights`` read it.

    Args:
        model: A network with ``stages`` and ``get_classifier()`` (any resnetzoo model), e.g.
            from ``resnet20_cifar(pretrained=True)``, :func:`~resnetzoo.from_pretrained`,
            :func:`~resnetzoo.load_checkpoint`, or trained by you.
        train_loader: Training batches ``(images, labels)``: a
            :class:`~resnetzoo.data.DeviceLoader` or a :class:`~torch.utils.data.DataLoader`,
            images of any size (the models pool adaptively) with ``model.in_chans`` channels.
        num_classes: Classes of the new task: the head is replaced by a freshly initialised one
            of this size (``reset_classifier``), also when the old one had as many classes. None
            keeps the head (more training on the same classes).
        val_loader: Validation batches, for selecting the best epoch; None keeps the last.
        epochs: Epochs of phase 2 (everything trains); 0 trains the head only.
        freeze_epochs: Epochs of phase 1 (the head alone); 0 skips it.
        lr: Peak learning rate of the head, in both phases. The default suits SGD (the config's
            default optimizer; use about 1e-3 with AdamW): it was the best of 0.01, 0.03, 0.1 and 0.3
            on the validation split of ``benchmarks/bench_finetune.py``.
        lr_mult: Ratio of the lr of each level to the next one towards the output, in (0, 1];
            1 gives every layer ``lr``.
        train_bn: Also train the scales and shifts of the backbone's norm layers in phase 1
            (their running statistics stay fixed either way).
        config: Everything else (batch size of loaders it builds, optimizer, weight decay, AMP,
            device, seed, out_dir, early stopping, ...); ``TrainConfig()`` by default. Its
            ``epochs``, ``lr`` and ``schedule`` are replaced by those of each phase.
        callbacks: Extra callbacks, given to each phase's Trainer (so ``on_fit_start`` and
            ``on_fit_end`` run once per phase; ``trainer.config.out_dir`` tells the phases apart).
        resume: ``"auto"`` continues an interrupted run from the checkpoints in
            ``config.out_dir``: a finished phase is not trained again, an interrupted one
            continues from its newest checkpoint. None starts afresh.

    Returns:
        ``model``, tuned.

    Raises:
        TypeError: If the model does not name its stages and head, or ``num_classes`` is given
            and the model has no ``reset_classifier``.
        ValueError: If an argument is out of range, the model has no head and ``num_classes`` is
            None, or ``resume`` is given without ``config.out_dir``.
        FileExistsError: If ``config.out_dir`` holds checkpoints of an earlier run and ``resume``
            is None.
        RunFolderInUseError: If another running process uses ``config.out_dir``.
        CheckpointError: If a checkpoint to resume from is unreadable or does not fit.
        NonFiniteLossError: If the loss becomes NaN or infinite.

    Example:
        >>> import resnetzoo as rz
        >>> model = rz.resnet56_cifar(pretrained=True)  # doctest: +SKIP
        >>> model = rz.fine_tune(model, train_loader, num_classes=5, val_loader=val_loader)  # doctest: +SKIP
        >>> model.fine_tune_history[-1]["val_top1"]  # doctest: +SKIP
        0.912
    """
    _check_model(model)
    _check_arguments(num_classes, epochs, freeze_epochs, lr, lr_mult, train_bn, resume)
    _check_loader_labels(model, num_classes, train_loader, val_loader)
    base = config if config is not None else TrainConfig()
    out = Path(base.out_dir) if base.out_dir is not None else None
    if resume is not None and out is None:
        raise ValueError("resume='auto' continues the run in TrainConfig.out_dir, which is None")
    # The main process owns out_dir (phase1/, phase2/, best/) from the check for an earlier run on.
    owns_folder = out is not None and DistributedEnv.from_env().is_main
    with run_folder_lock(out) if owns_folder else contextlib.nullcontext():
        phases = (epochs, freeze_epochs, lr, lr_mult, train_bn)
        return _fine_tune(model, train_loader, num_classes, val_loader, *phases, base, callbacks, resume)


def _fine_tune(
    model: nn.Module,
    train_loader: Iterable[Any],
    num_classes: int | None,
    val_loader: Iterable[Any] | None,
    epochs: int,
    freeze_epochs: int,
    lr: float,
    lr_mult: float,
    train_bn: bool,
    base: TrainConfig,
    callbacks: Sequence[Callback],
    resume: str | None,
) -> nn.Module:
    out = Path(base.out_dir) if base.out_dir is not None else None
    if resume is None and out is not None:
        earlier = [out / phase for phase in _PHASES if list_checkpoints(out / phase / "checkpoints")]
        if earlier:
            raise FileExistsError(
                f"{out} holds checkpoints of an earlier fine-tuning run (in {', '.join(map(str, earlier))}), "
                "which a new run would overwrite; pass resume='auto' to continue it, or choose another "
                "out_dir"
            )
    if base.seed is not None:
        # The new head's random weights come from the seed as well, so that the same call gives the same
        # run: each phase's fit seeds only what comes after it (the same seed on every process, as DDP
        # starts all of them from rank 0's weights anyway).
        seed_everything(base.seed)
    _set_head(model, num_classes)

    def phase_config(phase: int, phase_epochs: int) -> TrainConfig:
        return dataclasses.replace(
            base,
            epochs=phase_epochs,
            lr=lr,
            schedule="onecycle",
            out_dir=str(out / _PHASES[phase - 1]) if out is not None else None,
        )

    runs: list[tuple[int, Trainer]] = []
    if freeze_epochs > 0:
        trainable = [(p, p.requires_grad) for p in model.parameters()]
        _freeze_backbone(model, train_bn)
        try:
            trainer = Trainer(
                model, phase_config(1, freeze_epochs), [*callbacks, _FrozenBatchNormStatistics()]
            )
            if trainer.is_main_process:
                logger.info(
                    "fine-tuning phase 1: the head alone for %d epoch(s), lr %g, backbone frozen",
                    freeze_epochs,
                    lr,
                )
            trainer.fit(train_loader, val_loader, resume=resume)
        finally:
            for param, flag in trainable:
                param.requires_grad_(flag)
        model = trainer.model
        runs.append((1, trainer))
    if epochs > 0:
        trainer = _DiscriminativeTrainer(model, phase_config(2, epochs), callbacks, lr_mult)
        if trainer.is_main_process:
            logger.info(
                "fine-tuning phase 2: everything for %d epoch(s), lr %g for the head, x%g per level below",
                epochs,
                lr,
                lr_mult,
            )
        trainer.fit(train_loader, val_loader, resume=resume)
        model = trainer.model
        runs.append((2, trainer))

    history, offsets = [], {}
    for phase, run in runs:
        offsets[phase] = len(history)
        for i, row in enumerate(run.history, 1):
            metrics = {k: v for k, v in row.items() if k != "epoch"}
            history.append({"epoch": offsets[phase] + i, "phase": phase, **metrics})
    phase, run = _select(runs)
    if run is not runs[-1][1]:
        model.load_state_dict(run.best_state)  # type: ignore[arg-type]
    if run.best_epoch is not None and run.config.restore_best:
        selected = history[offsets[phase] + run.best_epoch]
    else:
        selected = history[-1] if history else {"epoch": 0, "phase": phase}
    if run.is_main_process:
        if "val_top1" in selected:
            logger.info(
                "fine-tuning selected phase %d, epoch %d of %d: val top-1 %.2f%%",
                selected["phase"],
                selected["epoch"],
                len(history),
                100 * selected["val_top1"],
            )
        if out is not None:
            scores = {"val_top1": float(selected["val_top1"])} if "val_top1" in selected else {}
            # The record: what the phases' Trainers derived.
            RunFolder(out).write_best(model, model.state_dict(), scores)
    model.train()  # as a Trainer leaves it: phase 1 may end with the backbone's BatchNorm in eval mode
    model.fine_tune_history = history
    return model


def _check_arguments(
    num_classes: Any, epochs: Any, freeze_epochs: Any, lr: Any, lr_mult: Any, train_bn: Any, resume: Any
) -> None:
    keep = "None (keep the head) or an integer >= 2 (one class cannot be told apart from anything)"
    check_int("num_classes", num_classes, minimum=2, none=True, accepted=keep)
    check_int("epochs", epochs, minimum=0)
    check_int("freeze_epochs", freeze_epochs, minimum=0)
    if epochs + freeze_epochs == 0:
        raise ArgumentError("epochs and freeze_epochs are both 0: nothing to train")
    check_number("lr", lr, minimum=0, exclusive_min=True)
    check_number(
        "lr_mult",
        lr_mult,
        minimum=0,
        maximum=1,
        exclusive_min=True,
        accepted="in (0, 1]: each level closer to the input trains at lr_mult times the lr of the next, "
        "e.g. 0.5",
    )
    check_bool("train_bn", train_bn)
    if resume not in (None, "auto"):
        raise ArgumentError(
            f"resume must be None or 'auto' (continue from the checkpoints in TrainConfig.out_dir; a "
            f"single checkpoint path cannot say which phase it belongs to), got {resume!r}"
        )


def _check_loader_labels(
    model: nn.Module, num_classes: int | None, train: Iterable[Any], val: Iterable[Any] | None
) -> None:
    """Refuses labels the (new) head cannot output, before the caller's head is replaced."""
    if num_classes is None:
        count = getattr(model, "num_classes", getattr(model.get_classifier(), "out_features", None))
        outputs = f"the model's head has {count} outputs (pass num_classes= for a new head)"
    else:
        count, outputs = num_classes, f"num_classes={num_classes} gives the new head {num_classes} outputs"
    for name, loader in (("training", train), ("validation", val)):
        check_labels_fit(loader, count, name, outputs=outputs)


def _set_head(model: nn.Module, num_classes: int | None) -> None:
    head = model.get_classifier()
    current = getattr(model, "num_classes", getattr(head, "out_features", None))
    if num_classes is None:
        if not current:
            raise ValueError("the model has no classifier head: pass num_classes to give it one")
        return
    if not callable(getattr(model, "reset_classifier", None)):
        raise TypeError(f"{type(model).__name__} has no reset_classifier(num_classes) to replace its head")
    # A new head even for as many classes as before: a new task's classes are not the old ones
    # (pass num_classes=None to keep training the head you have).
    model.reset_classifier(num_classes)
    logger.info("replaced the %s-class head with a new %d-class one", current, num_classes)


def _freeze_backbone(model: nn.Module, train_bn: bool) -> None:
    head = {id(p) for p in model.get_classifier().parameters()}
    norms = set()
    if train_bn:
        norms = {id(p) for m in model.modules() if isinstance(m, _NORM_LAYERS) for p in m.parameters()}
    for param in model.parameters():
        if id(param) not in head and id(param) not in norms:
            param.requires_grad_(False)


def _select(runs: list[tuple[int, Trainer]]) -> tuple[int, Trainer]:
    """The phase whose selected weights are returned: the better validation top-1, phase 2 on ties."""
    phase, run = runs[-1]
    for other_phase, other in runs[:-1]:
        if (
            other.config.restore_best
            and other.best_metric is not None
            and other.best_state is not None
            and (run.best_metric is None or other.best_metric > run.best_metric)
        ):
            phase, run = other_phase, other
    return phase, run
