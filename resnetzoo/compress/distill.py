"""Knowledge distillation: a small student learns from a large teacher's soft targets.

Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural Network": the student matches the
teacher's class probabilities softened by a temperature ``T`` (``softmax(logits / T)``), which say
how the teacher ranks the wrong classes too (a cat looks more like a dog than a truck), and still
learns from the labels::

    loss = alpha * T**2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * CE(student, y)

The ``T**2`` keeps the soft term's gradients on the scale of the hard term's as ``T`` changes
(Hinton et al. §2). The teacher sees exactly the student's batch, augmented as it is, in eval mode
and without gradients, so its targets are the function it learned, not a noisy training-mode one.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._model_info import model_name, pretrained_cfg
from .._validate import check_fraction, check_instance, check_number
from ..train.callbacks import Callback
from ..train.config import TrainConfig
from ..train.trainer import Trainer
from ._checks import check_loaders, check_mismatch_choice

__all__ = ["distill", "distillation_loss"]

logger = logging.getLogger(__name__)


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    temperature: float,
    alpha: float,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Hinton et al.'s soft-target loss, mixed with cross-entropy on the labels (see the module docstring).

    Computed in float32 whatever the logits' dtype (softmax at a temperature is sensitive to rounding).

    Example:
        >>> import torch
        >>> logits = torch.tensor([[2.0, 0.0, -1.0]])
        >>> float(distillation_loss(logits, logits, torch.tensor([0]), temperature=4.0, alpha=1.0))
        0.0
    """
    student, teacher = student_logits.float(), teacher_logits.float()
    soft = F.kl_div(
        F.log_softmax(student / temperature, dim=1),
        F.log_softmax(teacher / temperature, dim=1),
        reduction="batchmean",
        log_target=True,
    )
    hard = F.cross_entropy(student, targets, label_smoothing=label_smoothing)
    return alpha * temperature**2 * soft + (1 - alpha) * hard


class _DistillationTrainer(Trainer):
    """A Trainer whose training loss adds a frozen teacher's soft targets on the same batch."""

    def __init__(
        self,
        student: nn.Module,
        teacher: nn.Module,
        config: TrainConfig,
        callbacks: Sequence[Callback],
        temperature: float,
        alpha: float,
    ) -> None:
        super().__init__(student, config, callbacks)
        # A copy, so the caller's teacher keeps its device, mode and gradients.
        teacher = copy.deepcopy(teacher).to(self.device).eval().requires_grad_(False)
        self.teacher = teacher.to(memory_format=torch.channels_last) if config.channels_last else teacher
        self.temperature = temperature
        self.alpha = alpha

    def training_loss(
        self, logits: torch.Tensor, targets: torch.Tensor, inputs: torch.Tensor
    ) -> torch.Tensor:
        with torch.no_grad():
            teacher_logits = self.teacher(inputs)
        return distillation_loss(
            logits,
            teacher_logits,
            targets,
            temperature=self.temperature,
            alpha=self.alpha,
            label_smoothing=self.config.label_smoothing,
        )


