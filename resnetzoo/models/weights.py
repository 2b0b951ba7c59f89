"""The weights record: one typed description of a model's weights, wherever they come from.

A :class:`Weights` record says where a file of trained weights is (a Hub repo, a URL, a local
folder), how to check it, how to convert its key layout, what the network then predicts and how to
feed it, who made it under which license, and how accurate it is. The same record is:

- an entry of the zoo's weights table (:mod:`resnetzoo.models._weights_table`),
  which ``create_model("resnet56_cifar.cifar10", pretrained=True)`` looks up;
- ``model.pretrained_cfg`` of every model a factory builds, also one with random weights (then it
  has no source and no normalisation);
- what a saved repo's ``config.json`` holds (:mod:`resnetzoo.hub.config`), written and read by the
  one codec of records, :mod:`resnetzoo._record`.

This module only describes weights; moving them is :mod:`resnetzoo.hub`'s job.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PureWindowsPath
from typing import TYPE_CHECKING, Any, Literal, get_args

from .._validate import check_int, check_number, check_str
from ..errors import ArgumentError, ArgumentTypeError

if TYPE_CHECKING:
    from torchvision.transforms import v2

__all__ = [
    "SOURCE_LAYOUTS",
    "Metric",
    "Metrics",
    "ModelSpec",
    "SourceLayout",
    "Weights",
    "WeightsFile",
    "check_repo_file",
]

SourceLayout = Literal["resnetzoo", "torchvision", "akamaster", "chenyaofo"]
"""Key layouts a weights file can have (see :func:`resnetzoo.load_checkpoint`):

