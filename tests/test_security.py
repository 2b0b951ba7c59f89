"""Security (issue 8): nothing from a file or a repo runs as code, selects a class, leaves the cache
or exhausts memory; malformed input of any shape raises only resnetzoo's own errors.

Rows, each asserted once (here, or by the existing test named):

 1. no torch.load without weights_only=True, no pickle.load/loads/Unpickler but the restricted
    CIFAR unpickler, no eval/exec/compile/__import__ in the package:
    test_the_package_never_unpickles_or_evaluates_untrusted_input (AST walk)
 2. a pickle that would run code is refused, and the code does not run:
    test_hub_convert.py::test_pickled_code_is_never_run,
    test_data_cifar.py::test_a_pickle_that_calls_os_system_is_refused_and_not_run
 3. config.json may only name registered architectures and allow-listed constructor arguments
    (``norm_layer``, ``_target_``, ``trust_remote_code`` are refused):
    test_save_load.py::test_invalid_configs_are_rejected_naming_the_field,
    ::test_invalid_config_served_over_http
 4. config.json sizes meant to exhaust memory are refused before anything is allocated:
    test_config_sizes_cannot_exhaust_memory
 5. repo ids and file names cannot leave the cache (``..``, absolute paths, drives), from a user's
    string or a Weights record, before any request: test_hub_paths_cannot_leave_the_cache,
    test_weights_records_cannot_name_paths_outside_their_repo
 6. random JSON into the config.json parser: test_random_json_into_the_config_parser
 7. random config.json files into from_pretrained: test_random_config_json_into_from_pretrained,
    and JSON that Python's parser itself refuses: test_json_the_parser_refuses_is_a_config_error
 8. random and damaged bytes into load_checkpoint (.pt, .pth, .bin, .safetensors):
    test_damaged_files_into_load_checkpoint
 9. random and damaged bytes into read_checkpoint: test_damaged_files_into_read_checkpoint
10. random containers saved with torch.save into load_checkpoint:
    test_random_containers_into_load_checkpoint

The property tests (6-10) are derandomized, so every run tries the same examples; a failure is
reproducible as is. Only ``ResnetzooError`` subclasses (``ConfigError``, ``CheckpointError``) may
come out of them.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import json
import re
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import torch
from fakehub import FakeHub
from helpers import tiny_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file
from train_helpers import training_state

import resnetzoo as rz
from resnetzoo.hub.config import _parse_config
from resnetzoo.hub.download import download_file
from resnetzoo.train.checkpoint import read_checkpoint, write_checkpoint

# torch.load warns about what it meets in some damaged files before refusing them.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning"),
    pytest.mark.filterwarnings("ignore:Defining your `__torch_function__` as a plain method:UserWarning"),
]

PACKAGE = Path(rz.__file__).parent
REPO = PACKAGE.parent

# -- 1. the code itself ----------------------------------------------------------------------------

# Calls that turn bytes into arbitrary Python objects, or strings into code.
_UNPICKLERS = {
    f"{module}.{name}"
    for module in ("pickle", "_pickle", "dill", "cloudpickle")
    for name in ("load", "loads", "Unpickler")
} | {"joblib.load", "pandas.read_pickle", "torch.jit.load"}
_CODE_RUNNERS = {"eval", "exec", "compile", "__import__"}
# The allowed uses. Official CIFAR files are pickles, read by a pickle.Unpickler subclass whose
# find_class maps a fixed set of numpy names and refuses every other global (checked below, and by
# test_data_cifar.py). export() loads the TorchScript file it has just written, to check it.
_ALLOWED = {("resnetzoo/data/cifar.py", "pickle.Unpickler"), ("resnetzoo/export.py", "torch.jit.load")}


def _unsafe_uses(source: str, filename: str) -> list[str]:
    """``file:line: what`` for every unsafe load or eval in ``source``, by walking its AST."""
    tree = ast.parse(source, filename)
    names: dict[str, str] = {}  # local name -> the dotted name it was imported as
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def dotted(expr: ast.expr) -> str | None:
        if isinstance(expr, ast.Name):
            return names.get(expr.id, expr.id)
        if isinstance(expr, ast.Attribute):
            base = dotted(expr.value)
            return f"{base}.{expr.attr}" if base else None
        return None

    def is_constant(node: ast.expr | None, value: object) -> bool:
        return isinstance(node, ast.Constant) and node.value is value

    found: set[tuple[int, str]] = set()
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Call):
            name = dotted(node.func)
            keywords = {k.arg: k.value for k in node.keywords}
            if name in ("torch.load", "torch.serialization.load") and not is_constant(
                keywords.get("weights_only"), True
            ):
                found.add((line, f"{name} without weights_only=True"))
            if name == "numpy.load" and not is_constant(
                keywords.get("allow_pickle", ast.Constant(False)), False
            ):
                found.add((line, "numpy.load with allow_pickle"))
            if (
                isinstance(node.func, ast.Name)
                and node.func.id in _CODE_RUNNERS
                and node.func.id not in names
            ):
                found.add((line, f"{node.func.id}()"))
        if isinstance(node, (ast.Name, ast.Attribute)) and isinstance(getattr(node, "ctx", None), ast.Load):
            name = dotted(node)
            if name in _UNPICKLERS and (filename, name) not in _ALLOWED:
                found.add((line, name))
    return [f"{filename}:{line}: {what}" for line, what in sorted(found)]


def test_the_scan_finds_what_it_looks_for() -> None:
    bad = (
        "import torch, pickle\nimport numpy as np\nfrom pickle import loads as undo\n"
        "torch.load(p)\ntorch.load(p, weights_only=False)\npickle.load(f)\nundo(b)\n"
        "class U(pickle.Unpickler): pass\nnp.load(f, allow_pickle=True)\neval('1')\nexec('x = 1')\n"
        "torch.load(p, weights_only=True)\nnp.load(f)\n"
    )
    assert _unsafe_uses(bad, "bad.py") == [
        "bad.py:4: torch.load without weights_only=True",
        "bad.py:5: torch.load without weights_only=True",
        "bad.py:6: pickle.load",
        "bad.py:7: pickle.loads",
        "bad.py:8: pickle.Unpickler",
        "bad.py:9: numpy.load with allow_pickle",
        "bad.py:10: eval()",
        "bad.py:11: exec()",
    ]


def test_the_package_never_unpickles_or_evaluates_untrusted_input() -> None:
    files = [*sorted(PACKAGE.rglob("*.py")), REPO / "hubconf.py"]
    assert len(files) > 30
    found = []
    loads = 0
    for path in files:
        source = path.read_text(encoding="utf-8")
        found += _unsafe_uses(source, path.relative_to(REPO).as_posix())
        loads += source.count("weights_only=True)")
    assert found == []
    assert loads >= 2  # the scan saw the package's own safe loads (hub/_state.py, train/checkpoint.py)

    # The allowed unpickler subclass restricts what it unpickles: it defines find_class.
    cifar = ast.parse((PACKAGE / "data" / "cifar.py").read_text(encoding="utf-8"))
    unpicklers = [
        node
        for node in ast.walk(cifar)
        if isinstance(node, ast.ClassDef)
        and any(ast.unparse(base) == "pickle.Unpickler" for base in node.bases)
    ]
    assert [node.name for node in unpicklers] == ["_CifarUnpickler"]
    assert "find_class" in {item.name for item in unpicklers[0].body if isinstance(item, ast.FunctionDef)}


# -- 4, 5. config sizes and Hub paths -------------------------------------------------------------


def _saved(tmp_path: Path, **config_changes: Any) -> Path:
    torch.manual_seed(0)
    folder = rz.save_pretrained(rz.resnet20_cifar(), tmp_path / "repo")
    config = json.loads((folder / "config.json").read_text())
    for key, value in config_changes.items():
        if key.startswith("model_kwargs."):
            config["model_kwargs"][key.removeprefix("model_kwargs.")] = value
        else:
            config[key] = value
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        (
            {"num_classes": 10**12},
            rz.ConfigError,
            r"'num_classes' must be an integer >= 0 and < 2\*\*31; got 1000000000000",
        ),
        (
            {"model_kwargs.in_chans": 2**40},
            rz.ConfigError,
            r"'model_kwargs\.in_chans' must be an integer >= 1 and < 2\*\*31",
        ),
        # Allowed sizes that the weights do not have: 2**31 - 1 classes would be 550 GB of head.
        # The check runs on a skeleton on the meta device, so this fails at once, allocating nothing.
        (
            {"num_classes": 2**31 - 1, "model_kwargs.num_classes": 2**31 - 1, "categories": None},
            rz.CheckpointError,
            r"shape mismatch fc\.weight: checkpoint \[10, 64\] vs model \[2147483647, 64\]",
        ),
        (
            {"model_kwargs.in_chans": 100_000_000, "input_size": [100_000_000, 32, 32]},
            rz.CheckpointError,
            r"shape mismatch conv1\.weight: checkpoint \[16, 3, 3, 3\] vs model \[16, 100000000, 3, 3\]",
        ),
    ],
    ids=[
        "num-classes-too-large",
        "in-chans-too-large",
        "num-classes-not-the-weights",
        "in-chans-not-the-weights",
    ],
)
def test_config_sizes_cannot_exhaust_memory(
    tmp_path: Path, changes: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        rz.from_pretrained(_saved(tmp_path, **changes))


_NO_REPO = (
    r"invalid Hub repo id .*: expected 'org/name' made of letters, digits, '_', '-' and '\.', without '\.\.'"
)
_NO_FILE = r"invalid file name {} for Hub repo 'org/name': expected a relative path inside the repo"


@pytest.mark.parametrize(
    ("load", "match"),
    [
        (lambda: rz.from_pretrained("hf-hub:org/name/../../etc/passwd"), _NO_REPO),
        (lambda: rz.from_pretrained("hf-hub:../.."), _NO_REPO),
        (lambda: rz.from_pretrained("hf-hub:org/.."), _NO_REPO),
        (
            lambda: rz.load_checkpoint(rz.resnet20_cifar(), "hf-hub:org/name/../../etc/passwd"),
            _NO_FILE.format(r"'\.\./\.\./etc/passwd'"),
        ),
        (
            lambda: rz.load_checkpoint(rz.resnet20_cifar(), "hf-hub:org/name/weights/../../../x.pt"),
            _NO_FILE.format(r"'weights/\.\./\.\./\.\./x\.pt'"),
        ),
        (
            lambda: rz.load_checkpoint(rz.resnet20_cifar(), "hf-hub:org/name/C:/Windows/x.pt"),
            _NO_FILE.format(r"'C:/Windows/x\.pt'"),
        ),
        (
            lambda: rz.load_checkpoint(rz.resnet20_cifar(), "hf-hub:org/name/a\\..\\..\\x.pt"),
            _NO_FILE.format(r"'a\\\\\.\.\\\\\.\.\\\\x\.pt'"),
        ),
        (lambda: download_file("org/name", "/etc/passwd"), _NO_FILE.format("'/etc/passwd'")),
        (
            lambda: download_file("org/name", "./model.safetensors"),
            _NO_FILE.format(r"'\./model\.safetensors'"),
        ),
    ],
    ids=[
        "from_pretrained-dotdot-in-id",
        "from_pretrained-dotdot-id",
        "from_pretrained-dotdot-name",
        "load_checkpoint-dotdot",
        "load_checkpoint-dotdot-inside",
        "load_checkpoint-drive",
        "load_checkpoint-backslashes",
        "download-absolute",
        "download-dot",
    ],
)
def test_hub_paths_cannot_leave_the_cache(fake_hub: FakeHub, load: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        load()
    assert fake_hub.requests == []  # refused before anything was asked of the server


def test_weights_records_cannot_name_paths_outside_their_repo() -> None:
    record = rz.get_weights("resnet18_cifar.cifar10")
    with pytest.raises(ValueError, match=r"invalid file name '\.\./\.\./\.\./etc/passwd' for Hub repo"):
        dataclasses.replace(record, hf_hub_filename="../../../etc/passwd")
    with pytest.raises(ValueError, match=r"invalid Hub repo id 'resnetzoo/\.\./evil'"):
        dataclasses.replace(record, hf_hub_id="resnetzoo/../evil")
    with pytest.raises(ValueError, match="must end in a plain file name"):
        dataclasses.replace(rz.get_weights("resnet20_cifar"), url="https://example.org/x/..", sha256="0" * 64)


# -- 6-10. property tests ------------------------------------------------------------------------

PROPERTY = settings(
    derandomize=True,  # the same examples on every run: a failure reproduces as is
    database=None,
    deadline=timedelta(seconds=10),  # an example this slow is as good as a hang
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

NUMBERS = (
    st.integers()
    | st.sampled_from([2**31, 2**63, 10**400, -(10**400)])  # JSON integers have no size limit
    | st.floats()  # NaN and infinities too: json.loads reads "NaN" and "Infinity"
)
JSON = st.recursive(
    st.none() | st.booleans() | NUMBERS | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@functools.cache
def _valid_config() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        torch.manual_seed(0)
        path = rz.save_pretrained(rz.resnet20_cifar(), Path(folder) / "repo")
        return {
            "config": json.loads((path / "config.json").read_text()),
            "weights": (path / "model.safetensors").read_bytes(),
        }


_KEYS = [
    "format_version",
    "architecture",
    "model_kwargs",
    "num_classes",
    "resnetzoo_version",
    "categories",
    "mean",
    "std",
    "input_size",
    "dataset",
    "metrics",
    "recipe",
    "license",
]


# Values a config field might plausibly hold, right or wrong for it.
PLAUSIBLE = (
    st.sampled_from(rz.list_models())
    | st.sampled_from(["A", "B", None, True, False, [3, 32, 32], [1, 32, 32], 0, 1, 10, 100, "cifar10"])
    | st.sampled_from([{"top1": 91.5}, [0.5, 0.5, 0.5], ["cat"] * 10])
    | st.integers(-3, 2**40)
)


@st.composite
def configs(draw: st.DrawFn, wild: bool = True) -> Any:
    """A valid config.json with fields changed, dropped or added; if ``wild``, also any JSON value.

    Wild changes are any JSON; tame ones change one field to a plausible value, so that many
    configs pass validation and reach the weights.
    """
    if wild and draw(st.integers(0, 3)) == 0:
        return draw(JSON)
    config = json.loads(json.dumps(_valid_config()["config"]))
    for _ in range(draw(st.integers(1, 3)) if wild else 1):
        key = draw(
            st.sampled_from(
                [
                    *_KEYS,
                    "model_kwargs.num_classes",
                    "model_kwargs.in_chans",
                    "model_kwargs.shortcut",
                    "model_kwargs.zero_init_residual",
                    "extra",
                ]
            )
        )
        if not wild:
            value = draw(PLAUSIBLE)
        else:
            value = draw(
                JSON
                | st.lists(NUMBERS, min_size=3, max_size=3)  # the shape of mean, std and input_size
                | st.dictionaries(st.text(max_size=8), NUMBERS, max_size=3)  # the shape of metrics
                | PLAUSIBLE
            )
        value = json.loads(json.dumps(value))  # a copy: sampled_from hands out the same dict each time
        if wild and draw(st.booleans()) and not key.startswith("model_kwargs"):
            config.pop(key, None)
        elif key.startswith("model_kwargs.") and isinstance(config.get("model_kwargs"), dict):
            config["model_kwargs"][key.removeprefix("model_kwargs.")] = value
        else:
            config[key] = value
    return config


@st.composite
def config_files(draw: st.DrawFn) -> bytes:
    """The bytes of a config.json: mostly a tamely changed config, else anything."""
    kind = draw(st.sampled_from(["tame"] * 6 + ["wild", "bytes", "text", "nested"]))
    if kind in ("tame", "wild"):
        return json.dumps(draw(configs(wild=kind == "wild"))).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "text":
        return draw(st.text(max_size=300)).encode()
    depth = draw(st.integers(1, 5000))
    return b"[" * depth + b"]" * depth  # json.loads recurses once per level


@settings(PROPERTY, max_examples=400)
@given(configs())
def test_random_json_into_the_config_parser(data: Any) -> None:
    try:
        parsed, model_kwargs = _parse_config(data, source="fuzz")
    except rz.ConfigError as err:
        message = str(err)
    else:
        message = None
    if message is not None:
        assert message.startswith("invalid config.json in fuzz: ")
        return
    # Whatever got through is what the loader relies on.
    assert parsed.architecture in rz.list_models()
    assert set(model_kwargs) <= {"num_classes", "in_chans", "zero_init_residual", "shortcut"}
    assert model_kwargs["num_classes"] == parsed.num_classes
    assert 0 <= parsed.num_classes < 2**31


@settings(PROPERTY, max_examples=120)
@given(config_files())
def test_random_config_json_into_from_pretrained(text: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "config.json").write_bytes(text)
        (Path(folder) / "model.safetensors").write_bytes(_valid_config()["weights"])
        try:
            model = rz.from_pretrained(folder)
        except (rz.ConfigError, rz.CheckpointError):
            return
    assert model.model_name in rz.list_models()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b'{"num_classes": ' + b"7" * 5000 + b"}", r"ValueError: Exceeds the limit \(4300 digits\)"),
        (b"[" * 100_000 + b"]" * 100_000, "RecursionError: maximum recursion depth exceeded"),
    ],
    ids=["5000-digit-integer", "nested-100000-deep"],
)
def test_json_the_parser_refuses_is_a_config_error(tmp_path: Path, text: bytes, reason: str) -> None:
    (tmp_path / "config.json").write_bytes(text)
    (tmp_path / "model.safetensors").write_bytes(_valid_config()["weights"])
    with pytest.raises(
        rz.ConfigError, match=rf"invalid config\.json in {re.escape(str(tmp_path))}: not JSON \({reason}"
    ):
        rz.from_pretrained(tmp_path)


# The shape of train_helpers.tiny_resnet (a few thousand parameters), unseeded.
TINY = {"widths": (4, 8, 16), "num_classes": 4, "shortcut": "A"}


@functools.cache
def _intact_files() -> dict[str, bytes]:
    """A tiny model's weights in every format the importers read, and a training checkpoint."""
    torch.manual_seed(0)
    state = tiny_model(**TINY).state_dict()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        save_file(state, root / "weights.safetensors")
        torch.save(state, root / "zip.pt")
        torch.save(
            {"state_dict": state, "epoch": 3}, root / "legacy.pt", _use_new_zipfile_serialization=False
        )
        write_checkpoint(root / "checkpoint.pt", training_state(state))
        return {path.name: path.read_bytes() for path in sorted(root.iterdir())}


