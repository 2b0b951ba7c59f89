"""Pictures of data, training, evaluation and what a network learned: each function returns a Figure.

Needs matplotlib (``pip install 'resnetzoo[plot]'``); importing this module does not, calling a
function does. Figures are built with matplotlib's object API (``matplotlib.figure.Figure``, never
``pyplot``), so nothing opens a window or changes the process's backend; a notebook shows a returned
figure inline, and :func:`save_figure` writes one atomically. Every figure labels its axes, names classes
rather than numbering them, lays itself out without overlapping text (constrained layout, rotated tick
labels), draws values with one colour map, :data:`COLORMAP`, and categories (classes, runs, splits) with
one qualitative palette, matplotlib's ``tab10``.

The library's own pictures are drawn here: the run folder's ``learning_curves.png``,
``Explanation.save``, ``resnetzoo eval --confusion``, and the figures of the documentation and the tutorial.

Example:
    >>> from resnetzoo import plot
    >>> counts = {"train": [450, 450], "test": [100, 100]}
    >>> figure = plot.class_balance(counts, ["cat", "dog"])  # doctest: +SKIP
    >>> plot.save_figure(figure, "balance.png")  # doctest: +SKIP
"""

from ._common import COLORMAP as _COLORMAP
from ._common import save_figure
from ._images import augmentations, class_balance, image_grid, mistakes
from ._network import embedding, explanations, feature_maps, filters
from ._training import confusion_matrix, learning_curves

__all__ = [
    "COLORMAP",
    "augmentations",
    "class_balance",
    "confusion_matrix",
    "embedding",
    "explanations",
    "feature_maps",
    "filters",
    "image_grid",
    "learning_curves",
    "mistakes",
    "save_figure",
]

COLORMAP = _COLORMAP
"""The one colour map of every figure's values (confusion, feature maps): perceptually uniform, and readable
in greyscale and by colour-blind readers. Categories (classes, runs, splits) take ``tab10``'s colours,
which stay apart in a scatter of ten classes where neighbouring shades of a sequential map blur."""
