"""The networks other people's CIFAR ResNet weights were trained in, rebuilt independently of resnetzoo.

Each follows its source's own code (named per class), so a test can write a checkpoint exactly as
that source saves it and check that resnetzoo's converted model computes the same function.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision.models.resnet import BasicBlock as TorchvisionBasicBlock


def randomize(model: nn.Module, seed: int) -> nn.Module:
    """Random weights and BN statistics, so that equal outputs mean every tensor landed right."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.2)
    return model.eval()


# -- edadaltocg (timm resnet with a 3x3 stem) ---------------------------------------------------


def torchvision_cifar_resnet(depth: int = 18, num_classes: int = 10) -> nn.Module:
    """torchvision's ResNet with the CIFAR stem that timm-based CIFAR repos (edadaltocg) use."""
    model = getattr(torchvision.models, f"resnet{depth}")(num_classes=num_classes)
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


def save_edadaltocg(model: nn.Module, path: Path) -> bytes:
    """``pytorch_model.bin`` as edadaltocg publishes it: a pickled state dict (zip format)."""
    torch.save(model.state_dict(), path)
    return path.read_bytes()


# -- akamaster/pytorch_resnet_cifar10 -----------------------------------------------------------


class AkamasterBlock(nn.Module):
    """akamaster's BasicBlock, option A: the shortcut pads planes // 4 zero channels on each side."""

    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.pad = planes // 4 if stride != 1 or in_planes != planes else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.pad is None else F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(out + shortcut)


class AkamasterResNet(nn.Module):
    """akamaster's ResNet for CIFAR: ``num_blocks`` option-A blocks per stage, a ``linear`` head."""

    def __init__(self, num_blocks: int, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        in_planes, stages = 16, []
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(num_blocks):
                blocks.append(AkamasterBlock(in_planes, planes, stride if i == 0 else 1))
                in_planes = planes
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.linear = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        return self.linear(F.avg_pool2d(out, out.size()[3]).flatten(1))


def save_akamaster(model: nn.Module, path: Path, *, legacy: bool = True) -> bytes:
    """A checkpoint as akamaster's trainer saves it: ``{'state_dict', 'best_prec1'}``, keys from
    ``nn.DataParallel`` (``module.``), in the legacy pre-zip pickle format of PyTorch < 1.6."""
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "best_prec1": 91.73}, path, _use_new_zipfile_serialization=not legacy)
    return path.read_bytes()


# -- chenyaofo/pytorch-cifar-models -------------------------------------------------------------


class ChenyaofoResNet(nn.Module):
    """chenyaofo's CifarResNet: torchvision's BasicBlock, 16/32/64 channels, 1x1 conv + BN shortcuts."""

    def __init__(self, num_blocks: int, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        in_planes, stages = 16, []
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            downsample = None
            if stride != 1 or in_planes != planes:
                downsample = nn.Sequential(
                    nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
                )
            blocks = [TorchvisionBasicBlock(in_planes, planes, stride, downsample)]
            blocks += [TorchvisionBasicBlock(planes, planes) for _ in range(num_blocks - 1)]
            stages.append(nn.Sequential(*blocks))
            in_planes = planes
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))


def save_chenyaofo(model: nn.Module, path: Path) -> bytes:
    """A release asset as chenyaofo publishes it: a plain state dict."""
    torch.save(model.state_dict(), path)
    return path.read_bytes()