class Damage(NamedTuple):
    """A damaged file: its bytes, the intact file it came from (None: random bytes), bytes changed."""

    data: bytes
    origin: str | None
    changed: int  # bytes overwritten in place; a file cut short changes none, it only loses its end

    def __repr__(self) -> str:  # what hypothesis prints for a failing example: not 30 kB of bytes
        digest = hashlib.sha256(self.data).hexdigest()[:12]
        return (
            f"Damage({len(self.data)} bytes, sha256 {digest}..., from {self.origin}, {self.changed} changed)"
        )


@st.composite
def damaged_files(draw: st.DrawFn) -> Damage:
    """Random bytes, or an intact file cut short, with a byte flipped or with a run overwritten."""
    how = draw(st.sampled_from(["random", "cut", "flip", "overwrite"]))
    if how == "random":
        return Damage(draw(st.binary(max_size=512)), None, 0)
    origin = draw(st.sampled_from(sorted(_intact_files())))
    data = bytearray(_intact_files()[origin])
    at = draw(st.integers(0, len(data) - 1))
    if how == "cut":
        return Damage(bytes(data[:at]), origin, 0)
    if how == "flip":
        data[at] ^= draw(st.integers(1, 255))
        return Damage(bytes(data), origin, 1)
    run = draw(st.binary(min_size=1, max_size=16))
    data[at : at + len(run)] = run
    return Damage(bytes(data), origin, len(run))


