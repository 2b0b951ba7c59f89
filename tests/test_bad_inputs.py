"""Bad input gets a clear error, and nothing is lost (issues 8 and 16).

Every row is one way a user can hand resnetzoo something wrong. Each is asserted exactly once: by
a case of :func:`test_bad_input_gets_a_clear_error` below (``case <id>``), or by the existing test
named. Every assertion checks the exception type *and* that the message names the problem; where
a load could be half-done, the case also checks that the model still holds exactly its weights.
docs/errors.md lists the same rows, by number, for users (tests/test_docs.py keeps them in step).

Models
 1. input of the wrong rank -> ValueError: test_models.py::test_bad_input_raises_value_error
 2. input with the wrong channel count -> ValueError: same test
 3. input of an integer dtype -> ValueError: same test
 4. input of a float dtype other than the weights' -> ValueError: case model-input-float64
 5. input with NaN -> no error, by design: test_model_forward_does_not_look_for_nan (below)
 6. NaN or infinite pixels to predict -> ValueError: test_predict.py::test_errors_name_the_problem
 7. unknown model name -> ValueError: test_models.py::test_registry_errors_and_filters
Weights and checkpoints
 8. unknown weights tag -> ValueError: test_hub_weights.py::test_unknown_weights_and_models_say_what_exists
 9. num_classes mismatch in load_pretrained -> ValueError:
    test_hub_download.py::test_num_classes_comes_from_the_weights_and_a_mismatch_needs_reset_head
10. num_classes mismatch in load_checkpoint -> CheckpointError:
    test_hub_convert.py::test_a_head_of_another_size_says_which_num_classes_to_use
11. num_classes mismatch in a Trainer resume -> CheckpointError: case resume-other-num-classes
12. another architecture in load_checkpoint -> CheckpointError: case load-checkpoint-other-architecture
13. another architecture in from_pretrained -> CheckpointError:
    test_save_load.py::test_weights_that_do_not_fit_the_config
14. another architecture in a Trainer resume -> CheckpointError: case resume-other-architecture
15. a "state dict" keyed by numbers -> CheckpointError: case load-checkpoint-keys-not-names
16. a truncated model.safetensors -> CheckpointError: case truncated-model-safetensors
17. config.json that is not JSON -> ConfigError: test_save_load.py::test_config_that_is_not_json
18. config.json naming an unregistered architecture -> ConfigError:
    test_save_load.py::test_invalid_configs_are_rejected_naming_the_field
19. config.json with unexpected fields -> ConfigError: same test
Data
20. an empty data set -> ValueError: test_data_dataset.py::test_bad_inputs_are_rejected_at_construction
21. labels outside the data set's classes -> ValueError: same test
22. labels beyond the model's classes, given to fit -> ValueError: case labels-beyond-the-model
23. an image folder without images -> FileNotFoundError:
    test_data_folder.py::test_missing_or_empty_folders_raise_file_not_found
24. an image folder of mixed sizes -> DatasetError:
    test_data_folder.py::test_mixed_sizes_need_size_and_the_error_names_the_file
25. a DeviceLoader over a data set that is not tensor-backed (e.g. mixed sizes) -> TypeError:
    test_data_loader.py::test_datasets_it_cannot_serve_are_rejected
Training
26. TrainConfig with a negative lr, 0 epochs, an unknown optimizer or schedule -> ValueError:
    test_train_config.py::test_impossible_values_name_the_field_and_what_is_allowed
27. TrainConfig with fractional epochs -> ValueError: case config-epochs-not-an-integer
28. TrainConfig with a flag given as a string -> ValueError: case config-flag-is-a-string
29. a resume path that does not exist -> FileNotFoundError: case resume-path-missing
Arguments, checked up front by one helper (issue 16): ArgumentTypeError (a TypeError and a ValueError)
for a wrong type, ArgumentError (a ValueError) for a value out of range; each names the parameter, the
values it accepts and what it got
30. a float where an integer is meant (num_classes=2.5) -> ArgumentTypeError: case num-classes-float
31. True where a count is meant (batch_size=True) -> ArgumentTypeError: case batch-size-true
32. a string where a class is meant (norm_layer='bn') -> ArgumentTypeError: case norm-layer-string
33. a numpy array where a tensor is meant (a model's input, a data set's pixels) -> ArgumentTypeError:
    cases model-input-numpy, dataset-numpy
34. a model name in the wrong case -> ArgumentError suggesting the right one: case model-name-wrong-case
35. None as a model name -> ArgumentTypeError: case model-name-none
36. a dict where a TrainConfig is meant -> ArgumentTypeError: case trainer-config-dict
37. a metric that is not a number, given to save_pretrained -> ArgumentTypeError: case metric-not-a-number
38. a seed out of range or not an integer -> ArgumentError: case loader-seed-negative
Silent failures found by a skeptical user (issue 16), each now correct or a specific error
39. a checkpoint with one flipped byte of tensor data, given to load_checkpoint (and so to predict,
    convert and export --checkpoint) -> CheckpointError naming the CRC-32: case load-checkpoint-flipped-byte,
    and test_a_flipped_byte_stops_every_command_that_reads_the_checkpoint (below)
40. a 16-bit PNG or PGM, or a float TIFF, to predict -> scaled by its own range (PIL's convert clipped a
    mid-grey 16-bit image to white, a 0.5 float image to black); a 32-bit integer image or float pixels
    outside [0, 1] -> ValueError: test_predict.py::test_high_bit_depth_images_are_scaled_by_their_own_range
41. one-hot or soft float targets -> trained and scored as class probabilities (train top-1 was 300%,
    val top-1 100% where the truth was 25%), in test_train_trainer.py:
    test_one_hot_targets_train_and_score_as_class_indices_do,
    test_mixed_targets_count_their_most_probable_class; targets that are neither -> ValueError:
    test_targets_that_are_neither_classes_nor_probabilities_are_refused
42. limit_eval_batches / --limit-batches on a split stored class by class -> a seeded random subset of
    that many batches, the same every epoch (the first batches showed one class: a model selected at "val
    top-1 78%" tested at 10%): test_train_trainer.py::
    test_a_limited_evaluation_sees_a_random_subset_not_the_first_classes; a loader it cannot subset ->
    a warning: ::test_a_limited_evaluation_of_an_unknown_loader_says_it_takes_the_first_batches
43. a training loader given to Trainer.predict / test / validate (shuffled, augmented, 64 rows for 70
    images) -> ValueError saying what it would see and how to build an evaluation loader:
    test_train_trainer.py::test_evaluation_refuses_a_training_loader
44. a second run into a run folder in use (resnetzoo train twice into one fresh --out both exited 0 and
    mixed their files) -> RunFolderInUseError, exit 2, nothing written; the lock dies with the process:
    test_train_cli.py::test_a_run_owns_its_folder_until_its_process_ends
45. export(..., opset=13) / --opset 11 (wrote opset 18 and said "checked against PyTorch") -> written as
    asked by PyTorch's TorchScript-based exporter and checked: test_export.py::
    test_an_opset_below_18_is_written_as_asked; a file of another opset -> ExportCheckError, an opset
    below 7 -> ArgumentError: ::test_the_opset_written_is_the_opset_asked_for
46. resnetzoo convert into a folder that holds a saved model (it replaced config.json and erased class
    names, mean, std and metrics) -> refused without --force; with it, the metadata is kept (metrics only
    for the same weights); a run folder's config.json -> refused even with --force:
    test_hub_cli.py::test_convert_into_a_saved_model_needs_force_and_keeps_its_metadata
47. the same resnetzoo train command run twice with the same seed (two models: the CLI, fine_tune's new
    head and the README built the random weights before anything was seeded) -> the same run, and a
    run killed mid-epoch resumes to it: test_train_cli.py::
    test_the_same_command_gives_the_same_run_and_a_killed_run_resumes_to_it,
    test_finetune.py::test_the_new_head_comes_from_the_seed_so_one_call_gives_one_run
Settings that make a run meaningless, refused when they are set (issue 16)
48. multistep milestones at or after the last epoch, an empty out_dir, a seed the generators cannot take
    -> ArgumentError: test_train_config.py::
    test_settings_that_make_a_run_meaningless_are_refused_at_construction
    (a recipe shortened with epochs= moves its milestones with it:
    ::test_a_recipe_shortened_keeps_its_milestones_inside_the_run)
49. a cutout larger than the images -> ArgumentError when the loader is built: case cutout-larger-than-image
50. a stray WORLD_SIZE with no peers -> ValueError (no MASTER_ADDR) or TimeoutError (no one joins) naming
    the variables, instead of torch's error or a 30-minute wait: test_train_distributed.py::
    test_a_stray_world_size_is_refused_naming_the_variables_instead_of_hanging
The command line: one line for a user's error, in the words of the command line, never a traceback
51. an --out that is a file, or that cannot be written (read-only, no permission) -> exit 2 naming the
    folder and the error code (EACCES): test_train_cli.py::
    test_user_errors_of_the_environment_are_one_line_in_cli_words
52. a full disk while a run writes -> exit 2 naming ENOSPC and the file, never the temporary file: same test
53. --device cuda on a machine without a usable GPU -> exit 2, "asks for CUDA, which is not available":
    same test (and predict(device="cuda") -> ArgumentError)
54. eval --checkpoint of another architecture -> exit 2 naming the keys that do not fit: same test
55. a stray WORLD_SIZE under resnetzoo train -> exit 2 naming the variables: same test
56. a library hint in a CLI message (resume='auto', TrainConfig.lr, out_dir, "lr_mult must be") -> the
    option that sets it (--resume auto, --lr, --out, --lr-mult): test_train_cli.py::
    test_user_errors_are_one_line, ::test_a_bad_option_value_names_the_option (every command),
    test_finetune.py::test_cli_fine_tunes_a_saved_model_on_an_image_folder_then_eval_reads_it
57. Ctrl-C during a run -> exit 130 and one line with the command that continues it (--resume auto):
    test_train_cli.py::test_ctrl_c_says_how_to_continue
58. --data cifar10 (or --data-dir DIR) whose files are missing -> exit 2 naming the missing file, not a
    silent fallback to the bundled sample (kept only when neither is given):
    test_train_cli.py::test_train_without_cifar_files_uses_the_bundled_sample_then_tests_once
Files
59. checkpoints, metrics.csv and save_pretrained folders created 0600/0700 by mkstemp/mkdtemp (a shared run
    folder could not be read) -> the modes the umask allows: test_faults.py::
    test_files_a_run_writes_have_the_permissions_the_umask_allows
60. a failed write names the file the user asked for, never the temporary one:
    test_save_load.py::test_save_is_atomic, test_train_cli.py::
    test_user_errors_of_the_environment_are_one_line_in_cli_words
61. save_pretrained of weights holding NaN or inf (a diverged run) -> ArgumentError, nothing written:
    case save-pretrained-nonfinite; allow_nonfinite=True saves them: test_nonfinite_weights_pass_when_allowed
62. load_checkpoint of weights holding NaN or inf -> CheckpointError, nothing loaded: case
    load-checkpoint-nonfinite; allow_nonfinite=True loads them: the same test
Image files: one decoder (resnetzoo.data.read_image) for predict, explain, image_folder and eval (issue 20)
63. an image folder holding a 16-bit PNG (torch's "Promotion for uint16 ... not supported", no file) -> read
    by its range as predict reads it: test_images.py::
    test_every_reader_gives_the_same_pixels_and_the_same_error
64. a truncated JPEG ("Truncated File Read", no file) -> ImageDecodeError "cannot decode image file PATH: ...
    truncated" from predict, explain, image_folder and eval alike: the same test and
    test_images.py::test_cli_eval_on_a_folder_answers_as_predict
65. image_folder(size=32.5) ("'float' object is not iterable") -> ArgumentTypeError naming size:
    test_data_folder.py::test_bad_size_is_rejected
66. an EXIF-rotated photo in an image folder (stored sideways) -> turned as predict turns it:
    test_images.py::test_read_image_decodes_each_kind

Silent failures and weak cases of issue 21
67. fine_tune(num_classes=1) (loss 0, "val top-1 100%") -> ArgumentError naming num_classes: case
    fine-tune-one-class
68. fine_tune on a plain DataLoader whose labels reach beyond num_classes (IndexError after the caller's
    head was replaced) -> ValueError naming the label and the class count, the model untouched: case
    fine-tune-labels-beyond-the-head
69. convert --mean without --std (saved half a normalisation) -> one line naming both flags:
    test_convert_mean_without_std_is_refused_naming_both_flags (below); into a saved model's folder with
    --force the other half is the folder's: test_hub_cli.py::
    test_convert_into_a_saved_model_needs_force_and_keeps_its_metadata
70. export(opset=99) (exported for seconds, then refused the file) -> ArgumentError before any work,
    naming the opsets the installed onnx knows: case export-opset-unknown
71. resnetzoo explain --out DIR where DIR holds a symlink named as an output (wrote through it onto the
    file it pointed to) -> the link is replaced by the PNG, its target untouched, as every file a
    command writes goes through the one atomic writer: test_explain_replaces_a_link_never_writes_through_it
72. resnetzoo eval --weights (CIFAR-10 classes) --data DIR of cat/dog/ship (scored the folder's labels 0-2
    as airplane, automobile, bird: "top-1 0.00%"; and at the folder's image size, not the model's) ->
    classes matched by name and images resized as predict resizes them; a class the model does not know
    -> one line naming it: test_eval_matches_a_folder_s_classes_by_name_at_the_model_s_size
73. evaluating a 3-class model on a split of more classes (torch's "IndexError: Target 3 is out of bounds") ->
    ValueError naming the labels and the outputs: case test-labels-beyond-the-model
74. --resume auto (fit(resume=...)) on another data set of the same size (metrics.csv mixed two runs,
    best/ was chosen across two validation sets) -> CheckpointError naming what differs, nothing loaded;
    TrainConfig(resume_mismatch="allow") continues with a warning: case resume-other-data,
    test_a_resume_on_other_data_continues_when_allowed
75. quantize (prune, distill) given a loader normalised otherwise than the model's record (0.1.0 calibrated
    and checked on it; the file's record said int8 14.84% vs fp32 14.45%, 48.8% vs 81.4% with its own
    normalisation) -> ArgumentError naming the parameter and both normalisations, nothing written:
    test_compress.py::test_quantize_refuses_calibration_normalised_otherwise_than_the_record,
    ::test_prune_and_distill_refuse_loaders_normalised_otherwise_than_the_record
76. quantize given a plain loader of tensors whose first batch cannot be the record's normalisation, or images
    of another size than the model's -> ArgumentError / ValueError naming the loader; a batch that fits ->
    a warning: test_compress.py::test_quantize_measures_a_plain_loader_of_tensors_against_the_record
77. quantize's accuracy check on data that cannot show a loss (0% vs 0%, one image: passed without a word)
    -> ExportCheckError saying why it proves nothing; max_top1_drop=None writes it unchecked, saying so:
    test_compress.py::test_the_accuracy_gate_refuses_a_check_that_cannot_show_a_loss,
    ::test_cli_export_quantize


Hub ids and file names that could leave the cache, and config.json sizes meant to exhaust memory,
are rows of ``test_security.py``.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import pinned_threads
from PIL import Image
from train_helpers import synthetic_dataset, tiny_resnet

import resnetzoo as rz
from resnetzoo.cli import main
from resnetzoo.data import AugmentConfig, DeviceLoader, TensorImageDataset
from resnetzoo.train import TrainConfig, Trainer

# Tiny models: a second torch thread only adds barriers (see helpers.pinned_threads).
pytestmark = pytest.mark.usefixtures("single_thread")


def _config(out_dir: Path | None = None) -> TrainConfig:
    """One quiet epoch on the CPU, writing checkpoints to ``out_dir`` if given."""
    return TrainConfig(
        epochs=1,
        batch_size=16,
        progress=False,
        device="cpu",
        loggers=(),
        out_dir=str(out_dir) if out_dir is not None else None,
    )


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files the cases start from: a one-epoch resnet20_cifar run and a saved resnet20_cifar repo."""
    root = tmp_path_factory.mktemp("artifacts")
    with pinned_threads():  # module-scoped, so not under the single_thread fixture
        torch.manual_seed(0)
        model = rz.resnet20_cifar()
        data = synthetic_dataset(32)
        Trainer(model, _config(root / "run")).fit(DeviceLoader(data, 16, channels_last=False))
    return {
        "checkpoint": root / "run" / "checkpoints" / "epoch_0001.pt",
        "repo": rz.save_pretrained(model, root / "repo"),
    }


