"""TrainConfig validation, recipes, learning-rate schedules and optimizer parameter groups."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re

import pytest
import torch

import resnetzoo as rz
from resnetzoo.data import AugmentConfig
from resnetzoo.recipes import describe_recipe, epochs_for_iterations, get_recipe, list_recipes
from resnetzoo.train.config import TrainConfig
from resnetzoo.train.schedules import build_scheduler, milestone_steps, warmup_steps
from resnetzoo.train.trainer import build_optimizer, parameter_groups

# Tiny models: a second torch thread only adds barriers (see helpers.pinned_threads).
pytestmark = pytest.mark.usefixtures("single_thread")


def test_defaults_are_valid_and_round_trip_through_json():
    config = TrainConfig()
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert isinstance(again.loggers, tuple)
    assert isinstance(again.betas, tuple)


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("lr", 0.0, "> 0"),
        ("lr", -0.1, "> 0"),
        ("lr", math.nan, "> 0"),
        ("epochs", 0, ">= 1"),
        ("batch_size", 0, ">= 1"),
        ("optimizer", "adam", "'sgd', 'adamw'"),
        ("schedule", "step", "'onecycle', 'cosine', 'multistep', 'triangular', 'constant'"),
        ("amp", "fp32", "'auto', 'bf16', 'fp16', 'off'"),
        ("compile_mode", "fast", "'default', 'reduce-overhead'"),
        ("grad_accum_steps", 0, ">= 1"),
        ("ema_decay", 1.0, "[0, 1)"),
        ("ema_decay", -0.5, "[0, 1)"),
        ("momentum", 1.0, "[0, 1)"),
        ("weight_decay", -1e-4, ">= 0"),
        ("label_smoothing", 1.0, "[0, 1)"),
        ("grad_clip", 0.0, "None or a finite number > 0"),
        ("keep_checkpoints", 0, ">= 1"),
        ("checkpoint_every", 0, ">= 1"),
        ("early_stopping_patience", 0, ">= 1"),
        ("milestones", (50, 20), "increasing"),
        ("final_lr_factor", 1.5, "[0, 1]"),
        ("loggers", ("wandb",), "'csv', 'tensorboard', 'plot'"),
        ("device", "gpu", "'cpu', 'cuda'"),
        ("limit_train_batches", 0, ">= 1"),
        ("augment", {"cutout": -1}, "augment.cutout must be an integer >= 0"),
        ("augment", {"cutot": 8}, "has no field cutot; its fields are ['crop_padding', 'flip', 'cutout'"),
    ],
)
def test_impossible_values_name_the_field_and_what_is_allowed(field, value, allowed):
    with pytest.raises(ValueError, match=rf"TrainConfig\.{field}") as info:
        TrainConfig(**{field: value})
    assert allowed in str(info.value)


def test_warmup_longer_than_training_and_nesterov_without_momentum_are_refused():
    with pytest.raises(ValueError, match=r"TrainConfig\.warmup"):
        TrainConfig(epochs=3, warmup=5)
    with pytest.raises(ValueError, match=r"TrainConfig\.nesterov"):
        TrainConfig(momentum=0.0, nesterov=True)
    TrainConfig(momentum=0.0, nesterov=False)  # plain SGD is fine


def test_a_near_miss_suggests_the_right_name():
    with pytest.raises(ValueError, match="did you mean 'adamw'"):
        TrainConfig(optimizer="adamW")


def test_replace_validates_again_and_from_dict_refuses_unknown_fields():
    with pytest.raises(ValueError, match=r"TrainConfig\.lr"):
        dataclasses.replace(TrainConfig(), lr=0)
    with pytest.raises(ValueError, match="unknown TrainConfig field"):
        TrainConfig.from_dict({"learning_rate": 0.1})


# ---------------------------------------------------------------- recipes


def test_recipes_are_listed_and_public():
    assert list_recipes() == ["fast", "long", "paper", "seed"]
    assert rz.recipes.get_recipe is get_recipe
    for name in list_recipes():
        recipe = describe_recipe(name)
        assert recipe.source
        assert recipe.summary
        assert isinstance(recipe.config, TrainConfig)


def test_seed_recipe_is_the_articles_optimizer():
    c = get_recipe("seed")
    assert (c.optimizer, c.lr, c.momentum, c.nesterov, c.weight_decay, c.batch_size) == (
        "sgd",
        0.1,
        0.9,
        False,
        1e-4,
        128,
    )
    assert c.augment == AugmentConfig(crop_padding=4, flip=True, cutout=0, policy=None)


def test_paper_recipe_reproduces_he_et_al_iterations():
    c = get_recipe("paper")
    steps_per_epoch = math.ceil(45_000 / 128)  # the 45k/5k split
    assert steps_per_epoch == 352
    assert c.epochs == 182
    assert c.epochs * steps_per_epoch >= 64_000 > (c.epochs - 1) * steps_per_epoch
    assert milestone_steps(c, steps_per_epoch) == [32_000, 48_000]
    assert (c.lr, c.gamma, c.weight_decay, c.momentum, c.batch_size, c.schedule) == (
        0.1,
        0.1,
        1e-4,
        0.9,
        128,
        "multistep",
    )
    assert epochs_for_iterations(64_000, 45_000, 128) == 182


def test_fast_recipe_is_the_reference_run():
    c = get_recipe("fast")
    assert c.epochs <= 30
    assert c.epochs == 26
    assert (c.batch_size, c.lr, c.weight_decay, c.optimizer, c.nesterov) == (512, 0.2, 5e-4, "sgd", True)
    assert c.schedule == "triangular"
    assert c.augment.cutout > 0
    assert c.label_smoothing > 0
    assert c.amp == "auto"
    assert c.channels_last
    assert c.tta


def test_long_recipe_is_200_epochs_of_cosine():
    c = get_recipe("long")
    assert (c.epochs, c.schedule) == (200, "cosine")


def test_get_recipe_applies_and_validates_overrides():
    c = get_recipe("fast", epochs=10, out_dir="runs/x")
    assert (c.epochs, c.out_dir, c.lr) == (10, "runs/x", 0.2)
    assert get_recipe("fast").epochs == 26  # the stored recipe is unchanged
    with pytest.raises(ValueError, match="unknown recipe 'fats'; did you mean 'fast'"):
        get_recipe("fats")
    with pytest.raises(ValueError, match="unknown TrainConfig field"):
        get_recipe("fast", learning_rate=1)
    with pytest.raises(ValueError, match=r"TrainConfig\.lr"):
        get_recipe("fast", lr=0)


# ---------------------------------------------------------------- schedules


def lr_trace(config: TrainConfig, steps_per_epoch: int) -> list[float]:
    """The lr used at each optimizer step of a whole run."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=config.lr, momentum=0.9)
    scheduler = build_scheduler(optimizer, config, steps_per_epoch)
    lrs = []
    for _ in range(config.epochs * steps_per_epoch):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_constant():
    assert lr_trace(TrainConfig(epochs=2, schedule="constant", lr=0.3), 5) == [0.3] * 10


