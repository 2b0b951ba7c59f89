"""One record, one codec: a weights record through every file that carries it comes back equal.

The encoders and decoders: ``config.json`` (save_pretrained / from_pretrained), the safetensors
header, a training checkpoint, ONNX metadata (export), an int8 file's record (quantize), and the
model card's results table (percent, for people). Old shapes still decode; bad values name the
file and the key.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import onnx
import pytest
import torch
from safetensors import safe_open
from train_helpers import with_running_stats

import resnetzoo as rz
from resnetzoo._record import decode_record, encode_record, record_from_metadata
from resnetzoo.hub.card import model_card
from resnetzoo.hub.config import FORMAT_VERSION, read_config
from resnetzoo.models.weights import Metrics
from resnetzoo.train.checkpoint import read_checkpoint, write_checkpoint

pytestmark = pytest.mark.usefixtures("single_thread")

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
RECORD = rz.Weights(
    architecture="resnet20_cifar",
    tag="mine",
    hf_hub_id="me/resnet20",
    hf_hub_revision="v1",
    sha256="ab" * 32,
    file_size=1_083_000,
    license="Apache-2.0",
    origin_url="https://example.org/resnet20",
    paper="He et al. 2015",
    reported_top1=0.9125,
    reported_in="https://example.org/resnet20#results",
    num_classes=10,
    categories=CLASSES,
    dataset="cifar10",
    mean=(0.4914, 0.4822, 0.4465),
    std=(0.247, 0.2435, 0.2616),
    recipe="long",
    base_model="resnet20_cifar.cifar10",
    notes="trained for the codec test",
    metrics=[
        rz.Metric("top1", 0.9125, split="test", num_images=10_000),
        rz.Metric("val_top1", 0.905, split="val", num_images=5_000),
        rz.Metric("top1_jpeg", 0.885),  # split and count unknown
    ],
    num_params=269_722,
    flops=81_221_000,
)


def _model() -> torch.nn.Module:
    model = with_running_stats(rz.resnet20_cifar())
    model.pretrained_cfg = RECORD
    return model


def _card_results(card: str) -> list[tuple[str, ...]]:
    """The rows of the card's results table: (metric, percent, split, images)."""
    lines = card.split("| metric | value | split | images |\n|---|---|---|---|\n")[1].split("\n\n")[0]
    return [tuple(cell.strip() for cell in line.strip("|").split("|")) for line in lines.splitlines()]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rz.save_pretrained(_model(), tmp_path_factory.mktemp("codec") / "repo")


def test_the_record_splits_into_what_the_model_is_and_the_facts_of_its_file() -> None:
    names = {f.name for f in dataclasses.fields(rz.Weights)}
    model_names = {f.name for f in dataclasses.fields(rz.ModelSpec)}
    file_names = {f.name for f in dataclasses.fields(rz.WeightsFile)}
    assert model_names | file_names == names
    assert not model_names & file_names
    assert RECORD.model == rz.ModelSpec(**{name: getattr(RECORD, name) for name in model_names})
    assert RECORD.artifact.source == "hf-hub:me/resnet20/model.safetensors@v1"
    assert (RECORD.model.mean, RECORD.artifact.sha256) == (RECORD.mean, RECORD.sha256)  # flat reads stay
    assert rz.Weights.from_parts(RECORD.model, RECORD.artifact) == RECORD
    assert rz.Weights.from_parts(RECORD.model).source is None  # weights in no file yet