def _unchanged(model: torch.nn.Module, action: Callable[[torch.nn.Module], object]) -> None:
    """Run ``action(model)``; whatever it raises, ``model`` must still hold exactly its weights."""
    before = {k: v.clone() for k, v in model.state_dict().items()}
    try:
        action(model)
    finally:
        after = model.state_dict()
        assert after.keys() == before.keys()
        changed = [k for k, v in after.items() if not torch.equal(v, before[k])]
        assert not changed, f"a failed load changed {changed[:5]}"


def _float64_input(artifacts: dict[str, Path], tmp_path: Path) -> None:
    rz.resnet20_cifar()(torch.randn(2, 3, 32, 32, dtype=torch.float64))


def _load_other_architecture(artifacts: dict[str, Path], tmp_path: Path) -> None:
    _unchanged(rz.resnet56_cifar(), lambda model: rz.load_checkpoint(model, artifacts["checkpoint"]))


def _resume(model: torch.nn.Module, artifacts: dict[str, Path], tmp_path: Path) -> None:
    trainer = Trainer(model, _config(tmp_path / "run"))
    _unchanged(
        model,
        lambda _: trainer.fit(
            DeviceLoader(synthetic_dataset(32), 16, channels_last=False), resume=artifacts["checkpoint"]
        ),
    )


