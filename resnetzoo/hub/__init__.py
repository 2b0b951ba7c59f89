"""Weights in and out: registered weights by name, resnetzoo repos, foreign checkpoints.

- :func:`load_pretrained`: load registered weights (:class:`resnetzoo.Weights`) into a model: the
  file is fetched from the Hub, a URL or a mirror, verified, converted to resnetzoo's layout once
  and cached as safetensors (what the factories' ``pretrained=True`` / ``weights=`` use).
- :func:`save_pretrained`, :func:`from_pretrained`, :func:`push_to_hub`: resnetzoo repos
  (``model.safetensors`` + ``config.json`` + ``README.md``), local or on the Hub.
- :func:`load_checkpoint`: import torchvision/timm, kuangliu, akamaster and chenyaofo checkpoints.

Depends on :mod:`resnetzoo.models`; the models reach back only at call time, by a function-level
import (the builder's ``build_with_weights`` for ``pretrained=True``, ``create_model("hf-hub:...")``'s
:func:`from_pretrained`). Importing this package changes nothing in another module.
"""

from .. import _EXPORTS
from ..errors import (
    CheckpointError,
    ChecksumError,
    ConfigError,
    HubError,
    HubRequestError,
    WeightsNotPublishedError,
)
from ._state import LoadReport
from .load import from_pretrained, load_checkpoint
from .pretrained import load_pretrained
from .publish import push_to_hub
from .save import save_pretrained
from .source import ModelSource, resolve_source

# The Hub's errors, and the names resnetzoo re-exports from here (its lazy table is the one list).
__all__ = [
    *(
        "CheckpointError",
        "ChecksumError",
        "ConfigError",
        "HubError",
        "HubRequestError",
        "WeightsNotPublishedError",
    ),
    *_EXPORTS[".hub"],
]