def test_cosine_without_warmup():
    lrs = lr_trace(TrainConfig(epochs=4, schedule="cosine", lr=0.4), 25)  # T = 100
    assert lrs[0] == pytest.approx(0.4)
    assert lrs[50] == pytest.approx(0.2)
    assert lrs[99] == pytest.approx(0.4 * 0.5 * (1 + math.cos(math.pi * 0.99)))
    assert all(a >= b for a, b in itertools.pairwise(lrs))


def test_cosine_with_warmup_in_epochs_and_a_floor():
    config = TrainConfig(epochs=5, schedule="cosine", lr=1.0, warmup=2, final_lr_factor=0.1)
    lrs = lr_trace(config, 10)  # T = 50, W = 20
    assert warmup_steps(config, 10) == 20
    assert lrs[0] == pytest.approx(1 / 20)
    assert lrs[9] == pytest.approx(10 / 20)
    assert lrs[19] == pytest.approx(1.0)
    assert lrs[20] == pytest.approx(1.0)
    assert lrs[35] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 15 / 30)))
    assert min(lrs[20:]) > 0.1


def test_triangular_peaks_at_the_warmup_fraction_and_falls_linearly():
    lrs = lr_trace(TrainConfig(epochs=10, schedule="triangular", lr=0.2), 10)  # T = 100, W = 20 by default
    assert lrs[0] == pytest.approx(0.2 / 20)
    assert max(lrs) == pytest.approx(0.2)
    assert lrs.index(max(lrs)) == 19
    assert lrs[60] == pytest.approx(0.2 * (1 - 40 / 80))
    assert lrs[99] == pytest.approx(0.2 / 80)