def _resume_other_architecture(artifacts: dict[str, Path], tmp_path: Path) -> None:
    _resume(rz.resnet32_cifar(), artifacts, tmp_path)


def _resume_other_num_classes(artifacts: dict[str, Path], tmp_path: Path) -> None:
    _resume(rz.resnet20_cifar(num_classes=4), artifacts, tmp_path)


def _keys_not_names(artifacts: dict[str, Path], tmp_path: Path) -> None:
    torch.save({0: torch.zeros(3), 1: torch.ones(3)}, tmp_path / "numbered.pt")
    _unchanged(rz.resnet20_cifar(), lambda model: rz.load_checkpoint(model, tmp_path / "numbered.pt"))


def _truncated_safetensors(artifacts: dict[str, Path], tmp_path: Path) -> None:
    repo = shutil.copytree(artifacts["repo"], tmp_path / "repo")
    weights = repo / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    rz.from_pretrained(repo)


def _flip_a_weight_byte(artifacts: dict[str, Path], tmp_path: Path) -> Path:
    """The run's checkpoint with one bit of its ``fc.bias`` data flipped: torch.load still reads it."""
    data = bytearray(artifacts["checkpoint"].read_bytes())
    bias = rz.train.read_checkpoint(artifacts["checkpoint"])["model"]["fc.bias"]
    at = data.index(bias.numpy().tobytes())
    data[at] ^= 0x01  # the lowest bit of the first value's mantissa: a change no shape check can see
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(bytes(data))
    return damaged