- ``"resnetzoo"``: resnetzoo's own safetensors (torchvision names);
- ``"torchvision"``: torchvision or timm ResNet names (``conv1 bn1 layerN.M downsample fc``);
- ``"akamaster"``: akamaster/pytorch_resnet_cifar10, option-A shortcuts padded on both sides;
- ``"chenyaofo"``: chenyaofo/pytorch-cifar-models, torchvision names with option-B shortcuts.
"""
SOURCE_LAYOUTS: tuple[str, ...] = get_args(SourceLayout)

_SHA256 = re.compile(r"[0-9a-f]{64}")
# torch.hub's convention: "name-<first 8 or more hex digits of the sha256>.ext".
_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})\.")
# A part of a repo id, or a file name: starts with a letter, digit or underscore, so neither "." nor
# ".." nor a hidden name; the Hub client applies its finer rules (length, "--") after this.
_NAME = re.compile(r"\w[\w.-]*")


def check_repo_file(repo_id: str, filename: str) -> None:
    """Refuse a repo id or a file name that could address anything outside the repo's cache folder.

    Both may come from a user's string (``"hf-hub:org/name/path/in/repo"``) or a weights record,
    and both become path components in the cache: ``..``, an absolute path or a drive would
    leave it.

    Raises:
        ValueError: If ``repo_id`` is not ``"name"`` or ``"org/name"`` of letters, digits, ``_``,
            ``-`` and ``.`` (no ``..``), or ``filename`` is not a relative ``/``-separated path
            without empty, ``.`` or ``..`` parts.
    """
    parts = repo_id.split("/") if isinstance(repo_id, str) else []
    if not 1 <= len(parts) <= 2 or not all(_NAME.fullmatch(p) and ".." not in p for p in parts):
        raise ValueError(
            f"invalid Hub repo id {repo_id!r}: expected 'org/name' made of letters, digits, '_', '-' "
            "and '.', without '..'"
        )
    if (
        not isinstance(filename, str)
        or "\\" in filename
        or PureWindowsPath(filename).drive
        or any(part in ("", ".", "..") for part in filename.split("/"))
    ):
        raise ValueError(
            f"invalid file name {filename!r} for Hub repo {repo_id!r}: expected a relative path inside the "
            "repo with '/' separators, without '..', '.' or empty parts (e.g. 'model.safetensors' or "
            "'checkpoints/resnet20.pth')"
        )


@dataclass(frozen=True)
class Metric:
    """One score measured on a set of images: a fraction, on a named split, over a known number of images.

    Args:
        name: What was measured (``"top1"``, ``"top1_jpeg"``, ``"val_top1"``, ``"top1_fp32"``).
        value: The score as a fraction (0.9125, not 91.25); see :attr:`percent` for people.
        split: The images it was measured on (``"test"``, ``"val"``, ``"check"``, ``"calibration"``), or
            ``None`` where unknown.
        num_images: How many images it was measured on, or ``None`` where unknown.

    Raises:
        ArgumentError: If the name or split is empty, the value not finite or ``num_images`` negative.

    Example:
        >>> Metric("top1", 0.9125, split="test", num_images=10_000).percent
        91.25
    """

    name: str
    value: float
    split: str | None = None
    num_images: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", check_str("Metric.name", self.name))
        object.__setattr__(self, "value", check_number("Metric.value", self.value))
        object.__setattr__(self, "split", check_str("Metric.split", self.split, none=True))
        object.__setattr__(
            self, "num_images", check_int("Metric.num_images", self.num_images, minimum=0, none=True)
        )

    @property
    def percent(self) -> float:
        """The value in percent, for a person to read (model cards, the command line)."""
        return 100 * self.value

    def describe(self) -> str:
        """``"91.25% on 10,000 test images"``: the metric as a person reads it."""
        where = " ".join(
            part
            for part in (f"{self.num_images:,}" if self.num_images is not None else None, self.split)
            if part is not None
        )
        return f"{self.percent:.2f}%" + (f" on {where} images" if where else "")


class Metrics(tuple[Metric, ...]):
    """The metrics of a record: a tuple of :class:`Metric`, also read by name as ``{name: fraction}``.

    ``metrics["top1"]`` is the fraction, ``"top1" in metrics``, ``metrics.get("top1")``, ``dict(metrics)``
    and comparison with a dict work as they did when metrics were a mapping; iterating gives the
    :class:`Metric` entries. Built from Metric entries, mappings of their fields, or the old
    ``{name: fraction}`` form.

    Raises:
        ArgumentError: If two entries have the same name or an entry is not a metric.
    """

    __slots__ = ()

    def __new__(cls, metrics: Iterable[Metric | Mapping[str, Any]] | Mapping[str, float] = ()) -> Metrics:
        if isinstance(metrics, Mapping):  # the old form, {name: fraction}
            entries = [Metric(name, value) for name, value in metrics.items()]
        else:
            entries = []
            for entry in metrics:
                if isinstance(entry, Mapping):
                    entry = Metric(**entry)
                if not isinstance(entry, Metric):
                    raise ArgumentTypeError(
                        f"metrics must be Metric entries or a mapping of names to fractions; got {entry!r}"
                    )
                entries.append(entry)
        names = [m.name for m in entries]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ArgumentError(f"metrics name {twice} more than once")
        return super().__new__(cls, entries)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return self.metric(key).value
        return super().__getitem__(key)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            return any(m.name == item for m in self)
        return super().__contains__(item)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other)
        return super().__eq__(other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = tuple.__hash__

    def __repr__(self) -> str:
        return f"Metrics({list(self)!r})"

    def metric(self, name: str) -> Metric:
        """The entry called ``name``.

        Raises:
            KeyError: If there is none.
        """
        for entry in self:
            if entry.name == name:
                return entry
        raise KeyError(name)

    def get(self, name: str, default: Any = None) -> Any:
        """The fraction called ``name``, or ``default``."""
        try:
            return self.metric(name).value
        except KeyError:
            return default

    def keys(self) -> list[str]:
        """The names, in order."""
        return [m.name for m in self]

    def values(self) -> list[float]:
        """The fractions, in order."""
        return [m.value for m in self]

    def items(self) -> list[tuple[str, float]]:
        """``(name, fraction)`` pairs, in order."""
        return [(m.name, m.value) for m in self]


def _tuples(record: Any, names: Iterable[str]) -> None:
    # Plain values in, immutable values kept: tuples for sequences.
    for name in names:
        value = getattr(record, name)
        if value is not None and not isinstance(value, tuple):
            object.__setattr__(record, name, tuple(value))


@dataclass(frozen=True, kw_only=True)
class WeightsFile:
    """The facts of a weights file: where it is, how to check it, its layout, license and credit.

    The fields are :class:`Weights`'s of the same names (see there); ``record.artifact`` gives them.

    Raises:
        ValueError: If the file names two sources, a malformed sha256 or Hub id, or a URL with
            nothing to check it against.
    """

    tag: str | None = None  # the weights' name within the architecture
    # Where the file is: a Hub repo, a URL, or (for loaded models) a local path.
    hf_hub_id: str | None = field(
        default=None, metadata={"pattern": r"[\w.-]+/[\w.-]+", "accepted": "'org/name'"}
    )
    hf_hub_filename: str = "model.safetensors"
    hf_hub_revision: str | None = None
    url: str | None = None
    file: str | None = None
    sha256: str | None = field(
        default=None, metadata={"pattern": r"[0-9a-f]{64}", "accepted": "64 lowercase hex digits"}
    )
    file_size: int | None = None  # bytes, checked after a download
    layout: SourceLayout = "resnetzoo"  # key layout, converted on first load
    planned: bool = False  # to be trained and published: listed, never loadable
    # Credit, published with the file.
    license: str | None = None
    origin_url: str | None = None
    paper: str | None = None
    reported_top1: float | None = None  # a fraction, as whoever trained the weights reported it
    reported_in: str | None = None

    def __post_init__(self) -> None:
        _check_file(self, self.tag or "file")

    @property
    def source(self) -> str | None:
        """Where the file is: a URL, ``hf-hub:org/name/file[@revision]``, a local path, or ``None``."""
        if self.hf_hub_id is not None:
            revision = f"@{self.hf_hub_revision}" if self.hf_hub_revision else ""
            return f"hf-hub:{self.hf_hub_id}/{self.hf_hub_filename}{revision}"
        return self.url if self.url is not None else self.file

    @property
    def loadable(self) -> bool:
        """Whether ``pretrained=True`` can fetch these weights (a registered source, not planned)."""
        return not self.planned and (self.hf_hub_id is not None or self.url is not None)

    @property
    def source_file_name(self) -> str | None:
        """The file name of the source (the last part of the URL or Hub path)."""
        if self.url is not None:
            return self.url.rsplit("/", 1)[-1]
        if self.hf_hub_id is not None:
            return self.hf_hub_filename.rsplit("/", 1)[-1]
        return None

    @property
    def hash_prefix(self) -> str | None:
        """The sha256 prefix the source file name carries (``resnet20-12fca82f.th``), if any."""
        match = _HASH_IN_NAME.search(self.source_file_name or "")
        return match.group(1) if match else None


# Sizes beyond int32 do not fit torch's index types; a larger one in a record is an attack or damage.
_MAX_SIZE = 2**31
_MAX_SIDE = 4096  # the largest input height or width a record may ask predict() to resize to


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """What a model is: its architecture and head, how to feed it, what it was trained on and how.

    The fields are :class:`Weights`'s of the same names (see there); ``record.model`` gives them.

    Raises:
        ValueError: If categories, mean or std do not fit the head or the input channels.
    """

    architecture: str  # a registered model name
    # The architecture's keyword arguments beyond num_classes and its defaults (in_chans, shortcut,
    # drop_rate, inner_channels, ...): with architecture and num_classes, what rebuilds the network.
    model_kwargs: Mapping[str, Any] = field(default_factory=dict, hash=False)
    # What the network predicts and how to feed it.
    num_classes: int = field(
        default=10, metadata={"maximum": _MAX_SIZE - 1, "accepted": "an integer >= 0 and < 2**31"}
    )
    categories: tuple[str, ...] | None = None  # class names in logit order
    dataset: str | None = None
    mean: tuple[float, ...] | None = field(default=None, metadata={"length": (1, 4)})  # pixels in [0, 1]
    std: tuple[float, ...] | None = field(default=None, metadata={"length": (1, 4), "positive": True})
    input_size: tuple[int, int, int] = field(
        default=(3, 32, 32), metadata={"maximum": _MAX_SIDE}
    )  # (C, H, W)
    # How it was made and how good it is.
    recipe: str | None = None
    base_model: str | None = None  # the weights these were derived from
    notes: str | None = None
    metrics: Metrics = field(default_factory=Metrics)  # fractions, each with its split and image count
    num_params: int | None = None
    flops: int | None = None  # forward FLOPs for one image (a multiply-add counts as 2)

    def __post_init__(self) -> None:
        _normalise_model(self)
        _check_model(self, self.architecture)


def _normalise_model(record: Any) -> None:
    _tuples(record, ("categories", "mean", "std", "input_size"))
    if not isinstance(record.metrics, Metrics):
        object.__setattr__(record, "metrics", Metrics(record.metrics))
    object.__setattr__(record, "model_kwargs", _canonical_kwargs(record))


def _canonical_kwargs(record: Any) -> dict[str, Any]:
    """``record.model_kwargs`` in one form: without ``num_classes`` (a field of its own, which it must
    match) and without the architecture's defaults, nested sequences as lists. So a record built by a
    factory with default arguments equals the zoo's record of the same weights, and one read back from
    ``config.json`` (which spells the defaults out) equals the one that was saved."""
    kwargs = record.model_kwargs
    if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) for k in kwargs):
        raise ArgumentTypeError(
            f"model_kwargs must be a mapping of argument names to values, got {kwargs!r}",
            param="model_kwargs",
        )
    kwargs = {k: _lists(v) for k, v in kwargs.items()}
    if "num_classes" in kwargs:
        given = kwargs.pop("num_classes")
        if given != record.num_classes:
            raise ValueError(f"num_classes is {record.num_classes} but model_kwargs.num_classes is {given!r}")
    if not kwargs:
        return kwargs
    from ._builder import default_kwargs  # here: the builder imports this module

    defaults = default_kwargs(record.architecture)
    return {k: v for k, v in kwargs.items() if k not in defaults or not _same(v, defaults[k])}


def _lists(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_lists(v) for v in value]
    return value


def _same(value: Any, default: Any) -> bool:
    return type(value) is type(default) and value == default  # False is not 0


def _check_file(record: Any, label: str) -> None:
    sources = [s for s in (record.hf_hub_id, record.url, record.file) if s is not None]
    if len(sources) > 1:
        raise ValueError(f"weights {label!r} name {len(sources)} sources; give one of hf_hub_id, url, file")
    if record.hf_hub_id is not None:
        check_repo_file(record.hf_hub_id, record.hf_hub_filename)  # both become paths in the cache
    if record.url is not None and not _NAME.fullmatch(record.source_file_name or ""):
        raise ValueError(f"weights {label!r}: the URL must end in a plain file name, got {record.url!r}")
    if record.sha256 is not None and not _SHA256.fullmatch(record.sha256):
        raise ValueError(f"weights {label!r}: sha256 must be 64 lowercase hex digits, got {record.sha256!r}")
    if record.url is not None and record.sha256 is None and record.hash_prefix is None:
        raise ValueError(
            f"weights {label!r}: a URL source needs a sha256, or a file name that carries a "
            f"sha256 prefix ('name-<hex>.ext'), so that a download can be checked; got {record.url!r}"
        )


def _check_model(record: Any, label: str) -> None:
    if record.categories is not None and len(record.categories) != record.num_classes:
        raise ValueError(
            f"weights {label!r}: {len(record.categories)} categories for {record.num_classes} classes"
        )
    channels = record.input_size[0]
    for name in ("mean", "std"):
        value = getattr(record, name)
        if value is not None and len(value) != channels:
            raise ValueError(
                f"weights {label!r}: {name} has {len(value)} values for {channels} input channels"
            )


@dataclass(frozen=True, kw_only=True, repr=False)
class Weights(WeightsFile, ModelSpec):
    """One set of weights for a registered architecture, and everything needed to use them.

    A record is two parts, each a dataclass of its own: :attr:`model` (a :class:`ModelSpec`: what
    the network is, how to feed it, what it was trained on and how well it does) and
    :attr:`artifact` (a :class:`WeightsFile`: where the file is, how to check it, its layout,
    license and credit). The constructor takes their fields flat, and reads are flat too
    (``record.mean``, ``record.sha256``). One codec writes and reads records everywhere
    (``config.json``, checkpoints, ONNX metadata, safetensors metadata): :mod:`resnetzoo._record`.

    Args:
        architecture: The registered model the weights fit (``"resnet56_cifar"``).
        model_kwargs: The architecture's keyword arguments other than ``num_classes`` that differ
            from its defaults (``{"in_chans": 1}``, ``{"drop_rate": 0.2}``, a pruned network's
            ``inner_channels``): with ``architecture`` and ``num_classes`` they rebuild the network,
            so a record says completely what the model is. A factory records them; a model's
            ``model_kwargs`` spells them out with the defaults.
        tag: Name of the weights within the architecture (``"akamaster_cifar10"``); ``None`` for a
            model that has no trained weights (random initialisation).
        hf_hub_id: Hugging Face Hub repo holding the file (``"edadaltocg/resnet18_cifar10"``).
        hf_hub_filename: The file in that repo.
        hf_hub_revision: Branch, tag or commit of the repo; ``None`` is its default branch.
        url: A plain HTTP(S) URL of the file (used when ``hf_hub_id`` is not set).
        file: A local folder or file the weights were read from (records built by the loaders).
        sha256: Full hex sha256 of the source file. Without it, a file name that carries a hex
            prefix (``resnet20-12fca82f.th``) is checked against that prefix, and a Hub file
            against the ETag the Hub sends (its sha256).
        layout: Key layout of the source file, converted on first load (:data:`SourceLayout`).
        planned: Weights that resnetzoo will train and publish but has not yet: listed, never
            loadable.
        num_classes: Size of the classifier head the weights carry.
        categories: Class names in logit order.
        dataset: The data set the weights were trained on (``"cifar10"``, ``"cifar100"``, ...).
        mean: Per-channel mean the training inputs were normalised with (pixels in [0, 1]).
        std: Per-channel standard deviation the training inputs were normalised with.
        input_size: ``(channels, height, width)`` of the training images.
        license: License of the weights (SPDX id).
        origin_url: Where the weights are published and described.
        paper: The paper the network or training comes from.
        recipe: The resnetzoo recipe that trained them, if resnetzoo did.
        reported_top1: Test top-1 as reported by whoever trained the weights, as a fraction (0.9339;
            scores are fractions in the API, shown in percent in model cards and the CLI).
        reported_in: Where ``reported_top1`` is reported.
        metrics: Scores resnetzoo measured, as :class:`Metric` entries (fractions, with the split and
            the number of images), or the old ``{name: fraction}`` mapping: ``"top1"`` on the data
            set's test split, ``"top1_jpeg"`` on the JPEG copy of the CIFAR-10 test split (see
            docs/pretrained.md). Read back as :class:`Metrics`, which also answers by name.
        num_params: Parameters of the network with this head.
        flops: Forward FLOPs for one image (a multiply-add counts as 2).
        file_size: Size of the source file in bytes, where known; checked after a download.
        base_model: The weights these were derived from (fine-tuned, or given a new head): a
            weights name such as ``"resnet56_cifar.akamaster_cifar10"``, or their source.
        notes: What a user should know and the fields cannot say (e.g. what could not be verified).

    Raises:
        ValueError: If the record contradicts itself: two sources, a malformed sha256 or Hub id,
            a loadable URL with nothing to check it against, or categories, mean or std that do
            not fit the head or the input channels.
    """

    def __post_init__(self) -> None:
        _normalise_model(self)
        _check_file(self, self.name)
        _check_model(self, self.name)

    @classmethod
    def from_parts(cls, model: ModelSpec, artifact: WeightsFile | None = None) -> Weights:
        """The record of ``model``'s weights in ``artifact`` (none: weights in no file yet)."""
        artifact = artifact if artifact is not None else WeightsFile()
        return cls(**_field_values(model, ModelSpec), **_field_values(artifact, WeightsFile))

    @property
    def model(self) -> ModelSpec:
        """What the model is (architecture, head, input, data set, how it was made, metrics)."""
        return ModelSpec(**_field_values(self, ModelSpec))

    @property
    def artifact(self) -> WeightsFile:
        """The facts of the weights file (source, checksum, size, layout, license, credit)."""
        return WeightsFile(**_field_values(self, WeightsFile))

    def __repr__(self) -> str:  # the fields that say something: those not at their defaults
        shown = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            if f.name == "architecture" or value != default:
                shown.append(f"{f.name}={dict(value) if isinstance(value, Mapping) else value!r}")
        return f"Weights({', '.join(shown)})"

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:  # pickle through the constructor's checks
        return (_from_fields, (self.to_dict(),))

    def __deepcopy__(self, memo: dict[int, Any]) -> Weights:  # immutable: a copy may be the record itself
        return self

    def __hash__(self) -> int:  # the identity of weights is their name and file
        return hash((self.architecture, self.tag, self.source, self.sha256))

    @property
    def name(self) -> str:
        """``"<architecture>.<tag>"``, the name ``create_model`` takes; without a tag, the architecture."""
        return self.architecture if self.tag is None else f"{self.architecture}.{self.tag}"

    def derived(self, **changes: Any) -> Weights:
        """The record of weights trained further from these (fine-tuned, or given a new head).

        The new weights are in no file yet, so the source, checksum and scores go; the normalisation,
        input size, license and credit stay, and ``base_model`` names these weights.
        """
        base = self.name if self.tag is not None else (self.source or self.base_model)
        cleared = {
            "tag": None,
            "hf_hub_id": None,
            "hf_hub_filename": "model.safetensors",
            "hf_hub_revision": None,
            "url": None,
            "file": None,
            "sha256": None,
            "layout": "resnetzoo",
            "planned": False,
            "metrics": {},
            "reported_top1": None,
            "reported_in": None,
            "file_size": None,
            "base_model": base,
        }
        return dataclasses.replace(self, **{**cleared, **changes})

    def for_new_head(self, num_classes: int) -> Weights:
        """This record after the head was replaced by one of ``num_classes`` outputs (see :meth:`derived`).

        The class names, data set and sizes described the old head and go too.
        """
        return self.derived(
            num_classes=num_classes, categories=None, dataset=None, num_params=None, flops=None
        )

    def transforms(self) -> v2.Compose:
        """The preprocessing these weights expect, as torchvision transforms v2.

        Takes a PIL image, a numpy array ``(H, W[, C])``, a tensor ``([C,] H, W)`` (uint8, or float in
        [0, 1]) or a ``tv_tensors.Image``; converts it to float in [0, 1] with the model's channel count,
        resizes it to ``input_size`` (antialiased bilinear) and normalises it with ``mean``/``std``:
        exactly what :func:`resnetzoo.predict` does (:class:`resnetzoo.data.preprocess.Preprocess`).

        Raises:
            ValueError: If the record has no normalisation (a model with random weights).

        Example:
            >>> import torch, resnetzoo as rz
            >>> preprocess = rz.get_weights("resnet20_cifar.cifar10").transforms()
            >>> preprocess(torch.full((3, 32, 32), 128, dtype=torch.uint8)).shape
            torch.Size([3, 32, 32])
        """
        from ..data.preprocess import Preprocess  # the one preprocessing, shared with predict and explain

        return Preprocess.from_record(self).transforms()

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON-ready values, as :func:`resnetzoo._record.encode_record` writes it.

        Tuples become lists and metrics a list of ``{name, value, split, num_images}``.
        """
        from .._record import encode_record  # here: the codec imports this module

        return encode_record(self)


def _from_fields(fields: dict[str, Any]) -> Weights:
    return Weights(**fields)


def _field_values(record: Any, part: type) -> dict[str, Any]:
    """The values of ``part``'s fields (a :class:`ModelSpec` or :class:`WeightsFile`) in ``record``."""
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(part)}
