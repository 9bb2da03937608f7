"""fnflight.config: composition, strict keys, bad values, required values, experiments, search path."""

from __future__ import annotations

import pytest

from fnflight.config import ConfigError, available, compose, instantiate, missing_keys
from fnflight.training.run import check_config


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError) as err:
        compose("train", ["trainer.max_step=3"])
    msg = str(err.value)
    assert "trainer.max_step" in msg and "trainer.max_steps" in msg and "trainer.precision" in msg


def test_unknown_top_level_key_lists_valid_keys():
    with pytest.raises(ConfigError) as err:
        compose("train", ["sed=1"])
    assert "seed" in str(err.value) and "out_dir" in str(err.value)


def test_unknown_group_file_lists_valid_names():
    with pytest.raises(ConfigError) as err:
        compose("train", ["model=deepfnf_huge"])
    msg = str(err.value)
    assert "deepfnf_huge" in msg
    for name in ("deepfnf", "deepfnf_small", "nfonly", "bpn", "kpn", "direct"):
        assert name in msg


def test_unknown_experiment_lists_valid_names():
    with pytest.raises(ConfigError) as err:
        compose("train", ["experiment=nope"])
    assert "deepfnf_paper" in str(err.value)


def test_bad_value_type_is_rejected():
    with pytest.raises(ConfigError, match="expected a number"):
        compose("train", ["trainer.max_steps=abc"])
    with pytest.raises(ConfigError, match="true or false"):
        compose("train", ["overwrite=maybe"])


def test_bad_precision_lists_valid_values():
    cfg = compose("train", ["trainer.precision=bf32"])
    with pytest.raises(ConfigError) as err:
        check_config(cfg)
    assert "bf16-mixed" in str(err.value) and "16-mixed" in str(err.value)


def test_required_path_is_reported():
    cfg = compose("train", ["data=fnf_folder"])
    with pytest.raises(ConfigError, match="data.init_args.source.init_args.path"):
        check_config(cfg)


def test_instantiate_rejects_unknown_arguments():
    with pytest.raises(ConfigError) as err:
        instantiate({"class_path": "fnflight.tasks.losses.DeepFnFLoss", "init_args": {"eta": 1.0}})
    assert "grad_weight" in str(err.value)


def test_paper_experiment_settings():
    cfg = compose("train", ["experiment=deepfnf_paper"])
    net = cfg.model.net.init_args
    assert (net.width, net.num_basis, net.kernel_size, net.dilation) == (1.0, 90, 15, 4)
    assert cfg.data.init_args.crop == 448 and cfg.data.init_args.batch_size == 1
    assert cfg.trainer.strategy == "ddp" and cfg.trainer.precision == "bf16-mixed"
    assert cfg.trainer.max_steps == 1_500_000
    assert cfg.optim.lr == pytest.approx(1e-4) and cfg.optim.min_lr == pytest.approx(1e-5)
    assert cfg.optim.lr * cfg.optim.lr_drop_factor**2 == pytest.approx(1e-5)


@pytest.mark.parametrize("name", available("experiment"))
def test_every_experiment_composes(name):
    # the data path each experiment requires (??? in its data file: a folder's path, SID's root, ...)
    required = missing_keys(compose("train", [f"experiment={name}"]))
    source = compose("train", [f"experiment={name}"]).data.init_args.get("source") or {}
    embedded = str(source.get("class_path", "")).endswith("EmbeddedPhotos")  # first_run: no path to give
    assert required or embedded, f"experiment {name} should require its data location"
    cfg = compose("train", [f"experiment={name}", *(f"{key}=/data" for key in required)])
    check_config(cfg)
    assert cfg.choices.experiment == name


def test_user_config_path(tmp_path, monkeypatch):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "mine.yaml").write_text(
        "name: mine\nnet:\n  class_path: fnflight.nets.fnf_baselines.DirectPrediction\n  init_args:\n"
        "    width: 0.0625\nloss:\n  class_path: fnflight.tasks.losses.DeepFnFLoss\n  init_args: {}\n"
        "task:\n  class_path: fnflight.tasks.fnf.FlashNoFlashTask\n  init_args: {}\ndata_args: {}\n"
    )
    monkeypatch.setenv("FNFLIGHT_CONFIG_PATH", str(tmp_path))
    assert "mine" in available("model")
    assert compose("train", ["model=mine"]).model.name == "mine"


def test_constructor_arguments_no_yaml_lists_are_settable():
    # alpha_range is a FlashNoFlashDataModule argument that no data file lists
    cfg = compose("train", ["model=deepfnf_small", "data.init_args.alpha_range=[0.02,0.04]"])
    assert list(cfg.data.init_args.alpha_range) == [0.02, 0.04]
    cfg = compose(
        "train", ["model.net.init_args.scale_map_init=0.5", "data.init_args.source.init_args.cache_mb=8"]
    )
    assert cfg.model.net.init_args.scale_map_init == 0.5 and cfg.data.init_args.source.init_args.cache_mb == 8
    # a misspelt argument lists the constructor's arguments; a bad type says what was expected
    with pytest.raises(ConfigError, match="FlashNoFlashDataModule takes .*alpha_range.*, source, "):
        compose("train", ["data.init_args.alpha_rnge=[0.02,0.04]"])
    with pytest.raises(ConfigError, match="expected a number"):
        compose("train", ["data.init_args.extra_noflash=yes"])
    with pytest.raises(ConfigError, match="DeepFnF takes num_basis"):
        compose("train", ["model.net.init_args.widht=2"])


@pytest.mark.parametrize(
    ("model", "data"),
    [("kpn_burst", "burst_embedded"), ("sid_small", "raw_synthetic"), ("lsd2_small", "shortlong_embedded")],
)
def test_a_model_brings_its_default_data(model, data):
    cfg = compose("train", [f"model={model}"])
    assert cfg.choices.data == data
    check_config(cfg)
    assert compose("train", [f"model={model}", "data=fnf_embedded"]).choices.data == "fnf_embedded"


@pytest.mark.parametrize(
    ("model", "lr", "drop"),
    [("deepfnf_small", 1e-4, 10**-0.5), ("sid_small", 1e-4, 0.1), ("lsd2_small", 5e-5, 0.5)],
)
def test_the_optimiser_defaults_are_each_papers(model, lr, drop):
    # optim.lr / lr_drop_factor null: each task's paper default, saved as the value used
    from fnflight.training.run import build_task

    task = build_task(compose("train", [f"model={model}"]))
    assert task.hparams.lr == pytest.approx(lr) and task.hparams.lr_drop_factor == pytest.approx(drop)
    assert build_task(compose("train", [f"model={model}", "optim.lr=3e-4"])).hparams.lr == pytest.approx(3e-4)