def _load_flipped_byte(artifacts: dict[str, Path], tmp_path: Path) -> None:
    damaged = _flip_a_weight_byte(artifacts, tmp_path)
    assert torch.load(damaged, weights_only=True)["model"]["fc.bias"] is not None  # torch sees nothing wrong
    _unchanged(rz.resnet20_cifar(), lambda model: rz.load_checkpoint(model, damaged))


def _labels_beyond_the_model(artifacts: dict[str, Path], tmp_path: Path) -> None:
    data = synthetic_dataset(40)
    hundred = TensorImageDataset(data.data, torch.arange(40) * 2 + 20, [f"c{i}" for i in range(100)])
    Trainer(tiny_resnet(), _config()).fit(DeviceLoader(hundred, 16, channels_last=False))


def _resume_path_missing(artifacts: dict[str, Path], tmp_path: Path) -> None:
    Trainer(tiny_resnet(), _config(tmp_path / "run")).fit(
        DeviceLoader(synthetic_dataset(32), 16), resume=tmp_path / "run" / "checkpoints" / "epoch_0007.pt"
    )


@dataclass(frozen=True)
class Case:
    id: str
    call: Callable[[dict[str, Path], Path], object]
    error: type[BaseException]
    match: str


CASES = [
    Case(
        "model-input-float64",
        _float64_input,
        ValueError,
        r"expected a torch\.float32 input, the dtype of the model's weights, got torch\.float64; "
        r"convert the input with x\.to\(torch\.float32\)",
    ),
    Case(
        "load-checkpoint-other-architecture",
        _load_other_architecture,
        rz.CheckpointError,
        r"(?s)the state dict does not fit resnet56_cifar:.*epoch_0001\.pt \(resnetzoo layout\): loaded 116 "
        r"tensors.*missing from the checkpoint \(180\): layer1\.3\.conv1\.weight",
    ),
    Case(
        "resume-other-architecture",
        _resume_other_architecture,
        rz.CheckpointError,
        r"epoch_0001\.pt is a checkpoint of a resnet20_cifar run and this model is a resnet32_cifar: "
        r"resume it with resnetzoo\.create_model\('resnet20_cifar', \.\.\.\)",
    ),
    Case(
        "resume-other-num-classes",
        _resume_other_num_classes,
        rz.CheckpointError,
        r"epoch_0001\.pt does not fit this model \(resnet20_cifar\); nothing was loaded\. wrong shape \(2\): "
        r"fc\.weight \[10, 64\] in the checkpoint vs \[4, 64\] in the model, fc\.bias \[10\]",
    ),
    Case(
        "load-checkpoint-keys-not-names",
        _keys_not_names,
        rz.CheckpointError,
        r"numbered\.pt is not a state dict: its keys 0, 1 are not parameter names",
    ),
    Case(
        "truncated-model-safetensors",
        _truncated_safetensors,
        rz.CheckpointError,
        r"cannot read .*repo/model\.safetensors: not a valid safetensors file \(.*incomplete metadata",
    ),
    Case(
        "labels-beyond-the-model",
        _labels_beyond_the_model,
        ValueError,
        r"the training data has labels up to 98, but the model has 4 outputs \(labels must be in \[0, 4\)\): "
        r"build the model with num_classes=99",
    ),
    Case(
        "config-epochs-not-an-integer",
        lambda artifacts, tmp_path: TrainConfig(epochs=2.5),
        ValueError,
        r"TrainConfig\.epochs must be an integer; got 2\.5 of type float",
    ),
    Case(
        "config-flag-is-a-string",
        lambda artifacts, tmp_path: TrainConfig(deterministic="false"),
        ValueError,
        r"TrainConfig\.deterministic must be True or False; got 'false' of type str",
    ),
    Case(
        "load-checkpoint-flipped-byte",
        _load_flipped_byte,
        rz.CheckpointError,
        r"damaged\.pt is corrupted: its contents do not match the CRC-32 stored when it was written",
    ),
    Case(
        "resume-path-missing",
        _resume_path_missing,
        FileNotFoundError,
        r"resume='.*/run/checkpoints/epoch_0007\.pt': there is no checkpoint file at that path; pass .* or "
        r"resume='auto'",
    ),
]