def distill(
    student: nn.Module,
    teacher: nn.Module,
    train_loader: Iterable[Any],
    val_loader: Iterable[Any] | None = None,
    *,
    temperature: float = 4.0,
    alpha: float = 0.9,
    config: TrainConfig | None = None,
    callbacks: Sequence[Callback] = (),
    resume: str | None = None,
    normalisation_mismatch: str = "refuse",
) -> nn.Module:
    """Train ``student`` to match ``teacher`` (knowledge distillation), on a :class:`~resnetzoo.Trainer`.

    Everything else is a normal :meth:`Trainer.fit <resnetzoo.Trainer.fit>`: the config's optimizer,
    schedule, augmentation, AMP, progress bar, validation and model selection, checkpoints in
    ``config.out_dir`` and ``resume="auto"``. The teacher is not in the checkpoints: resume with the
    same teacher.

    Both networks see the same normalised batches, so they must expect the same normalisation:
    build the loaders with the teacher's (``rz.resolve_data_config(teacher)``); a loader that tells
    another normalisation (a :class:`~resnetzoo.data.DeviceLoader`'s ``mean``/``std``) is refused
    before training (see :func:`~resnetzoo.quantize` for what is compared). A student with
    random weights adopts the teacher's normalisation and class names in its record, whose
    ``notes`` name the teacher; measure the student's accuracy and pass it to
    ``save_pretrained(metrics=...)``.

    Args:
        student: The network to train (any classifier; usually smaller than the teacher).
        teacher: A trained network with the same classes; kept in eval mode, never updated.
        train_loader: Training batches ``(images, labels)``.
        val_loader: Validation batches for selecting the best epoch; None keeps the last.
        temperature: Softmax temperature of the soft targets, > 0; Hinton et al. use 1 to 20, and
            4 is the usual choice for CIFAR.
        alpha: Weight of the soft-target term in [0, 1]; 0 is plain training on the labels.
        config: Training settings (``TrainConfig()`` by default).
        callbacks: Extra :class:`~resnetzoo.Callback` objects.
        resume: ``"auto"`` or a checkpoint path, as for :meth:`Trainer.fit <resnetzoo.Trainer.fit>`.
        normalisation_mismatch: ``"refuse"`` (the default) raises when a loader is normalised
            otherwise than the teacher's (else the student's) record says; ``"allow"`` skips that
            comparison.

    Returns:
        The student with the selected weights (the best validation epoch, else the last), on the
        configured device, in training mode.

    Raises:
        TypeError: If ``student`` or ``teacher`` is not an ``nn.Module``.
        ValueError: If ``temperature`` or ``alpha`` is out of range, the two networks have different
            numbers of classes, their weights record different normalisations, or a loader is
            normalised otherwise than they record (an ``ArgumentError``); and what
            :meth:`Trainer.fit <resnetzoo.Trainer.fit>` raises.

    Example:
        >>> import resnetzoo as rz
        >>> teacher = rz.create_model("resnet56_cifar", pretrained=True)  # doctest: +SKIP
        >>> student = rz.distill(rz.resnet20_cifar(), teacher, train_loader, val_loader)  # doctest: +SKIP
    """
    for role, net in (("student", student), ("teacher", teacher)):
        check_instance(f"the {role}", net, nn.Module, what="a torch.nn.Module")
    temperature = check_number(
        "temperature", temperature, minimum=0, exclusive_min=True, accepted="a finite number > 0 (e.g. 4)"
    )
    alpha = check_fraction(
        "alpha", alpha, accepted="a number in [0, 1] (the weight of the teacher's soft targets)"
    )
    student_classes, teacher_classes = (
        getattr(student, "num_classes", None),
        getattr(teacher, "num_classes", None),
    )
    if student_classes is not None and teacher_classes is not None and student_classes != teacher_classes:
        raise ValueError(
            f"the student has {student_classes} classes and the teacher {teacher_classes}: distillation "
            f"matches their outputs class by class; build the student with num_classes={teacher_classes}"
        )
    student_cfg, teacher_cfg = pretrained_cfg(student), pretrained_cfg(teacher)
    for field in ("mean", "std"):
        own = getattr(student_cfg, field, None)
        theirs = getattr(teacher_cfg, field, None)
        if own is not None and theirs is not None and tuple(own) != tuple(theirs):
            raise ValueError(
                f"the student's weights were trained with {field} {tuple(own)}, the teacher's with "
                f"{tuple(theirs)}; both see the same batches, so they must expect the same normalisation. "
                "Distil into a student with random weights, or a teacher trained like the student"
            )
    # Both networks see the loaders' batches: they must be normalised as the weights were trained.
    trained = teacher_cfg if teacher_cfg is not None and teacher_cfg.mean is not None else student_cfg
    check_loaders(
        trained,
        {"train_loader": train_loader, "val_loader": val_loader},
        whose="the teacher's" if trained is teacher_cfg else "the student's",
        mismatch=check_mismatch_choice(normalisation_mismatch),
    )
    if teacher_cfg is None:
        teacher_name = model_name(teacher)
    elif teacher_cfg.tag is not None:
        teacher_name = teacher_cfg.name
    else:  # weights of its own (a saved folder, a Hub repo): where they are is their name
        teacher_name = teacher_cfg.source or teacher_cfg.base_model or model_name(teacher)
    trainer = _DistillationTrainer(student, teacher, config or TrainConfig(), callbacks, temperature, alpha)
    if trainer.is_main_process:
        logger.info(
            "distilling %s into %s: temperature %g, alpha %g",
            teacher_name,
            model_name(student),
            temperature,
            alpha,
        )
    trainer.fit(train_loader, val_loader, resume=resume)
    student = trainer.model
    if student_cfg is not None:
        inherited: dict[str, Any] = {}
        if teacher_cfg is not None:
            for field in ("mean", "std", "categories", "dataset"):
                if getattr(student_cfg, field) is None and getattr(teacher_cfg, field) is not None:
                    inherited[field] = getattr(teacher_cfg, field)
        student.pretrained_cfg = student_cfg.derived(
            **inherited,
            notes=f"distilled from {teacher_name} (Hinton et al. 2015 soft targets, temperature "
            f"{temperature:g}, alpha {alpha:g}) for {trainer.config.epochs} epoch(s)",
        )
    return student
