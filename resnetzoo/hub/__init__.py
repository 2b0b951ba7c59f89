"""Weights in and out: published weights records, Hub downloads, resnetzoo repos, foreign checkpoints.

- :class:`Weights`, :func:`list_pretrained`, :func:`get_weights`: the records of published weights.
- :func:`load_pretrained`: load published, checksum-verified weights into a model (what the
  factories' ``pretrained=True`` / ``weights=`` use).
- :func:`save_pretrained`, :func:`from_pretrained`, :func:`push_to_hub`: resnetzoo repos
  (``model.safetensors`` + ``config.json`` + ``README.md``), local or on the Hub.
- :func:`load_checkpoint`: import torchvision/timm, kuangliu and akamaster checkpoints.

Depends on :mod:`resnetzoo.models`, never the reverse: importing this package installs the
weights loader that the model factories call (see ``registry.set_weights_loader``).
"""

from ..errors import (
    CheckpointError,
    ChecksumError,
    ConfigError,
    HubError,
    HubRequestError,
    WeightsNotPublishedError,
)
from ..models.registry import set_weights_loader
from ._state import LoadReport
from .convert import load_checkpoint
from .pretrained import build_with_weights, load_pretrained
from .publish import push_to_hub
from .serialization import from_pretrained, save_pretrained
from .weights import Weights, get_weights, list_pretrained

set_weights_loader(build_with_weights)

__all__ = [
    "CheckpointError",
    "ChecksumError",
    "ConfigError",
    "HubError",
    "HubRequestError",
    "LoadReport",
    "Weights",
    "WeightsNotPublishedError",
    "from_pretrained",
    "get_weights",
    "list_pretrained",
    "load_checkpoint",
    "load_pretrained",
    "push_to_hub",
    "save_pretrained",
]