def test_one_record_through_every_codec_comes_back_equal(saved: Path, tmp_path: Path) -> None:
    # Generated from the fields: every field is written, in JSON's types.
    encoded = encode_record(RECORD)
    assert set(encoded) == {f.name for f in dataclasses.fields(rz.Weights)}
    assert encoded["metrics"][0] == {"name": "top1", "value": 0.9125, "split": "test", "num_images": 10_000}
    assert decode_record(json.loads(json.dumps(encoded)), source="memory") == RECORD

    # config.json, through save_pretrained and from_pretrained.
    config = json.loads((saved / "config.json").read_text())
    assert config["format_version"] == FORMAT_VERSION == 3
    assert config["metrics"] == encoded["metrics"]
    assert read_config(saved / "config.json", source=str(saved))[0] == RECORD
    assert rz.from_pretrained(saved).pretrained_cfg == RECORD

    # The safetensors header.
    with safe_open(saved / "model.safetensors", "pt") as weights_file:
        assert record_from_metadata(weights_file.metadata(), source="model.safetensors") == RECORD

    # A training checkpoint holds record.to_dict(), the same encoding.
    assert RECORD.to_dict() == encoded
    state = {"model": {}, "optimizer": {}, "scheduler": {}, "epoch": 1, "step": 1, "config": {}, "rng": {}}
    path = write_checkpoint(tmp_path / "epoch_0001.pt", {**state, "history": [], "pretrained_cfg": encoded})
    assert decode_record(read_checkpoint(path)["pretrained_cfg"], source=str(path)) == RECORD

    # ONNX metadata, as export writes it (without the local path, which names this machine's file).
    onnx_path = rz.export(_model(), tmp_path / "m.onnx", check=False)
    metadata = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
    assert record_from_metadata(metadata, source=str(onnx_path)) == RECORD
    assert rz.Weights(**json.loads(metadata["record"])) == RECORD  # what the export docs tell users

    # The model card: percent for people, with the split and the number of images.
    assert _card_results((saved / "README.md").read_text()) == [
        ("top1", "91.25", "test", "10,000"),
        ("val_top1", "90.50", "val", "5,000"),
        ("top1_jpeg", "88.50", "", ""),
    ]


def test_quantize_records_fractions_and_says_when_it_measured_on_calibration_images(tmp_path: Path) -> None:
    model = _model()
    pixels = torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (RECORD.mean, RECORD.std))
    images = (pixels - mean) / std  # normalised as the record says (quantize compares them with it)
    with torch.no_grad():
        labels = model(images).argmax(1)
    # 16 images cannot vouch for the file (quantize.MIN_CHECK_IMAGES): written unchecked, the scores recorded.
    path = rz.quantize(
        model, [(images, labels)], tmp_path / "m.int8.onnx", calibration_images=16, max_top1_drop=None
    )
    metadata = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    record = record_from_metadata(metadata, source=str(path))
    top1, fp32 = record.metrics.metric("top1"), record.metrics.metric("top1_fp32")
    assert fp32 == rz.Metric("top1_fp32", 1.0, split="calibration", num_images=16)  # a fraction, not 100
    assert 0 <= top1.value <= 1
    assert (top1.split, top1.num_images) == ("calibration", 16)
    assert record == RECORD.derived(metrics=[top1, fp32], notes=record.notes)
    # Its card says that the scores come from the calibration images, which are training images.
    card = model_card(record, num_params=269_722, repo_id=None)
    assert ("top1_fp32", "100.00", "calibration (training) images", "16") in _card_results(card)


@pytest.mark.parametrize(
    ("metrics", "version"),
    [
        ({"top1": 91.25}, 1),  # version 1: percent
        ({"top1": 0.9125}, 2),  # version 2: fractions in an object
    ],
)
def test_old_config_formats_still_load(saved: Path, tmp_path: Path, metrics: dict, version: int) -> None:
    old = {
        "format_version": version,
        "architecture": "resnet20_cifar",
        "model_kwargs": {"num_classes": 10, "in_chans": 3, "zero_init_residual": False, "shortcut": "A"},
        "num_classes": 10,
        "categories": list(CLASSES),
        "mean": [0.4914, 0.4822, 0.4465],
        "std": [0.247, 0.2435, 0.2616],
        "input_size": [3, 32, 32],
        "dataset": "cifar10",
        "metrics": metrics,
        "recipe": "long",
        "license": "Apache-2.0",
        "resnetzoo_version": "0.1.0",
    }
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(old))
    (folder / "model.safetensors").write_bytes((saved / "model.safetensors").read_bytes())
    record = rz.from_pretrained(folder).pretrained_cfg
    assert record.metrics == (rz.Metric("top1", 0.9125),)
    assert record.metrics["top1"] == 0.9125
    assert dict(record.metrics) == {"top1": 0.9125}
    assert (record.recipe, record.license, record.mean) == ("long", "Apache-2.0", (0.4914, 0.4822, 0.4465))