def test_multistep_default_and_explicit_milestones():
    lrs = lr_trace(TrainConfig(epochs=4, schedule="multistep", lr=0.1), 25)  # at steps 50 and 75
    assert (lrs[49], lrs[50], lrs[74], lrs[75], lrs[99]) == pytest.approx((0.1, 0.01, 0.01, 0.001, 0.001))
    lrs = lr_trace(TrainConfig(epochs=4, schedule="multistep", lr=0.1, milestones=(2.5,), gamma=0.5), 10)
    assert (lrs[24], lrs[25]) == pytest.approx((0.1, 0.05))


def test_onecycle_is_pytorchs_with_its_peak_at_warmup():
    lrs = lr_trace(TrainConfig(epochs=10, schedule="onecycle", lr=1.0), 10)  # T = 100, peak at 30%
    assert lrs[0] == pytest.approx(1 / 25)
    assert max(lrs) == pytest.approx(1.0)
    assert lrs.index(max(lrs)) == 29
    assert lrs[-1] == pytest.approx(1 / 25 / 1e4)


@pytest.mark.parametrize("steps", [2, 3, 4])
def test_onecycle_of_a_few_steps_has_no_warmup_rather_than_dividing_by_zero(steps):
    config = TrainConfig(epochs=1, schedule="onecycle", lr=1.0)
    assert warmup_steps(config, steps) == 1  # what OneCycleLR cannot take
    lrs = lr_trace(config, steps)
    assert lrs[0] == pytest.approx(0.5 * (1 + math.cos(math.pi / steps)) * (1 - 1 / 25e4) + 1 / 25e4)
    assert all(a > b for a, b in itertools.pairwise(lrs))


