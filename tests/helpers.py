"""Small helpers that many test files share: seeded inputs and logits, tiny models, thread pinning.

Plain functions live here, fixtures in conftest.py (which builds its fixtures from these):
pytest finds fixtures in conftest.py by itself, but a test module should not import conftest,
and train_helpers.py is for the training tests' synthetic data (train_worker.py imports it in
a child process). Import what you need: ``from helpers import logits, tiny_model``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

import resnetzoo as rz


def inputs(n: int = 4, seed: int = 0) -> torch.Tensor:
    """``n`` standard-normal 32x32 RGB images ``(n, 3, 32, 32)``, the same for the same ``seed``."""
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def logits(model: torch.nn.Module, n: int = 4) -> torch.Tensor:
    """``model``'s logits, in eval mode without gradients, on :func:`inputs` ``(n)``."""
    with torch.no_grad():
        return model.eval()(inputs(n))


def tiny_model(widths: tuple[int, int, int] = (8, 16, 32), **kwargs: object) -> rz.CifarResNet:
    """A CifarResNet with one BasicBlock per stage (``widths`` channels): exports in seconds on 2 cores.

    ``kwargs`` go to :class:`resnetzoo.CifarResNet` (``num_classes``, ``shortcut``, ``norm_layer``...).
    Not seeded: seed torch first where the weights matter.
    """
    return rz.CifarResNet(rz.BasicBlock, (1, 1, 1), widths, **kwargs)


def resnet20_with_running_stats() -> torch.nn.Module:
    """``resnet20_cifar`` seeded 0, in eval mode, with BatchNorm statistics as after training.

    Three batches of 32 noise images in [0, 2) set the running statistics, so that the classes get
    distinct probabilities (with fresh statistics a random network gives nearly uniform ones).
    """
    torch.manual_seed(0)
    model = rz.resnet20_cifar()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(32, 3, 32, 32) * 2)
    return model.eval()


@contextmanager
def pinned_threads(n: int = 1) -> Iterator[None]:
    """Run torch on ``n`` intra-op threads inside the block; the previous setting is restored after it.

    The tests push a few small images through small models: a second thread only adds barriers,
    and on a busy 2-core machine each barrier waits for a time slice (the hub suite took 65 s with
    torch's default threads, 38 s with one; training steps were up to 30x slower from OpenMP
    spin-waiting). conftest.py's ``single_thread`` fixture wraps a test in this; module-scoped
    fixtures, which that fixture does not cover, use it directly.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
