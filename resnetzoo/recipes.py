"""Named training recipes (``seed``, ``paper``, ``fast``, ``long``); see :mod:`resnetzoo.train.recipes`."""

from .train.recipes import Recipe, describe_recipe, epochs_for_iterations, get_recipe, list_recipes

__all__ = ["Recipe", "describe_recipe", "epochs_for_iterations", "get_recipe", "list_recipes"]