# The one intact file that carries integrity data (a resnetzoo checkpoint's CRC-32): any damage to it
# must be refused or leave exactly what was written. The other formats hold no checksum, so a changed
# tensor byte loads as a changed value (only a sha256 pin catches that); there at most the damaged
# bytes may differ, and only in tensor values.
CHECKED = "checkpoint.pt"


def _differing_values(state: dict[str, torch.Tensor], reference: dict[str, torch.Tensor]) -> int:
    assert state.keys() == reference.keys()
    count = 0
    for key, value in state.items():
        assert value.dtype == reference[key].dtype, key
        assert value.shape == reference[key].shape, key
        count += int((value.view(-1).view(torch.uint8) != reference[key].view(-1).view(torch.uint8)).sum())
    return count


@settings(PROPERTY, max_examples=250)
@given(damaged_files(), st.sampled_from([".pt", ".pth", ".bin", ".safetensors"]))
def test_damaged_files_into_load_checkpoint(damage: Damage, suffix: str) -> None:
    model = tiny_model(**TINY)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"weights{suffix}"
        path.write_bytes(damage.data)
        try:
            report = rz.load_checkpoint(model, path)
        except rz.CheckpointError:
            return
    assert report.ok  # loaded strictly: only a file that still fits in full gets here
    # Loaded: the damage must not have gone unseen where it could be seen.
    assert damage.origin is not None  # random bytes never make a model's weights
    torch.manual_seed(0)
    reference = tiny_model(**TINY).state_dict()
    changed = _differing_values(model.state_dict(), reference)
    if damage.origin == CHECKED or damage.changed == 0:
        assert changed == 0, (
            f"{damage.origin} damaged ({damage.changed} bytes) loaded {changed} changed bytes"
        )
    else:
        assert changed <= damage.changed