def test_an_old_checkpoint_record_still_decodes() -> None:
    # resnetzoo 0.1.0 wrote Weights.to_dict(): metrics a {name: fraction} object, every field present.
    old = {**encode_record(RECORD), "metrics": {"top1": 0.9125, "val_top1": 0.905}}
    record = decode_record(old, source="epoch_0003.pt")
    assert record.metrics == {"top1": 0.9125, "val_top1": 0.905}
    assert record.metrics.metric("top1") == rz.Metric("top1", 0.9125)


def test_metrics_read_by_name_and_iterate_as_metric_entries() -> None:
    metrics = RECORD.metrics
    assert isinstance(metrics, tuple)
    assert isinstance(metrics, Metrics)
    assert [m.name for m in metrics] == ["top1", "val_top1", "top1_jpeg"]
    assert metrics["top1"] == 0.9125
    assert metrics.get("top5") is None
    assert "val_top1" in metrics
    assert {**metrics} == {"top1": 0.9125, "val_top1": 0.905, "top1_jpeg": 0.885}
    assert metrics.metric("top1").percent == 91.25
    assert metrics.metric("top1").describe() == "91.25% on 10,000 test images"
    assert rz.Weights(architecture="resnet20_cifar", metrics={"top1": 0.5}).metrics == {"top1": 0.5}
    with pytest.raises(rz.ArgumentError, match=r"metrics name \['top1'\] more than once"):
        rz.Weights(architecture="resnet20_cifar", metrics=[rz.Metric("top1", 0.5), rz.Metric("top1", 0.6)])
    with pytest.raises(rz.ArgumentError, match=r"Metric\.value must be a finite number"):
        rz.Metric("top1", float("nan"))
    with pytest.raises(rz.ArgumentError, match=r"Metric\.num_images must be None or an integer >= 0"):
        rz.Metric("top1", 0.5, num_images=-1)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"num_classes": "10"}, "'num_classes' must be an integer >= 0"),
        ({"mean": [0.5] * 5}, "'mean' must be null or a list of 1 to 4 numbers"),
        ({"sha256": "12fca82f"}, "'sha256' must be null or 64 lowercase hex digits"),
        ({"layout": "pickle"}, "'layout' must be one of"),
        (
            {"metrics": [{"name": "top1", "value": "high"}]},
            r"'metrics\['top1'\]\.value' must be a finite number",
        ),
        ({"metrics": [{"name": "top1", "value": 0.9, "num_images": -3}]}, r"'metrics\['top1'\]\.num_images'"),
        (
            {"metrics": [{"name": "top1", "value": 0.9, "where": "x"}]},
            r"unexpected fields \['metrics\['top1'\]\.where'\]",
        ),
        ({"metrics": [{"value": 0.9}]}, r"missing required fields \['metrics\[0\]\.name'\]"),
        ({"metrics": 0.9}, "'metrics' must be a list of {name, value, split, num_images} objects"),
        ({"evil": 1}, r"unexpected fields \['evil'\]"),
        (
            {"reported_top1": 10**400},
            "'reported_top1' must be None or a finite number; got an integer beyond the float range",
        ),
        (
            {"metrics": {"top1": 10**400}},
            r"'metrics\['top1'\]\.value' must be a finite number; got an integer beyond the float range",
        ),
        ({"categories": ["a"]}, "1 categories for 10 classes"),
    ],
)
def test_bad_values_name_the_file_and_the_key(changes: dict, message: str) -> None:
    data = {**encode_record(RECORD), **changes}
    with pytest.raises(rz.ConfigError, match=rf"^invalid record in ck\.pt: .*{message}"):
        decode_record(data, source="ck.pt")
    metadata = {"record": json.dumps(data)}
    with pytest.raises(rz.ConfigError, match=rf"^invalid record in m\.onnx: .*{message}"):
        record_from_metadata(metadata, source="m.onnx")


def test_metadata_that_is_not_json_names_the_file() -> None:
    with pytest.raises(rz.ConfigError, match=r"invalid record in m\.onnx: not JSON"):
        record_from_metadata({"record": "{'architecture'"}, source="m.onnx")
    assert record_from_metadata({"format": "pt"}, source="m.safetensors") is None