@pytest.mark.parametrize("epochs", [1, 3, 7])
def test_schedules_are_exact_for_any_length(epochs):
    # Stepped per optimizer step: the cosine reaches half of its peak at half of the steps.
    steps_per_epoch = 6
    lrs = lr_trace(TrainConfig(epochs=epochs, schedule="cosine", lr=1.0), steps_per_epoch)
    assert len(lrs) == epochs * steps_per_epoch
    assert lrs[len(lrs) // 2] == pytest.approx(0.5 * (1 + math.cos(math.pi * (len(lrs) // 2) / len(lrs))))


def test_warmup_as_a_fraction():
    assert warmup_steps(TrainConfig(epochs=10, warmup=0.25, schedule="cosine"), 8) == 20


# ---------------------------------------------------------------- parameter groups


def test_norm_and_bias_parameters_get_no_weight_decay():
    model = rz.resnet20_cifar()
    names = {id(p): n for n, p in model.named_parameters()}
    groups = parameter_groups(model, 5e-4, decay_norm_and_bias=False)
    decayed = {names[id(p)] for p in groups[0]["params"]}
    undecayed = {names[id(p)] for p in groups[1]["params"]}
    assert (groups[0]["weight_decay"], groups[1]["weight_decay"]) == (5e-4, 0.0)
    # 19 convolutions and the classifier's weight; option-A shortcuts hold no parameters.
    assert decayed == {n for n, p in model.named_parameters() if p.ndim >= 2}
    assert len(decayed) == 20
    assert "fc.weight" in decayed
    assert "conv1.weight" in decayed
    # 19 BatchNorms (scale and shift) and the classifier's bias.
    assert len(undecayed) == 39
    assert "fc.bias" in undecayed
    assert "layer1.0.bn1.weight" in undecayed
    assert sum(p.numel() for g in groups for p in g["params"]) == 269_722


def test_decay_norm_and_bias_gives_one_group_and_frozen_parameters_are_left_out():
    model = rz.resnet20_cifar()
    model.fc.requires_grad_(False)
    groups = parameter_groups(model, 1e-4, decay_norm_and_bias=True)
    assert len(groups) == 1
    assert groups[0]["weight_decay"] == 1e-4
    assert len(groups[0]["params"]) == 57


def test_optimizers_follow_the_config():
    model = rz.resnet20_cifar()
    sgd = build_optimizer(model, TrainConfig(lr=0.2, momentum=0.8), torch.device("cpu"))
    assert isinstance(sgd, torch.optim.SGD)
    assert sgd.param_groups[0]["nesterov"]
    assert sgd.param_groups[0]["momentum"] == 0.8
    adamw = build_optimizer(
        model, TrainConfig(optimizer="adamw", lr=1e-3, betas=(0.8, 0.99)), torch.device("cpu")
    )
    assert isinstance(adamw, torch.optim.AdamW)
    assert adamw.param_groups[0]["betas"] == (0.8, 0.99)
    assert [g["weight_decay"] for g in adamw.param_groups] == [5e-4, 0.0]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"epochs": 10, "schedule": "multistep", "milestones": (5, 10)},
            r"TrainConfig\.milestones must be epochs before the end of training \(< epochs=10\); a later one "
            r"never takes effect; got \(5\.0, 10\.0\)",
        ),
        ({"out_dir": ""}, r"TrainConfig\.out_dir must be None \(write nothing\) or a folder path; got ''"),
        ({"seed": -1}, r"TrainConfig\.seed must be None or an integer in \[0, 2\*\*63\); got -1"),
        (
            {"seed": 2**64},
            r"TrainConfig\.seed must be None or an integer in \[0, 2\*\*63\); got 18446744073709551616",
        ),
    ],
    ids=["milestone-after-the-end", "empty-out-dir", "negative-seed", "seed-too-large"],
)
def test_settings_that_make_a_run_meaningless_are_refused_at_construction(fields, message):
    with pytest.raises(rz.ArgumentError, match=message):
        TrainConfig(**fields)


def test_a_recipe_shortened_keeps_its_milestones_inside_the_run():
    shortened = get_recipe("paper", epochs=10)
    full = get_recipe("paper")
    assert [m / 10 for m in shortened.milestones] == pytest.approx([m / full.epochs for m in full.milestones])
    assert get_recipe("paper", epochs=10, milestones=(2.0,)).milestones == (2.0,)  # yours are kept


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        (
            {"momentum": 1.0},
            rz.ArgumentError,
            r"^TrainConfig\.momentum must be a number in \[0, 1\); got 1\.0$",
        ),
        ({"betas": (0.9, 1.5)}, rz.ArgumentError, r"^TrainConfig\.betas\[1\] must be a number in \[0, 1\)"),
        ({"lr": float("nan")}, rz.ArgumentError, r"^TrainConfig\.lr must be a finite number > 0; got nan$"),
        (
            {"ema_decay": -0.1},
            rz.ArgumentError,
            r"^TrainConfig\.ema_decay must be None \(no EMA\) or a number",
        ),
        (
            {"keep_checkpoints": 0},
            rz.ArgumentError,
            r"^TrainConfig\.keep_checkpoints must be an integer >= 1",
        ),
        ({"limit_eval_batches": 0}, rz.ArgumentError, r"^TrainConfig\.limit_eval_batches must be None or an"),
        (
            {"label_smoothing": 1},
            rz.ArgumentError,
            r"^TrainConfig\.label_smoothing must be a number in \[0, 1\)",
        ),
    ],
)
def test_config_ranges_are_checked_in_the_one_dialect(fields, error, message):
    with pytest.raises(error, match=message):
        TrainConfig(**fields)