CASES += [
    Case(
        "num-classes-float",
        lambda artifacts, tmp_path: rz.resnet20_cifar(num_classes=2.5),
        rz.ArgumentTypeError,
        r"num_classes must be None or an integer >= 0; got 2\.5 of type float",
    ),
    Case(
        "batch-size-true",
        lambda artifacts, tmp_path: DeviceLoader(synthetic_dataset(8), True),
        rz.ArgumentTypeError,
        r"batch_size must be an integer >= 1; got True of type bool",
    ),
    Case(
        "norm-layer-string",
        lambda artifacts, tmp_path: rz.resnet20_cifar(norm_layer="bn"),
        rz.ArgumentTypeError,
        r"norm_layer must be None or a norm layer class such as torch\.nn\.BatchNorm2d; got 'bn' of type "
        r"str; pass the class itself, not its name",
    ),
    Case(
        "model-input-numpy",
        lambda artifacts, tmp_path: rz.resnet20_cifar()(np.zeros((2, 3, 32, 32), np.float32)),
        rz.ArgumentTypeError,
        r"the model's input must be a \(batch, channels, height, width\) torch\.Tensor; got a numpy\.ndarray "
        r"of shape \(2, 3, 32, 32\) and dtype float32; convert it with torch\.from_numpy\(x\)",
    ),
    Case(
        "dataset-numpy",
        lambda artifacts, tmp_path: TensorImageDataset(np.zeros((2, 8, 8, 3), np.uint8), [0, 1], ["a", "b"]),
        rz.ArgumentTypeError,
        r"data must be a uint8 tensor of shape \(N, H, W, C\); got a numpy\.ndarray of shape \(2, 8, 8, 3\) "
        r"and dtype uint8; convert it with torch\.from_numpy\(x\)",
    ),
    Case(
        "model-name-wrong-case",
        lambda artifacts, tmp_path: rz.create_model("ResNet20_CIFAR"),
        rz.ArgumentError,
        r"unknown model 'ResNet20_CIFAR'; did you mean 'resnet20_cifar'\? see resnetzoo\.list_models\(\)",
    ),
    Case(
        "model-name-none",
        lambda artifacts, tmp_path: rz.create_model(None),
        rz.ArgumentTypeError,
        r"the model name must be a registered model name such as 'resnet20_cifar'; got None of type NoneType",
    ),
    Case(
        "trainer-config-dict",
        lambda artifacts, tmp_path: Trainer(tiny_resnet(), {"epochs": 1}),
        rz.ArgumentTypeError,
        r"config must be a resnetzoo\.TrainConfig or None; got \{'epochs': 1\} of type dict \(build one with "
        r"TrainConfig\(\*\*settings\)",
    ),
    Case(
        "metric-not-a-number",
        lambda artifacts, tmp_path: rz.save_pretrained(
            rz.resnet20_cifar(), tmp_path, metrics={"top1": "high"}
        ),
        rz.ArgumentTypeError,
        r"metrics\['top1'\] must be a finite number; got 'high' of type str",
    ),
    Case(
        "loader-seed-negative",
        lambda artifacts, tmp_path: DeviceLoader(synthetic_dataset(8), 4, seed=-1),
        rz.ArgumentError,
        r"seed must be an integer in \[0, 2\*\*63\); got -1",
    ),
]


