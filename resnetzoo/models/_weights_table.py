"""The zoo's pretrained weights: one :class:`~resnetzoo.Weights` record per file, as plain data.

:mod:`resnetzoo.models.resnet` registers :data:`WEIGHTS` after its architectures. The facts (hosts,
checksums, normalisation, licenses, accuracies) and what could not be confirmed are documented in
docs/pretrained.md.
"""

from __future__ import annotations

from typing import Any

from ..data.constants import CIFAR10_CLASSES, CLASSES, CLASSIC_NORMALIZATION, NORMALIZATION
from ._builder import _ARCHITECTURES
from .weights import Weights

__all__ = ["WEIGHTS"]

_HE2015 = "He et al. 2015, Deep Residual Learning for Image Recognition, arXiv:1512.03385"
_HE2016 = "He et al. 2016, Identity Mappings in Deep Residual Networks, arXiv:1603.05027"
_CLASSES = CLASSES
# Each source trained with its own constants; the weights need exactly those.
_IMAGENET_NORM = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}
# The classic per-image std (see resnetzoo.data.constants for why it is not the data's std).
_CLASSIC_NORM = CLASSIC_NORMALIZATION
_CHENYAOFO_NORM = {
    "cifar10": {"mean": (0.4914, 0.4822, 0.4465), "std": (0.2023, 0.1994, 0.201)},
    "cifar100": {"mean": (0.507, 0.4865, 0.4409), "std": (0.2673, 0.2564, 0.2761)},
}
_TRUE_NORM = NORMALIZATION

_AKAMASTER = "https://github.com/akamaster/pytorch_resnet_cifar10"
_CHENYAOFO = "https://github.com/chenyaofo/pytorch-cifar-models"


def _akamaster(architecture: str, file: str, top1: float, **fields: Any) -> Weights:
    return Weights(
        architecture=architecture,
        tag="akamaster_cifar10",
        url=f"{_AKAMASTER}/raw/d5489e8995e81e91ce6b1d69dcc98ad579b0b153/pretrained_models/{file}",
        layout="akamaster",
        num_classes=10,
        categories=CIFAR10_CLASSES,
        dataset="cifar10",
        **_IMAGENET_NORM,
        license="BSD-2-Clause",
        origin_url=_AKAMASTER,
        paper=_HE2015,
        reported_top1=top1,
        reported_in=f"{_AKAMASTER}#results",
        **fields,
    )


def _edadaltocg(architecture: str, dataset: str, top1: float, **fields: Any) -> Weights:
    repo = f"edadaltocg/{architecture.removesuffix('_cifar')}_{dataset}"
    return Weights(
        architecture=architecture,
        tag=f"edadaltocg_{dataset}",
        hf_hub_id=repo,
        hf_hub_filename="pytorch_model.bin",
        layout="torchvision",
        num_classes=len(_CLASSES[dataset]),
        categories=_CLASSES[dataset],
        dataset=dataset,
        **_CLASSIC_NORM[dataset],
        license="MIT",
        origin_url=f"https://huggingface.co/{repo}",
        paper=_HE2015,
        reported_top1=top1,
        reported_in=f"https://huggingface.co/{repo} (model card)",
        **fields,
    )


def _chenyaofo(architecture: str, dataset: str, file: str, top1: float, **fields: Any) -> Weights:
    return Weights(
        architecture=architecture,
        tag=f"chenyaofo_{dataset}",
        url=f"{_CHENYAOFO}/releases/download/resnet/{file}",
        layout="chenyaofo",
        num_classes=len(_CLASSES[dataset]),
        categories=_CLASSES[dataset],
        dataset=dataset,
        **_CHENYAOFO_NORM[dataset],
        license="BSD-3-Clause",
        origin_url=_CHENYAOFO,
        paper=_HE2015,
        reported_top1=top1,
        reported_in=f"{_CHENYAOFO}#model-zoo",
        notes="the file name's 8 hex digits are taken as a sha256 prefix (torch.hub's convention); "
        "upstream does not check them, so that convention could not be confirmed",
        **fields,
    )


def _planned(architecture: str, dataset: str, **fields: Any) -> Weights:
    """Weights that resnetzoo will train with its ``long`` recipe and publish as resnetzoo/<model>.<tag>."""
    tag = f"long_{dataset}"
    return Weights(
        architecture=architecture,
        tag=tag,
        hf_hub_id=f"resnetzoo/{architecture}.{tag}",
        planned=True,
        num_classes=len(_CLASSES[dataset]),
        categories=_CLASSES[dataset],
        dataset=dataset,
        **_TRUE_NORM[dataset],
        license="Apache-2.0",
        recipe="long",
        paper=_HE2016 if architecture.startswith("preact") else _HE2015,
        **fields,
    )