def test_trainer_and_callback_arguments_are_checked_in_the_one_dialect():
    from resnetzoo._validate import check_fraction, check_instance, check_real
    from resnetzoo.train import EarlyStopping, ModelCheckpoint, Trainer

    assert check_real("x", -2) == -2.0
    assert check_fraction("share", 1) == 1.0
    assert check_fraction("share", None, none=True) is None
    with pytest.raises(rz.ArgumentError, match=r"^share must be a number in \(0, 1\); got 1$"):
        check_fraction("share", 1, exclusive_min=True, exclusive_max=True)
    with pytest.raises(
        rz.ArgumentTypeError, match=r"^share must be a number in \[0, 1\]; got '0\.5' of type str"
    ):
        check_fraction("share", "0.5")
    assert check_instance("n", 3, int, what="an int") == 3
    with pytest.raises(
        rz.ArgumentTypeError, match=r"^model must be a torch\.nn\.Module; got 'resnet20' of type str$"
    ):
        Trainer("resnet20")
    with pytest.raises(
        rz.ArgumentTypeError, match=r"^callbacks\[1\] must be a resnetzoo\.Callback; got 3 of type int"
    ):
        Trainer(rz.resnet20_cifar(), TrainConfig(device="cpu"), callbacks=[EarlyStopping(1), 3])
    with pytest.raises(rz.ArgumentError, match=r"^patience must be an integer >= 1; got 0$"):
        EarlyStopping(0)
    with pytest.raises(
        rz.ArgumentTypeError, match=r"^every must be an integer >= 1; got 1\.5 of type float$"
    ):
        ModelCheckpoint("checkpoints", every=1.5)
    with pytest.raises(rz.ArgumentError, match=r"^keep must be an integer >= 1; got 0$"):
        ModelCheckpoint("checkpoints", keep=0)


@pytest.mark.parametrize(
    ("field", "value", "toml", "message"),
    [
        ("epochs", 2.5, "2.5", r"must be an integer; got 2\.5 of type float"),
        ("deterministic", "false", '"false"', r"must be True or False; got 'false' of type str"),
        ("seed", "7", '"7"', r"must be an integer or None; got '7' of type str"),
        (
            "milestones",
            [0.5, "x"],
            '[0.5, "x"]',
            r"must be a tuple of numbers or None; got .0\.5, 'x'. of type (list|tuple)",
        ),
        (
            "betas",
            ["0.9", 0.99],
            '["0.9", 0.99]',
            r"must be a tuple of numbers; got .'0\.9', 0\.99. of type (list|tuple)",
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_alike_through_every_door(
    tmp_path, capsys, field, value, toml, message
):
    # One reading of the field's type hint (_validate.check_hinted) for the constructor, a run's
    # train_config.json (from_dict) and the command line's config file: one message, naming the field.
    from typing import get_type_hints

    from resnetzoo._validate import check_hinted
    from resnetzoo.cli import main

    with pytest.raises(rz.ArgumentTypeError, match=rf"^{field} {message}$"):
        check_hinted(field, value, get_type_hints(TrainConfig)[field])
    with pytest.raises(rz.ArgumentTypeError, match=rf"^TrainConfig\.{field} {message}$"):
        TrainConfig(**{field: value})
    with pytest.raises(rz.ArgumentTypeError, match=rf"^TrainConfig\.{field} {message}$"):
        TrainConfig.from_dict({**TrainConfig().to_dict(), field: value})
    file = tmp_path / "bad.toml"
    file.write_text(f"{field} = {toml}\n")
    assert main(["train", "--config", str(file), "--print-config"]) == 2
    err = capsys.readouterr().err
    assert f"the config file {file}: TrainConfig.{field} " in err
    assert re.search(message, err)