CASES += [
    Case(
        "cutout-larger-than-image",
        lambda artifacts, tmp_path: Trainer(
            tiny_resnet(), TrainConfig(augment=AugmentConfig(cutout=12), device="cpu")
        ).make_loader(synthetic_dataset(16), train=True),
        rz.ArgumentError,
        r"cutout=12 is larger than the data set's 8x8 images: a square that size blanks most or all of an "
        r"image; use a side up to 8",
    ),
]


def _diverged() -> torch.nn.Module:
    model = rz.resnet20_cifar()
    with torch.no_grad():
        model.fc.bias[3] = float("nan")
        model.layer2[0].conv1.weight[0, 0, 0, 0] = float("inf")
    return model


def _save_diverged(artifacts: dict[str, Path], tmp_path: Path) -> None:
    try:
        rz.save_pretrained(_diverged(), tmp_path / "repo")
    finally:
        assert not (tmp_path / "repo").exists()


def _load_diverged(artifacts: dict[str, Path], tmp_path: Path) -> None:
    torch.save(_diverged().state_dict(), tmp_path / "diverged.pt")
    _unchanged(rz.resnet20_cifar(), lambda model: rz.load_checkpoint(model, tmp_path / "diverged.pt"))


CASES += [
    Case(
        "save-pretrained-nonfinite",
        _save_diverged,
        rz.ArgumentError,
        r"the model's weights hold NaN or infinite values in 2 tensors \(layer2\.0\.conv1\.weight, "
        r"fc\.bias\), as after a diverged run; nothing was written\. Save them anyway with "
        r"allow_nonfinite=True",
    ),
    Case(
        "load-checkpoint-nonfinite",
        _load_diverged,
        rz.CheckpointError,
        r"diverged\.pt holds NaN or infinite values in 2 tensors \(layer2\.0\.conv1\.weight, fc\.bias\), "
        r"as a diverged run leaves them; nothing was loaded\. Load it anyway with allow_nonfinite=True",
    ),
]


