"""Weights in and out: registered weights by name, resnetzoo repos, foreign checkpoints.

- :func:`load_pretrained`: load registered weights (:class:`resnetzoo.Weights`) into a model: the
  file is fetched from the Hub, a URL or a mirror, verified, converted to resnetzoo's layout once
  and cached as safetensors (what the factories' ``pretrained=True`` / ``weights=`` use).
- :func:`save_pretrained`, :func:`from_pretrained`, :func:`push_to_hub`: resnetzoo repos
  (``model.safetensors`` + ``config.json`` + ``README.md``), local or on the Hub.
- :func:`load_checkpoint`: import torchvision/timm, kuangliu, akamaster and chenyaofo checkpoints.

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
from .load import from_pretrained
from .pretrained import build_with_weights, load_pretrained
from .publish import push_to_hub
from .save import save_pretrained

set_weights_loader(build_with_weights, from_pretrained)

__all__ = [
    "CheckpointError",
    "ChecksumError",
    "ConfigError",
    "HubError",
    "HubRequestError",
    "LoadReport",
    "WeightsNotPublishedError",
    "from_pretrained",
    "load_checkpoint",
    "load_pretrained",
    "push_to_hub",
    "save_pretrained",
]