@settings(PROPERTY, max_examples=250)
@given(damaged_files())
def test_damaged_files_into_read_checkpoint(damage: Damage) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "epoch_0001.pt"
        path.write_bytes(damage.data)
        try:
            checkpoint = read_checkpoint(path)
        except rz.CheckpointError:
            return
    assert checkpoint["format"] == "resnetzoo.checkpoint"
    # What was read back is exactly what was written: the CRC-32 refuses every other change.
    assert damage.origin == CHECKED
    _assert_same(checkpoint, _intact_checkpoint())


@functools.cache
def _intact_checkpoint() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "epoch_0001.pt"
        path.write_bytes(_intact_files()[CHECKED])
        return read_checkpoint(path)


def _assert_same(value: Any, reference: Any, where: str = "checkpoint") -> None:
    if isinstance(reference, torch.Tensor):
        assert isinstance(value, torch.Tensor), where
        assert value.dtype == reference.dtype, where
        assert value.shape == reference.shape, where
        assert torch.equal(value.view(-1).view(torch.uint8), reference.view(-1).view(torch.uint8)), where
    elif isinstance(reference, dict):
        assert isinstance(value, dict), where
        assert list(value) == list(reference), where
        for key in reference:
            _assert_same(value[key], reference[key], f"{where}[{key!r}]")
    elif isinstance(reference, (list, tuple)):
        assert type(value) is type(reference), where
        assert len(value) == len(reference), where
        for i, (item, expected) in enumerate(zip(value, reference, strict=True)):
            _assert_same(item, expected, f"{where}[{i}]")
    else:
        assert type(value) is type(reference), where
        assert value == reference, where


