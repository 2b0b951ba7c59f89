"""The one record a model carries: ``model.pretrained_cfg``, and what is read off it.

A network built by a factory carries one :class:`~resnetzoo.Weights` record. It says what the
model is (architecture, constructor arguments, head, input, normalisation, how it was made) and
where its weights come from; ``model_name`` and ``model_kwargs`` are read off it, never stored
beside it (timm keeps the same record as ``pretrained_cfg``). Setting them still works until 0.3,
with a ``DeprecationWarning``: it changes the record.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .._deprecation import warn_deprecated
from .._validate import check_instance
from ..errors import ArgumentError
from .weights import Weights

__all__ = ["RECORD_PROPERTIES", "RecordedModel"]

RECORD_PROPERTIES = ("pretrained_cfg", "model_name", "model_kwargs")
"""Properties that TorchScript must leave alone (``__jit_unused_properties__``): Python objects only."""


class RecordedModel:
    """The record attribute of :class:`~resnetzoo.CifarResNet` and of its feature backbone.

    Assigning a record (a loader does, after loading weights; so may a user) replaces what describes the
    weights and keeps what the network was built with: the constructor arguments are a fact of the
    network, which a record of weights from the zoo's table (built with the defaults) does not know.
    """

    @property
    def pretrained_cfg(self) -> Weights | None:
        """The record of the model and its weights (:class:`resnetzoo.Weights`): architecture and
        constructor arguments, classes, normalisation, source, license and scores. A factory always sets
        it, also for random weights (then it has no source and no normalisation); ``None`` only for a
        model built from its class directly."""
        return self.__dict__.get("_pretrained_cfg")

    @pretrained_cfg.setter
    def pretrained_cfg(self, record: Weights | None) -> None:
        check_instance("pretrained_cfg", record, Weights, what="a resnetzoo.Weights record", none=True)
        current = self.__dict__.get("_pretrained_cfg")
        if record is not None and current is not None:
            if record.architecture != current.architecture:
                raise ArgumentError(
                    f"a record of {record.architecture!r} cannot describe this {current.architecture} "
                    f"network; build one with resnetzoo.create_model({record.architecture!r})"
                )
            if record.model_kwargs != current.model_kwargs:
                record = dataclasses.replace(record, model_kwargs=current.model_kwargs)
        self.__dict__["_pretrained_cfg"] = record

    @property
    def model_name(self) -> str | None:
        """The registered name the model was built under (``pretrained_cfg.architecture``); ``None``
        when built from its class directly."""
        record = self.pretrained_cfg
        return record.architecture if record is not None else None

    @model_name.setter
    def model_name(self, name: str) -> None:  # deprecated: the record is the one source
        _warn_setting("model_name", "model.pretrained_cfg (its architecture)")
        record = self.pretrained_cfg
        if record is None:
            in_chans = int(getattr(self, "in_chans", 3))
            num_classes = int(getattr(self, "num_classes", 10))
            record = Weights(architecture=name, num_classes=num_classes, input_size=(in_chans, 32, 32))
        self.__dict__["_pretrained_cfg"] = dataclasses.replace(record, architecture=name)

    @property
    def model_kwargs(self) -> dict[str, Any]:
        """The keyword arguments that rebuild the same network with ``create_model(model_name, ...)``,
        read off ``pretrained_cfg`` (its ``num_classes`` and ``model_kwargs``, the usual defaults spelled
        out); empty when the model was built from its class directly. A new dict on every read."""
        from ._builder import build_kwargs  # the builder imports the model classes

        record = self.pretrained_cfg
        return build_kwargs(record) if record is not None else {}

    @model_kwargs.setter
    def model_kwargs(self, kwargs: dict[str, Any]) -> None:  # deprecated: the record is the one source
        _warn_setting("model_kwargs", "model.pretrained_cfg (its model_kwargs)")
        record = self.pretrained_cfg
        if record is None:
            raise AttributeError("model_kwargs describe a registered architecture: set model_name first")
        kwargs = dict(kwargs)
        num_classes = kwargs.pop("num_classes", record.num_classes)
        self.__dict__["_pretrained_cfg"] = dataclasses.replace(
            record, num_classes=num_classes, model_kwargs=kwargs
        )


def _warn_setting(name: str, instead: str) -> None:
    warn_deprecated(f"setting model.{name}", since="0.2.1", removed_in="0.3", instead=instead, stacklevel=4)