def _int8_onnx_of_0_1_0(path: Path) -> Path:
    """An int8 ONNX file's metadata as resnetzoo 0.1.0's quantize wrote it: the export's entries, and a
    record from ``Weights.to_dict()`` of that version (every field flat, metrics an object) whose metrics
    hold top-1 in percent, rounded to 2 places, and the number of check images as a metric."""
    how = "int8 post-training static quantization (ONNX Runtime 1.17.0, QDQ, ...)"
    record = {
        **{k: v for k, v in encode_record(RECORD.derived(notes=how)).items() if k != "model_kwargs"},
        "metrics": {"top1": round(91.99, 2), "top1_fp32": round(92.5, 2), "check_images": 200},
    }
    metadata = {
        "resnetzoo_version": "0.1.0",
        "model_name": "resnet20_cifar",
        "input_size": "[3, 32, 32]",
        "num_classes": "10",
        "weights": f"{how} of resnet20_cifar.mine",
        "record": json.dumps(record),
    }
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3, 32, 32])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3, 32, 32])],
    )
    proto = onnx.helper.make_model(graph)
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))
    return path


def test_an_int8_onnx_record_of_0_1_0_reads_back_in_fractions(tmp_path: Path) -> None:
    path = _int8_onnx_of_0_1_0(tmp_path / "m.int8.onnx")
    # What the command line does with the file quantize wrote; the codec's one reader of ONNX records.
    metadata = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    record = record_from_metadata(metadata, source=str(path))
    assert record.metrics == (
        rz.Metric("top1", 91.99 / 100, num_images=200),  # 0.9199: a fraction, on the 200 check images
        rz.Metric("top1_fp32", 0.925, num_images=200),
    )
    assert record.metrics.metric("top1").describe() == "91.99% on 200 images"
    assert "check_images" not in record.metrics  # a count, not a score
    assert record.base_model == "resnet20_cifar.mine"
    assert record.notes.startswith("int8 post-training static quantization")
    # The same record under a later version's metadata is taken as it says: fractions stay fractions.
    later = {**metadata, "resnetzoo_version": "0.2.0"}
    later["record"] = json.dumps({**json.loads(metadata["record"]), "metrics": {"top1": 0.9199}})
    assert record_from_metadata(later, source=str(path)).metrics == {"top1": 0.9199}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mean": [10**400, 0.5, 0.5]}, "'mean' must be null or a list of 1 to 4 numbers"),
        ({"std": [0.5, 0.5, -(10**400)]}, "'std' must be null or a list of 1 to 4 positive numbers"),
        (
            {"reported_top1": -(10**400)},
            "'reported_top1' must be None or a finite number; got an integer beyond",
        ),
        (
            {"metrics": [{"name": "top1", "value": 10**400}]},
            r"'metrics\['top1'\]\.value' must be a finite number",
        ),
        ({"input_size": [3, 10**400, 32]}, "'input_size' must be a list of 3 positive integers"),
    ],
)
def test_integers_beyond_float_range_are_refused_naming_the_key(changes: dict, message: str) -> None:
    # Every number the decoder reads goes through _validate's checks, which turn the OverflowError of
    # float(10**400) into the key's message: nothing reaches the caller as an OverflowError.
    data = {**encode_record(RECORD), **changes}
    with pytest.raises(rz.ConfigError, match=rf"^invalid record in ck\.pt: ({message})"):
        decode_record(data, source="ck.pt")


def _built_with_arguments() -> torch.nn.Module:
    model = rz.resnet20_cifar(in_chans=1, shortcut="B", drop_rate=0.1)
    torch.manual_seed(0)
    with torch.no_grad():  # running statistics as a trained model has (with_running_stats, one channel)
        model(torch.rand(16, 1, 32, 32) * 2)
    model.eval()
    model.pretrained_cfg = rz.Weights(
        architecture="resnet20_cifar", tag="gray", input_size=(1, 32, 32), mean=(0.5,), std=(0.25,)
    )
    return model