# fmt: off
WEIGHTS: tuple[Weights, ...] = (
    _edadaltocg("resnet18_cifar", "cifar10", 0.9498, num_params=11_173_962, flops=1_110_845_440),
    _edadaltocg("resnet18_cifar", "cifar100", 0.7926, num_params=11_220_132, flops=1_110_937_600),
    _edadaltocg("resnet34_cifar", "cifar10", 0.954, num_params=21_282_122, flops=2_318_804_992),
    _edadaltocg("resnet34_cifar", "cifar100", 0.7978, num_params=21_328_292, flops=2_318_897_152, sha256="6c289529717391309146c2ba0b28e425cbb1f8586c8c93c40499405d8ee72f1e"),
    _edadaltocg("resnet50_cifar", "cifar10", 0.9465, num_params=23_520_842, flops=2_595_659_776, sha256="600e3f79fa41bc7c91d751a65b29b1ed2733345f8b6908381caa79a32ff28a6e"),
    _edadaltocg("resnet50_cifar", "cifar100", 0.8093, num_params=23_705_252, flops=2_596_028_416, sha256="3d54f148b6047312e4c4106665296541d107fbed16af29ee25b9f1d92b487c85"),
    _akamaster("resnet20_cifar", "resnet20-12fca82f.th", 0.9173, num_params=269_722, flops=81_102_080, sha256="12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8", file_size=1_099_231, metrics={"top1_jpeg": 0.8103}),
    _akamaster("resnet32_cifar", "resnet32-d509ac18.th", 0.9263, num_params=464_154, flops=137_725_184, sha256="d509ac1820d7f25398913559d7e81a13229b1e7adc5648e3bfa5e22dc137f850", file_size=1_890_043, metrics={"top1_jpeg": 0.8256}),
    _akamaster("resnet44_cifar", "resnet44-014dd654.th", 0.931, num_params=658_586, flops=194_348_288, sha256="014dd6541728a1c700b1642ab640e211dc6eb8ed507d70697458dc8f8a0ae2e4", file_size=2_680_855, metrics={"top1_jpeg": 0.8267}),
    _akamaster("resnet56_cifar", "resnet56-4bfd9763.th", 0.9339, num_params=853_018, flops=250_971_392, sha256="4bfd97631478d6b638d2764fd2baff3edb1d7d82252d54439343b6596b9b5367", file_size=3_471_733, metrics={"top1_jpeg": 0.832}),
    _akamaster("resnet110_cifar", "resnet110-1d1ed7c2.th", 0.9368, num_params=1_727_962, flops=505_775_360),
    _akamaster("resnet1202_cifar", "resnet1202-f3b1deed.th", 0.9382, num_params=19_421_274, flops=5_658_477_824),
    _chenyaofo("resnet20b_cifar", "cifar10", "cifar10_resnet20-4118986f.pt", 0.926, num_params=272_474, flops=81_626_368),
    _chenyaofo("resnet32b_cifar", "cifar10", "cifar10_resnet32-ef93fc4d.pt", 0.9353, num_params=466_906, flops=138_249_472),
    _chenyaofo("resnet44b_cifar", "cifar10", "cifar10_resnet44-2a3cabcb.pt", 0.9401, num_params=661_338, flops=194_872_576),
    _chenyaofo("resnet56b_cifar", "cifar10", "cifar10_resnet56-187c023a.pt", 0.9437, num_params=855_770, flops=251_495_680),
    _chenyaofo("resnet20b_cifar", "cifar100", "cifar100_resnet20-23dac2f1.pt", 0.6883, num_params=278_324, flops=81_637_888),
    _chenyaofo("resnet32b_cifar", "cifar100", "cifar100_resnet32-84213ce6.pt", 0.7016, num_params=472_756, flops=138_260_992),
    _chenyaofo("resnet44b_cifar", "cifar100", "cifar100_resnet44-ffe32858.pt", 0.7163, num_params=667_188, flops=194_884_096),
    _chenyaofo("resnet56b_cifar", "cifar100", "cifar100_resnet56-f2eff4c8.pt", 0.7263, num_params=861_620, flops=251_507_200),
    *(_planned(name, "cifar10") for name in sorted(_ARCHITECTURES) if not name.startswith(("resnet20b", "resnet32b", "resnet44b", "resnet56b"))),
    *(_planned(name, "cifar100") for name in ("resnet18_cifar", "resnet50_cifar", "resnet56_cifar", "resnet110_cifar", "preact_resnet18_cifar")),
)
# fmt: on