def _fine_tune_labels_beyond_the_head(artifacts: dict[str, Path], tmp_path: Path) -> None:
    images = torch.randn(8, 3, 8, 8)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, torch.arange(8) % 4), 4)
    _unchanged(tiny_resnet(), lambda model: rz.fine_tune(model, loader, num_classes=3, epochs=1))


CASES += [
    Case(
        "fine-tune-one-class",
        lambda artifacts, tmp_path: rz.fine_tune(tiny_resnet(), [], num_classes=1),
        rz.ArgumentError,
        r"num_classes must be None \(keep the head\) or an integer >= 2 .*; got 1",
    ),
    Case(
        "fine-tune-labels-beyond-the-head",
        _fine_tune_labels_beyond_the_head,
        ValueError,
        r"the training data has the label 3, but num_classes=3 gives the new head 3 outputs \(labels must "
        r"be in \[0, 3\)\); nothing was changed",
    ),
]


CASES += [
    Case(
        "export-opset-unknown",
        lambda artifacts, tmp_path: rz.export(
            tiny_resnet(), tmp_path / "m.onnx", opset=99, input_size=(3, 8, 8)
        ),
        rz.ArgumentError,
        r"opset must be an integer in \[7, \d+\] \(the opsets the installed onnx [\d.]+ knows\); got 99",
    ),
]


def test_convert_mean_without_std_is_refused_naming_both_flags(
    artifacts: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["convert", str(artifacts["checkpoint"]), str(tmp_path / "out"), "--model", "resnet20_cifar"]
    assert main([*args, "--mean", "0.5", "0.5", "0.5"]) == 2
    assert (
        "--mean is given without --std: pass both (one normalisation) or neither" in capsys.readouterr().err
    )
    assert main([*args, "--std", "0.2", "0.2", "0.2"]) == 2
    assert "--std is given without --mean" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_explain_replaces_a_link_never_writes_through_it(tmp_path: Path) -> None:
    rz.save_pretrained(rz.resnet20_cifar(), tmp_path / "model")
    Image.fromarray(np.full((32, 32, 3), 100, dtype=np.uint8)).save(tmp_path / "cat.png")
    victim = tmp_path / "elsewhere.txt"
    victim.write_text("precious")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "cat.png").symlink_to(victim)
    args = ["explain", "--weights", str(tmp_path / "model"), str(tmp_path / "cat.png")]
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    assert victim.read_text() == "precious"
    written = tmp_path / "out" / "cat.png"
    assert not written.is_symlink()
    assert Image.open(written).format == "PNG"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["cat.png"]  # no temporary file left


def _test_labels_beyond_the_model(artifacts: dict[str, Path], tmp_path: Path) -> None:
    trainer = Trainer(rz.resnet20_cifar(num_classes=3), _config())
    trainer.test(trainer.make_loader(synthetic_dataset(20), train=False))


CASES += [
    Case(
        "test-labels-beyond-the-model",
        _test_labels_beyond_the_model,
        ValueError,
        r"the test data has labels up to 3, but the model has 3 outputs \(labels must be in \[0, 3\)\)",
    ),
]