def test_every_writer_records_the_constructor_arguments_and_every_reader_rebuilds_from_them(
    tmp_path: Path,
) -> None:
    model = _built_with_arguments()
    kwargs = {"in_chans": 1, "shortcut": "B", "drop_rate": 0.1}
    assert model.pretrained_cfg.model_kwargs == kwargs
    assert encode_record(model.pretrained_cfg)["model_kwargs"] == kwargs

    # config.json spells them out as every version wrote them; the record holds them.
    folder = rz.save_pretrained(model, tmp_path / "saved")
    config = json.loads((folder / "config.json").read_text())
    assert config["model_kwargs"] == {"num_classes": 10, "zero_init_residual": False, **kwargs}
    loaded = rz.from_pretrained(folder)
    assert loaded.pretrained_cfg.model_kwargs == kwargs
    assert torch.equal(loaded.eval()(torch.ones(1, 1, 32, 32)), model.eval()(torch.ones(1, 1, 32, 32)))
    with safe_open(folder / "model.safetensors", "pt") as weights_file:
        assert record_from_metadata(weights_file.metadata(), source="m").model_kwargs == kwargs

    # A checkpoint holds the record; the reader builds the network from it alone.
    state = {"model": model.state_dict(), "optimizer": {}, "scheduler": {}, "epoch": 1, "step": 1}
    path = write_checkpoint(
        tmp_path / "epoch_0001.pt",
        {**state, "config": {}, "rng": {}, "history": [], "pretrained_cfg": model.pretrained_cfg.to_dict()},
    )
    from_checkpoint = rz.from_pretrained(path)
    assert from_checkpoint.pretrained_cfg.model_kwargs == kwargs
    assert from_checkpoint.model_kwargs == model.model_kwargs

    # ONNX metadata, from export.
    onnx_path = rz.export(model, tmp_path / "m.onnx", check=False)
    metadata = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
    assert record_from_metadata(metadata, source=str(onnx_path)).model_kwargs == kwargs

    # The model card tells how to build it.
    assert "in_chans=1" in (folder / "README.md").read_text()


def test_checkpoints_of_0_2_0_keep_the_arguments_beside_the_record_and_still_load(tmp_path: Path) -> None:
    model = _built_with_arguments()
    old_record = {k: v for k, v in model.pretrained_cfg.to_dict().items() if k != "model_kwargs"}
    state = {"model": model.state_dict(), "optimizer": {}, "scheduler": {}, "epoch": 1, "step": 1}
    path = write_checkpoint(
        tmp_path / "epoch_0001.pt",
        {
            **state,
            "config": {},
            "rng": {},
            "history": [],
            # What 0.2.0's Trainer wrote: the record without arguments, and the arguments spelled out beside.
            "model_name": "resnet20_cifar",
            "model_kwargs": {"num_classes": 10, "in_chans": 1, "zero_init_residual": False, "shortcut": "B"},
            "pretrained_cfg": old_record,
        },
    )
    loaded = rz.from_pretrained(path)
    assert loaded.pretrained_cfg.model_kwargs == {"in_chans": 1, "shortcut": "B"}
    assert loaded.pretrained_cfg.mean == (0.5,)
    assert torch.equal(loaded.eval()(torch.ones(1, 1, 32, 32)), model.eval()(torch.ones(1, 1, 32, 32)))


@pytest.mark.parametrize("version", [1, 2, 3])
def test_old_config_formats_rebuild_the_network_their_arguments_describe(
    tmp_path: Path, version: int
) -> None:
    model = _built_with_arguments()
    folder = rz.save_pretrained(model, tmp_path / "saved")
    config = json.loads((folder / "config.json").read_text())
    # As 0.1.0 and 0.2.0 wrote it: the arguments spelled out beside the record's other fields.
    keep = ("architecture", "model_kwargs", "num_classes", "categories", "mean", "std", "input_size")
    old = {k: config[k] for k in (*keep, "dataset", "recipe", "license")} if version == 1 else dict(config)
    old.update(format_version=version, resnetzoo_version="0.2.0" if version == 3 else "0.1.0")
    old["model_kwargs"] = {"num_classes": 10, "in_chans": 1, "zero_init_residual": False, "shortcut": "B"}
    (folder / "config.json").write_text(json.dumps(old))
    loaded = rz.from_pretrained(folder)
    assert loaded.pretrained_cfg.model_kwargs == {"in_chans": 1, "shortcut": "B"}  # no drop_rate then
    assert torch.equal(loaded.eval()(torch.ones(1, 1, 32, 32)), model.eval()(torch.ones(1, 1, 32, 32)))
