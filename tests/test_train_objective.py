"""What the optimizer minimises and the gradients it uses: label smoothing and gradient clipping.

Both settings change nothing a shape or a resume can see, so each is measured directly: the
smoothed loss against its formula, the gradient norm the optimizer stepped with against the clip.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from train_helpers import synthetic_images, tiny_resnet

from resnetzoo.train import Callback, TrainConfig, Trainer

# Tiny models: a second torch thread only adds barriers (see helpers.pinned_threads).
pytestmark = pytest.mark.usefixtures("single_thread")


def config(**overrides) -> TrainConfig:
    base = {
        "epochs": 1,
        "lr": 0.05,
        "schedule": "constant",
        "weight_decay": 0.0,
        "progress": False,
        "device": "cpu",
        "channels_last": False,
        "loggers": (),
    }
    return TrainConfig(**{**base, **overrides})


def one_batch(n: int = 32) -> tuple[torch.Tensor, torch.Tensor, DataLoader]:
    x, y = synthetic_images(n, seed=3)
    return x, y, DataLoader(TensorDataset(x, y), batch_size=n)


@pytest.mark.parametrize("smoothing", [0.0, 0.3, 0.7])
def test_training_loss_is_the_label_smoothed_cross_entropy(smoothing):
    x, y, loader = one_batch()
    model = tiny_resnet()
    # The logits of the one training step: the untouched model on the same batch in training mode.
    with torch.no_grad():
        logits = copy.deepcopy(model).train()(x)
    log_p = F.log_softmax(logits, dim=1)
    ce = F.nll_loss(log_p, y).item()
    uniform = (-log_p).mean(dim=1).mean().item()  # cross-entropy against the uniform distribution
    expected = (1 - smoothing) * ce + smoothing * uniform
    assert abs(uniform - ce) > 0.05  # the batch tells a smoothed loss from a plain one

    history = Trainer(model, config(label_smoothing=smoothing)).fit(loader)

    assert history[0]["train_loss"] == pytest.approx(expected, rel=1e-5, abs=1e-6)
    if smoothing:
        assert abs(history[0]["train_loss"] - ce) > 0.01 * smoothing


class GradNorms(Callback):
    """Records the global norm of the gradients each optimizer step is about to apply."""

    def __init__(self) -> None:
        self.norms: list[float] = []

    def on_fit_start(self, trainer) -> None:
        def hook(optimizer, args, kwargs):
            params = [p for group in optimizer.param_groups for p in group["params"]]
            norms = [p.grad.norm() for p in params if p.grad is not None]
            self.norms.append(torch.linalg.vector_norm(torch.stack(norms)).item())

        trainer.optimizer.register_step_pre_hook(hook)


def gradient_norms(**overrides) -> list[float]:
    _, _, loader = one_batch(64)
    loader = DataLoader(loader.dataset, batch_size=16)  # four steps
    recorder = GradNorms()
    Trainer(tiny_resnet(), config(lr=0.5, **overrides), callbacks=[recorder]).fit(loader)
    assert len(recorder.norms) == 4
    return recorder.norms


@pytest.mark.parametrize("clip", [0.01, 0.1])
def test_grad_clip_bounds_the_norm_of_the_gradients_the_optimizer_steps_with(clip):
    unclipped = gradient_norms()
    assert unclipped[0] > 10 * clip  # without clipping the first step's gradient is far above the bound

    clipped = gradient_norms(grad_clip=clip)

    assert clipped[0] == pytest.approx(clip, rel=1e-4)  # same first batch, scaled down onto the bound
    assert max(clipped) <= clip * (1 + 1e-4)


def test_grad_clip_leaves_gradients_below_the_bound_alone():
    unclipped = gradient_norms()
    clipped = gradient_norms(grad_clip=10 * max(unclipped) + 1)
    assert clipped == pytest.approx(unclipped, rel=1e-5)
