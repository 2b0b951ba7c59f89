"""The model card (``README.md``) of a resnetzoo repo, written from its weights record."""

from __future__ import annotations

from huggingface_hub import EvalResult, ModelCardData

from .._version import __version__
from ..models import Weights
from ..models.registry import get_weights
from ..models.weights import Metric

__all__ = ["model_card"]

# Hub dataset repos and display names of the data sets resnetzoo knows.
_HUB_DATASETS = {"cifar10": ("uoft-cs/cifar10", "CIFAR-10"), "cifar100": ("uoft-cs/cifar100", "CIFAR-100")}


def _base_model_repo(record: Weights) -> str | None:
    """The Hub repo of the weights these were fine-tuned from, for the card's ``base_model``, if any."""
    if record.base_model is None:
        return None
    try:
        base = get_weights(record.base_model)
    except ValueError:  # not a registered name: a path or a URL
        return None
    return base.hf_hub_id if base.hf_hub_id is not None and not base.planned else None


# Splits whose scores say little about new images: the card says so beside them.
_SEEN_SPLITS = {"calibration": "calibration (training) images", "train": "training images"}


def _result_row(metric: Metric) -> str:
    split = _SEEN_SPLITS.get(metric.split or "", metric.split or "")
    images = f"{metric.num_images:,}" if metric.num_images is not None else ""
    return f"| {metric.name} | {metric.percent:.2f} | {split} | {images} |"


def model_card(record: Weights, *, num_params: int, repo_id: str | None) -> str:
    # A data set resnetzoo knows has a Hub dataset repo; another keeps its own name in the model-index.
    hub_dataset, dataset_title = _HUB_DATASETS.get(record.dataset or "", (None, record.dataset))
    eval_results = None
    if record.metrics and dataset_title:
        eval_results = [
            EvalResult(
                task_type="image-classification",
                task_name="Image Classification",
                dataset_type=hub_dataset or dataset_title,
                dataset_name=dataset_title,
                dataset_split=metric.split or "test",
                metric_type="accuracy" if metric.name.startswith(("top", "acc")) else metric.name,
                metric_name=metric.name,
                metric_value=round(metric.percent, 4),
            )
            for metric in record.metrics
        ]
    card_data = ModelCardData(
        library_name="resnetzoo",
        license=record.license.lower() if record.license else None,
        tags=["image-classification", "resnet", "cifar", "resnetzoo", "pytorch", "safetensors"],
        pipeline_tag="image-classification",
        datasets=[hub_dataset] if hub_dataset else None,
        metrics=["accuracy"] if eval_results else None,
        model_name=record.architecture,
        eval_results=eval_results,
        base_model=_base_model_repo(record),
    )
    source = f"hf-hub:{repo_id}" if repo_id else "path/to/this/folder"
    classes = str(record.num_classes)
    if record.categories:
        shown = ", ".join(record.categories[:10])
        classes += f" ({shown}, ...)" if len(record.categories) > 10 else f" ({shown})"
    rows = [
        ("architecture", f"`{record.architecture}` ({num_params:,} parameters)"),
        # What it was built with beyond the architecture's defaults (what from_pretrained rebuilds).
        ("arguments", ", ".join(f"`{k}={v!r}`" for k, v in record.model_kwargs.items()) or None),
        ("classes", classes),
        ("input", "x".join(str(v) for v in record.input_size)),
        (
            "normalisation",
            f"mean {list(record.mean)}, std {list(record.std)}" if record.mean and record.std else "unknown",
        ),
        ("trained on", dataset_title or "unknown"),
        ("training recipe", f"`{record.recipe}`" if record.recipe else "unknown"),
        ("weights", f"`{record.name}`, from {record.source}" if record.source else None),
        ("fine-tuned from", f"`{record.base_model}`" if record.base_model else None),
        ("license", record.license),
        ("paper", record.paper),
        (
            "reported top-1",
            f"{record.reported_top1:.2%} ({record.reported_in})" if record.reported_top1 else None,
        ),
        ("resnetzoo", __version__),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows if v is not None)
    results = "\n".join(_result_row(metric) for metric in record.metrics) or "| (none recorded) | | | |"
    transforms = (
        "\npreprocess = model.pretrained_cfg.transforms()  # the same preprocessing, for your own pipeline"
        if record.mean and record.std
        else ""
    )
    return f"""---
{card_data.to_yaml()}
---

# {record.architecture}{f" on {dataset_title}" if dataset_title else ""}

A residual network for 32x32 images from [resnetzoo](https://github.com/resnetzoo/resnetzoo),
stored as `model.safetensors` with its architecture and metadata in `config.json`.

| | |
|---|---|
{table}

## Results

Scores resnetzoo measured (accuracies in %), each on the split and number of images shown (a blank
split: not recorded, by convention the test split).

| metric | value | split | images |
|---|---|---|---|
{results}

## Usage

```python
import torch
import resnetzoo as rz

model = rz.from_pretrained("{source}").eval()
image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)  # or an image file's path, a PIL image
[top5] = rz.predict(model, image)  # resized and normalised as in training
print([p.label for p in top5]){transforms}
```
"""