def test_eval_matches_a_folder_s_classes_by_name_at_the_model_s_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch.manual_seed(0)
    model = rz.resnet20_cifar().eval()
    rz.save_pretrained(model, tmp_path / "model", dataset="cifar10", mean=(0.5,) * 3, std=(0.25,) * 3)
    model = rz.from_pretrained(tmp_path / "model")
    rng = np.random.default_rng(0)
    files, names = [], ["cat", "dog", "ship"]
    for name in names:
        for i in range(2):
            for split in ("train", "test"):
                (tmp_path / "data" / split / name).mkdir(parents=True, exist_ok=True)
                path = tmp_path / "data" / split / name / f"{i}.png"
                Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(path)
            files.append((path, name))
    args = ["eval", "--weights", str(tmp_path / "model"), "--data", str(tmp_path / "data")]
    assert main([*args, "--val-size", "0", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    loss = float(re.search(r"test \(6 images\): .*loss (\d+\.\d+)", printed).group(1))
    # predict resizes each 16x16 image to the model's 32x32 and names CIFAR-10's classes
    results = rz.predict(model, [str(path) for path, _ in files], topk=10)
    expected = np.mean(
        [
            -np.log(next(p.probability for p in r if p.label == n))
            for r, (_, n) in zip(results, files, strict=True)
        ]
    )
    # the folder keeps its resized pixels as uint8, predict resizes in float: within rounding
    assert loss == pytest.approx(expected, abs=1e-3)

    (tmp_path / "data" / "test" / "unicorn").mkdir()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "data" / "test" / "unicorn" / "0.png")
    (tmp_path / "data" / "train" / "unicorn").mkdir()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "data" / "train" / "unicorn" / "0.png")
    assert main([*args, "--val-size", "0", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "the data's classes unicorn are not among the model's 10 classes (airplane, automobile" in err


def _resume_other_data(artifacts: dict[str, Path], tmp_path: Path, **settings: object) -> None:
    run = tmp_path / "run"
    shutil.copytree(artifacts["checkpoint"].parent.parent / "checkpoints", run / "checkpoints")
    other = synthetic_dataset(32, seed=1)  # the same size, classes and split: other images and labels
    config = dataclasses.replace(_config(run), epochs=2, **settings)
    torch.manual_seed(0)
    _unchanged(
        rz.resnet20_cifar(),
        lambda model: Trainer(model, config).fit(DeviceLoader(other, 16, channels_last=False), resume="auto"),
    )


CASES += [
    Case(
        "resume-other-data",
        _resume_other_data,
        rz.CheckpointError,
        r"epoch_0001\.pt belongs to another run: train data content \(labels and images\)\. Nothing was "
        r"loaded; .* resume_mismatch='allow'",
    ),
]


def test_a_resume_on_other_data_continues_when_allowed(
    artifacts: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(AssertionError):  # _unchanged: the weights moved on, as asked
        _resume_other_data(artifacts, tmp_path, resume_mismatch="allow")
    assert "on other data (train data content (labels and images))" in caplog.text


def test_nonfinite_weights_pass_when_allowed(tmp_path: Path) -> None:
    """Inspecting a diverged run is legitimate: the check has a way around it."""
    folder = rz.save_pretrained(_diverged(), tmp_path / "repo", allow_nonfinite=True)
    model = rz.resnet20_cifar()
    rz.load_checkpoint(model, folder / "model.safetensors", allow_nonfinite=True)
    assert torch.isnan(model.fc.bias[3])
    assert torch.isinf(model.layer2[0].conv1.weight[0, 0, 0, 0])


def test_a_wrong_type_is_both_a_type_error_and_a_value_error() -> None:
    """Code written against either builtin keeps catching the errors of the one helper."""
    assert issubclass(rz.ArgumentTypeError, TypeError)
    assert issubclass(rz.ArgumentTypeError, rz.ArgumentError)
    assert issubclass(rz.ArgumentError, ValueError)
    assert issubclass(rz.ArgumentError, rz.ResnetzooError)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_gets_a_clear_error(case: Case, artifacts: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(case.error, match=case.match):
        case.call(artifacts, tmp_path)


@pytest.mark.parametrize(
    "command",
    [
        ["predict", "--model", "resnet20_cifar", "--checkpoint", "{ckpt}", "{image}"],
        ["convert", "{ckpt}", "{out}", "--model", "resnet20_cifar"],
        [
            "export",
            "--model",
            "resnet20_cifar",
            "--checkpoint",
            "{ckpt}",
            "--output",
            "{out}.pt",
            "--format",
            "torchscript",
        ],
        ["eval", "--checkpoint", "{ckpt}", "--data", "sample", "--device", "cpu"],
    ],
    ids=["predict", "convert", "export", "eval"],
)
def test_a_flipped_byte_stops_every_command_that_reads_the_checkpoint(
    command: list[str], artifacts: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = _flip_a_weight_byte(artifacts, tmp_path)
    image = tmp_path / "image.png"
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(image)
    args = [part.format(ckpt=damaged, image=image, out=tmp_path / "out") for part in command]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{damaged} is corrupted: its contents do not match the CRC-32" in err
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "out.pt").exists()


def test_model_forward_does_not_look_for_nan() -> None:
    """A decision, not an omission: NaN in a model's input propagates to its output, unchecked.

    Looking for NaN means reducing the input and reading the answer on the host: on a GPU, a wait
    for the device in every forward (and a graph break under ``torch.compile``). The places that
    take inputs from users check instead: :func:`resnetzoo.predict` refuses NaN or infinite pixels
    (test_predict.py::test_errors_name_the_problem), and the Trainer stops on a non-finite loss
    with :class:`resnetzoo.NonFiniteLossError`
    (test_train_trainer.py::test_a_nan_loss_stops_training_naming_epoch_and_step_and_keeps_the_checkpoints).
    """
    model = rz.resnet20_cifar().eval()
    x = torch.rand(2, 3, 32, 32)
    x[1, 0, 5, 5] = float("nan")
    with torch.no_grad():
        logits = model(x)
    assert torch.isfinite(logits[0]).all()
    assert torch.isnan(logits[1]).all()  # batch norm in eval mode keeps images apart: only image 1 is lost