@pytest.mark.parametrize("stride", [97])
def test_every_flipped_byte_of_a_checkpoint_is_refused_or_harmless(tmp_path: Path, stride: int) -> None:
    # Deterministic sweep beside the fuzz: one flip every `stride` bytes through the whole file, so the
    # tensor data is hit many times and a reader that skipped the CRC-32 would load changed weights.
    intact = _intact_files()[CHECKED]
    path = tmp_path / "epoch_0001.pt"
    refused = 0
    for at in range(0, len(intact), stride):
        data = bytearray(intact)
        data[at] ^= 0x55
        path.write_bytes(bytes(data))
        try:
            checkpoint = read_checkpoint(path)
        except rz.CheckpointError:
            refused += 1
            continue
        _assert_same(checkpoint, _intact_checkpoint(), f"flip at byte {at}")
    assert refused > len(intact) // stride // 2  # most of the file is tensor data, every byte of it checked


TENSORS = st.builds(torch.zeros, st.lists(st.integers(0, 4), max_size=3).map(tuple))
VALUES = st.recursive(
    st.none() | st.integers(-(2**70), 2**70) | st.text(max_size=8) | TENSORS,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=20) | st.integers(-2, 2), children, max_size=4)
    ),
    max_leaves=10,
)
# Keys a state dict might have: the model's own (possibly behind a wrapper's prefix), others, numbers.
KEYS = (
    st.tuples(
        st.sampled_from(["", "module.", "_orig_mod.", "model."]),
        st.sampled_from(
            [*sorted(tiny_model(**TINY).state_dict()), "linear.weight", "layer1.0.shortcut.0.weight"]
        ),
    ).map("".join)
    | st.text(max_size=20)
    | st.integers(-2, 2)
)
STATE_DICTS = st.dictionaries(KEYS, TENSORS, min_size=1, max_size=6)
CHECKPOINTS = (
    VALUES
    | STATE_DICTS
    | st.dictionaries(
        st.sampled_from(["state_dict", "net", "model", "epoch", "acc"]), STATE_DICTS | VALUES, max_size=3
    )
)


@settings(PROPERTY, max_examples=150)
@given(CHECKPOINTS)
def test_random_containers_into_load_checkpoint(obj: Any) -> None:
    model = tiny_model(**TINY)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "random.pt"
        torch.save(obj, path)
        try:
            report = rz.load_checkpoint(model, path)
        except rz.CheckpointError:
            return
    assert report.ok
