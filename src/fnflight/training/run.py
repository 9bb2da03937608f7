"""Build and run a training from a composed config: data, net, task, loggers, callbacks, Trainer.

``fnflight train`` (:mod:`fnflight.cli.train`) is a thin wrapper around :func:`train`.

Run directory: ``<out_dir>/<name>`` where ``name`` is the config's ``name`` or, when null, the experiment
name, else the model file name (``runs/deepfnf_small`` for the default run). It is fixed by the config (no
time stamp) so that ``ckpt_path=last`` with the same ``out_dir``/``name``/``experiment`` finds
``checkpoints/last.ckpt``. A fresh run into a directory that already holds checkpoints stops (resume with
``ckpt_path=last``, pick another ``name=...``, or pass ``overwrite=true`` to delete the old run directory
first). Layout::

    <run dir>/config.yaml            the resolved config of the (latest) run
    <run dir>/checkpoints/last.ckpt  refreshed every checkpoint.every_n_train_steps steps and at the end
    <run dir>/checkpoints/best-step*.ckpt  best by val/psnr
    <run dir>/logs/version_N/metrics.csv  every logged scalar (CSV logger, always on; N: +1 per resume)
    <run dir>/wandb/                 the wandb run (logger=wandb or wandb_offline)
    <run dir>/images/*.png           validation pictures (noisy | flash | output | target | filtered | scale)
    <run dir>/metrics.json           validation metrics of the best checkpoint after training
    <run dir>/sample.png             noisy | flash | no-flash only | output | target (first validation crops)
    <run dir>/results.json           PSNR / SSIM per level: the model, the noisy input, the task's comparisons
"""

from __future__ import annotations

import inspect
import json
import os
import re
import secrets
import shutil
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import Callback, ModelCheckpoint, WeightAveraging
from pytorch_lightning.utilities.rank_zero import rank_zero_only
from torch import nn

from fnflight.config import ConfigError, instantiate, require_complete, to_container

__all__ = [
    "PRECISIONS",
    "RunResult",
    "build_callbacks",
    "build_datamodule",
    "build_loggers",
    "build_task",
    "build_trainer",
    "check_config",
    "find_last_checkpoint",
    "run_dir",
    "run_name",
    "train",
    "write_sample",
    "write_validation_records",
]

PRECISIONS = ("32-true", "32", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true", "64")
LAST = "last.ckpt"


def _is_rank_zero() -> bool:
    return getattr(rank_zero_only, "rank", 0) == 0


def _say(*args: Any) -> None:
    if _is_rank_zero():
        print(*args, flush=True)


# ---------------------------------------------------------------------------------------------- run dir
def run_name(cfg: DictConfig) -> str:
    """``name`` if set, else the experiment name, else the model file name."""
    if cfg.get("name"):
        return str(cfg.name)
    choices = cfg.get("choices") or {}
    return str(choices.get("experiment") or choices.get("model") or "run")


def run_dir(cfg: DictConfig) -> Path:
    """``<out_dir>/<run_name>``."""
    return Path(str(cfg.out_dir)).expanduser() / run_name(cfg)


def find_last_checkpoint(directory: str | Path) -> Path | None:
    """``<run dir>/checkpoints/last.ckpt`` if it exists."""
    path = Path(directory) / "checkpoints" / LAST
    return path if path.is_file() else None


def resolve_ckpt_path(cfg: DictConfig, directory: Path) -> str | None:
    value = cfg.get("ckpt_path")
    if value in (None, "", "null", "none"):
        return None
    if str(value) == "last":
        found = find_last_checkpoint(directory)
        if found is None:
            raise ConfigError(
                f"ckpt_path=last: no {directory / 'checkpoints' / LAST} to resume from (is the run name "
                f"right? "
                f"out_dir={cfg.out_dir!s}, name={run_name(cfg)}); start a fresh run without ckpt_path"
            )
        return str(found)
    path = Path(str(value)).expanduser()
    if not path.is_file():
        raise ConfigError(f"ckpt_path={value!s}: no such checkpoint file; valid: null, last, or a .ckpt path")
    return str(path)


# ---------------------------------------------------------------------------------------------- checks
def check_config(cfg: DictConfig) -> None:
    """Check values before anything is built: required keys set, precision / trainer keys valid."""
    require_complete(cfg)
    for section in ("model", "data", "logger"):
        node = cfg.get(section)
        if not isinstance(node, DictConfig) or "class_path" not in (node if section != "model" else node.net):
            raise ConfigError(f"config section {section!r} must name a class_path")
    for key in ("net", "loss", "task"):
        if key not in cfg.model:
            raise ConfigError(
                f"model config lacks {key!r}; a model file holds name, net, loss, task, data_args"
            )
    precision = str(cfg.trainer.get("precision", "32-true"))
    if precision not in PRECISIONS:
        raise ConfigError(f"trainer.precision={precision!r} is not valid; valid: {', '.join(PRECISIONS)}")
    params = inspect.signature(pl.Trainer).parameters
    bad = sorted(set(cfg.trainer) - set(params))
    if bad:
        raise ConfigError(f"trainer keys {bad} are not Trainer arguments; valid: {', '.join(params)}")
    ckpt = cfg.get("ckpt_path")
    if ckpt not in (None, "last") and not str(ckpt).endswith(".ckpt") and not Path(str(ckpt)).is_file():
        raise ConfigError(f"ckpt_path={ckpt!s} is not valid; valid: null, last, or a .ckpt file")


# ---------------------------------------------------------------------------------------------- builders
def build_datamodule(cfg: DictConfig) -> pl.LightningDataModule:
    """``cfg.data`` with the model's ``data_args`` merged into its ``init_args``."""
    spec = to_container(cfg.data)
    extra = to_container(cfg.model.get("data_args")) or {}
    spec["init_args"] = {**(spec.get("init_args") or {}), **extra}
    return instantiate(spec)


def build_task(cfg: DictConfig) -> pl.LightningModule:
    """Net and loss from ``cfg.model``; the task gets the optimiser and picture settings and the model
    config."""
    model = to_container(cfg.model)
    net = instantiate(model["net"])
    loss = instantiate(model["loss"]) if model.get("loss") else None
    optim = to_container(cfg.get("optim")) or {}
    images = to_container(cfg.get("images")) or {}
    extra: dict[str, Any] = dict(optim)
    if "every_n" in images:
        extra["log_images_every_n"] = images["every_n"]
    if "max_rows" in images:
        extra["max_logged_images"] = images["max_rows"]
    task_spec = dict(model["task"])
    extra.update(task_spec.get("init_args") or {})
    task_spec["init_args"] = {}
    task = instantiate(task_spec, net=net, loss=loss, model_config=model, **extra)
    if cfg.get("init_from"):
        _init_net_from(
            task, to_container(cfg.init_from) if isinstance(cfg.init_from, DictConfig) else cfg.init_from
        )
    return task


def _init_net_from(task: pl.LightningModule, spec: Any) -> None:
    """Fine-tuning: copy the net weights of a checkpoint or weights-only file (same architecture).

    ``spec`` is a path (the whole net) or a mapping ``{submodule: path}`` that starts parts of a composed net
    from other runs (e.g. ``{aligner: RUN/checkpoints/best.ckpt}`` for ``model=deepfnf_aligned``).
    """
    from fnflight.model_io.checkpoint import CheckpointError, load_task

    parts = {"": spec} if isinstance(spec, str | Path) else dict(spec)
    for name, path in parts.items():
        where = f"init_from.{name}" if name else "init_from"
        target = task.net
        for attr in name.split(".") if name else []:
            if not isinstance(getattr(target, attr, None), nn.Module):
                raise ConfigError(f"{where}: the net has no submodule {name!r}")
            target = getattr(target, attr)
        try:
            source = load_task(str(path)).net.state_dict()
        except CheckpointError as err:
            raise ConfigError(f"{where}={path}: {err}") from None
        try:
            missing, unexpected = target.load_state_dict(source, strict=False)
        except RuntimeError as err:  # tensor size mismatch: another width or layout
            raise ConfigError(f"{where}={path}: its net does not match this model: {err}") from None
        if missing or unexpected:
            raise ConfigError(
                f"{where}={path}: its net does not match this model (missing {missing[:3]}, unexpected "
                f"{unexpected[:3]}); fine-tune with the model config it was trained with"
            )


def _csv_logger(directory: Path):
    from pytorch_lightning.loggers import CSVLogger

    # One version folder per session (logs/version_0, version_1 after a resume, ...): Lightning's CSV writer
    # deletes an existing metrics.csv in its folder.
    return CSVLogger(save_dir=str(directory), name="logs")


def build_loggers(cfg: DictConfig, directory: Path) -> list[Any]:
    """The configured logger plus a CSV logger (``<run dir>/logs/version_N/metrics.csv``); wandb falls
    back to CSV.

    A wandb logger writes under ``<run dir>/wandb``; its run id is kept in ``<run dir>/wandb_id.txt`` so a
    resumed training continues the same wandb run. If wandb cannot be imported or initialised (no login, no
    network for an online run), a warning is printed and training continues with the CSV logger only.
    """
    spec = to_container(cfg.logger)
    cls_path = str(spec["class_path"])
    loggers: list[Any] = [_csv_logger(directory)]
    if cls_path.endswith("CSVLogger"):
        return loggers
    init_args = dict(spec.get("init_args") or {})
    if cls_path.endswith("WandbLogger"):
        try:
            import wandb

            id_file = directory / "wandb_id.txt"
            if id_file.is_file():
                run_id = id_file.read_text().strip()
            else:
                run_id = secrets.token_hex(4)
                if _is_rank_zero():
                    directory.mkdir(parents=True, exist_ok=True)
                    id_file.write_text(run_id + "\n")
            if init_args.get("offline"):
                os.environ["WANDB_MODE"] = "offline"
            init_args.setdefault("name", run_name(cfg))
            logger = instantiate(
                {"class_path": cls_path, "init_args": init_args},
                save_dir=str(directory),
                id=run_id,
                resume="allow",
                settings=wandb.Settings(init_timeout=60, console="off"),
            )
            if _is_rank_zero():
                run = logger.experiment  # start wandb now, so a failure falls back to CSV before training
                run.config.update(to_container(cfg), allow_val_change=True)
                _no_wandb_import_hooks(run)
        except Exception as err:
            warnings.warn(
                f"wandb logger unavailable ({type(err).__name__}: {err}); continuing with the CSV logger "
                f"only "
                f"(under {directory / 'logs'})",
                stacklevel=2,
            )
            return loggers
        return [logger, *loggers]
    return [instantiate({"class_path": cls_path, "init_args": init_args}, save_dir=str(directory)), *loggers]


def _no_wandb_import_hooks(run: Any) -> None:
    """Stop wandb's telemetry import hooks: they fire when a forked DataLoader worker first imports a tracked
    library (albumentations, cv2, ...) and fail there with ``ForkedError``. Also import albumentations now, in
    the parent, so workers find it loaded. Both are best effort (the hook API is private to wandb)."""
    try:
        type(run)._unregister_telemetry_import_hooks(run.id)
    except Exception:  # pragma: no cover - depends on the wandb version
        pass
    try:
        import albumentations  # noqa: F401
    except Exception:  # pragma: no cover
        pass


class SaveLastAtEnd(Callback):
    """Write ``checkpoints/last.ckpt`` when training ends, whatever the periodic interval."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.fast_dev_run or trainer.sanity_checking:
            return
        trainer.save_checkpoint(str(self.path))


def build_callbacks(
    cfg: DictConfig, directory: Path, task: pl.LightningModule | None = None
) -> list[Callback]:
    """Best by ``checkpoint.monitor`` / ``checkpoint.mode`` (null: the task's ``checkpoint_metric``, e.g.
    ``val/psnr``, max), ``last.ckpt`` every ``checkpoint.every_n_train_steps`` and at the end; with
    ``ema.decay`` first an exponential moving average of the weights (Lightning's ``EMAWeightAveraging``:
    validation and every checkpoint's ``state_dict`` hold the averaged weights)."""
    ck = cfg.checkpoint
    folder = directory / "checkpoints"
    monitor, mode = getattr(task, "checkpoint_metric", ("val/psnr", "max"))
    monitor = str(ck.get("monitor") or monitor)
    mode = str(ck.get("mode") or mode)
    if mode not in ("max", "min"):
        raise ConfigError(f"checkpoint.mode must be max or min, got {mode!r}")
    best = ModelCheckpoint(
        dirpath=str(folder),
        filename="best-step{step:07d}",
        monitor=monitor,
        mode=mode,
        save_top_k=int(ck.save_top_k),
        save_last=False,
        auto_insert_metric_name=False,
    )
    periodic = ModelCheckpoint(
        dirpath=str(folder),
        filename="last",
        monitor=None,
        save_top_k=1,
        every_n_train_steps=max(1, int(ck.every_n_train_steps)),
        save_last=False,
        enable_version_counter=False,
    )
    callbacks: list[Callback] = [best, periodic, SaveLastAtEnd(folder / LAST)]
    ema = cfg.get("ema") or {}
    if ema.get("decay") is not None:
        from pytorch_lightning.callbacks import EMAWeightAveraging

        decay, start = float(ema.decay), int(ema.get("start_step") or 0)
        if not 0.0 < decay < 1.0 or start < 0:
            raise ConfigError(f"ema.decay must be in (0, 1) and ema.start_step >= 0; got {decay}, {start}")
        # before the checkpoint callbacks: they must save (and validation see) the averaged weights
        callbacks.insert(0, EMAWeightAveraging(decay=decay, update_starting_at_step=start))
    return callbacks


def build_trainer(
    cfg: DictConfig, directory: Path, loggers: list[Any], callbacks: list[Callback]
) -> pl.Trainer:
    kwargs = to_container(cfg.trainer)
    if str(kwargs.get("precision")) in ("32", "64"):
        kwargs["precision"] = f"{kwargs['precision']}-true"
    try:
        return pl.Trainer(**kwargs, default_root_dir=str(directory), logger=loggers, callbacks=callbacks)
    except Exception as err:  # MisconfigurationException, ValueError, ...: a bad trainer value
        raise ConfigError(f"bad trainer config: {err}") from None


# ---------------------------------------------------------------------------------------------- after fit
@torch.no_grad()
def write_sample(
    task: pl.LightningModule, datamodule: pl.LightningDataModule, path: Path, rows: int = 4
) -> tuple[Path, float | None]:
    """``input preview | output | target`` (the task's :meth:`sample_panels`) for the first validation images,
    one row per image; returns the path and the output's
    :func:`~fnflight.evaluation.validation_report.detail_ratio` on those crops (``None`` for a task that
    does not predict images)."""
    from fnflight.evaluation.pictures import grid, save_png
    from fnflight.evaluation.validation_report import detail_ratio, validation_batches

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    task = task.to(device).eval()
    batch = next(validation_batches(datamodule, device))
    outputs = task.predict(batch)
    images = getattr(task, "predicts_images", True)
    detail = detail_ratio(*task.metric_images(batch, outputs)) if images else None
    return save_png(path, grid(task.sample_panels(batch, outputs), max_rows=rows)), detail


def write_validation_records(
    task: pl.LightningModule, datamodule: pl.LightningDataModule, path: Path
) -> Path:
    """``results.json``: ``{"records": [{"method", <level>, "psnr", "ssim", "count"}]}`` of the trained
    model, the noisy input and the task's comparisons on the validation data
    (:func:`fnflight.evaluation.validation_report.validation_records`), written after the best checkpoint was
    validated (``task`` holds its weights then)."""
    from fnflight.evaluation.validation_report import validation_records
    from fnflight.model_io.checkpoint import method_name

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    records = validation_records(task.to(device), datamodule, method_name(task))
    path.write_text(json.dumps({"records": records}, indent=2) + "\n")
    return path


@dataclass
class RunResult:
    """Where a training put everything, and its final validation metrics."""

    run_dir: Path
    config_path: Path
    last_ckpt: Path | None = None
    best_ckpt: Path | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    metrics_path: Path | None = None
    sample_path: Path | None = None
    results_path: Path | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    detail: float | None = None
    images_dir: Path | None = None
    csv_path: Path | None = None
    wandb_dir: Path | None = None
    global_step: int = 0
    testset_task: str = "fnf"
    trainer: Any = None
    task: Any = None

    def summary(self) -> str:
        rel = rel_or_name

        def by_dim(key: str) -> tuple[str, float]:  # keys from metrics.dim_label, in the table order
            match = re.fullmatch(r"(.*)_(?:dim|ratio)([0-9.]+)", key)
            return (match.group(1), -float(match.group(2))) if match else (key, float("-inf"))

        lines = [
            "",
            f"fnflight train: done, {self.global_step} steps. Run directory: {self.run_dir}",
            f"  config       {rel(self.config_path)}",
            f"  last ckpt    {rel(self.last_ckpt)}   (resume: add ckpt_path=last to the same command)",
            f"  best ckpt    {rel(self.best_ckpt)}",
            f"  metrics csv  {rel(self.csv_path)}",
        ]
        if self.wandb_dir is not None:
            lines.append(f"  wandb        {rel(self.wandb_dir)}")
        lines += [
            f"  images       {rel(self.images_dir)}",
            f"  sample       {rel(self.sample_path)}",
            f"  metrics      {rel(self.metrics_path)}",
        ]
        if self.metrics:
            prefixes = tuple(getattr(self.task, "summary_metrics", ("val/psnr", "val/ssim")))
            keys = [k for k in self.metrics if k.startswith(prefixes)]
            shown = ", ".join(f"{k}={self.metrics[k]:.4g}" for k in sorted(keys, key=by_dim))
            lines.append("  validation   " + shown)
            if "val/input_psnr" in self.metrics:  # the same validation images before the model
                psnr, ssim = self.metrics["val/input_psnr"], self.metrics.get("val/input_ssim", float("nan"))
                lines.append(
                    f"  vs input     val/psnr {self.metrics.get('val/psnr', float('nan')):.2f} dB against "
                    f"{psnr:.2f} dB for the degraded input itself (SSIM {ssim:.3f})"
                )
        lines += self._comparison_lines()
        if self.detail is not None:
            lines.append(
                f"  detail       the output holds {self.detail:.2f} x the target's mean gradient on the "
                "sample crops (1 = as sharp as the target; a blur is well below 1)"
            )
        lines.append(
            f"  evaluate     fnflight eval ckpt={rel(self.best_ckpt or self.last_ckpt)} testset=DIR "
            f"(make one: fnflight testset task={self.testset_task} out=DIR)"
        )
        return "\n".join(lines)

    def _comparison_lines(self) -> list[str]:
        """PSNR per level of the model, the noisy input and the task's comparisons (``results.json``)."""
        if not self.records:
            return []
        key = next(
            (k for k in self.records[0] if k not in ("method", "psnr", "ssim", "lpips", "count")), None
        )
        methods = list(dict.fromkeys(r["method"] for r in self.records))
        levels = sorted({r[key] for r in self.records}, reverse=True) if key else [None]
        head = " / ".join(f"{key} {lv:g}" for lv in levels) if key else "all"
        lines = [f"  per level    val PSNR dB, {head}   ({rel_or_name(self.results_path)})"]
        for method in methods:
            by_level = {r.get(key): r["psnr"] for r in self.records if r["method"] == method}
            values = " / ".join(f"{by_level[lv]:.2f}" if lv in by_level else "-" for lv in levels)
            lines.append(f"    {method:<20} {values}")
        return lines


def rel_or_name(path: Path | None) -> str:
    """``path`` relative to the working directory when it lies below it, else as it is."""
    if path is None:
        return "(none)"
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _prepare_run_dir(cfg: DictConfig, directory: Path) -> None:
    if not _is_rank_zero():
        return
    has_ckpts = any((directory / "checkpoints").glob("*.ckpt"))
    if cfg.get("ckpt_path") is None and has_ckpts:
        if bool(cfg.get("overwrite", False)):
            shutil.rmtree(directory)
        else:
            raise ConfigError(
                f"run directory {directory} already holds checkpoints; resume with ckpt_path=last, choose "
                "another name=..., or start over with overwrite=true (deletes that directory)"
            )
    directory.mkdir(parents=True, exist_ok=True)


def train(cfg: DictConfig) -> RunResult:
    """Fit the configured model, validate the best checkpoint, write a sample picture; returns the paths."""
    check_config(cfg)
    directory = run_dir(cfg)
    if cfg.trainer.get("fast_dev_run") and any((directory / "checkpoints").glob("*.ckpt")):
        # a smoke test next to a real run: it must not replace that run's config and sample
        directory = directory.with_name(directory.name + "-fast_dev_run")
        _say(f"fnflight train: {run_dir(cfg)} holds a run; this fast_dev_run goes to {directory}")
    _prepare_run_dir(cfg, directory)
    ckpt_path = resolve_ckpt_path(cfg, directory)
    config_path = directory / "config.yaml"
    if _is_rank_zero():
        OmegaConf.save(cfg, config_path, resolve=True)

    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    datamodule = build_datamodule(cfg)
    task = build_task(cfg)
    loggers = build_loggers(cfg, directory)
    callbacks = build_callbacks(cfg, directory, task)
    warnings.filterwarnings("ignore", message=".*Experiment logs directory.*exists and is not empty.*")
    warnings.filterwarnings("ignore", message=".*Checkpoint directory.*exists and is not empty.*")
    # emitted by Lightning's own pytree helper under torch 2.13 (not our code, nothing to act on)
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated.*")
    trainer = build_trainer(cfg, directory, loggers, callbacks)
    if ckpt_path:
        _say(f"fnflight train: resuming from {ckpt_path}")
    _say(f"fnflight train: run directory {directory}")
    trainer.fit(task, datamodule=datamodule, ckpt_path=ckpt_path)

    result = RunResult(run_dir=directory, config_path=config_path, trainer=trainer, task=task)
    result.testset_task = task.spec.name if hasattr(task, "spec") else "fnf"
    result.global_step = int(trainer.global_step)
    best_cb = next(cb for cb in callbacks if isinstance(cb, ModelCheckpoint))
    if best_cb.best_model_path:
        result.best_ckpt = Path(best_cb.best_model_path)
    result.last_ckpt = find_last_checkpoint(directory)
    fast = bool(trainer.fast_dev_run)

    # The averaged weights ARE the model once training ends (every checkpoint's state_dict holds them):
    # without this, the weight-averaging callback would restore a checkpoint's raw weights and swap in its
    # own last average around the after-fit validation, so the summary would score neither the best
    # checkpoint nor what it saved.
    trainer.callbacks = [cb for cb in trainer.callbacks if not isinstance(cb, WeightAveraging)]
    warnings.filterwarnings("ignore", message=".*callbacks used to create the checkpoint need to be.*")
    if bool(cfg.after_fit.evaluate) and not fast and trainer.limit_val_batches != 0:
        out = trainer.validate(
            task,
            datamodule=datamodule,
            ckpt_path=str(result.best_ckpt) if result.best_ckpt else None,
            verbose=False,
        )
        result.metrics = {k: float(v) for k, v in (out[0] if out else {}).items()}
        if _is_rank_zero():
            result.metrics_path = directory / "metrics.json"
            payload = {
                "checkpoint": str(result.best_ckpt or result.last_ckpt),
                "global_step": result.global_step,
                "metrics": result.metrics,
            }
            result.metrics_path.write_text(json.dumps(payload, indent=2) + "\n")
    if trainer.is_global_zero:
        scored = bool(getattr(task, "predicts_images", True))
        if bool(cfg.after_fit.evaluate) and scored and not fast and trainer.limit_val_batches != 0:
            result.results_path = write_validation_records(task, datamodule, directory / "results.json")
            result.records = json.loads(result.results_path.read_text())["records"]
        if bool(cfg.after_fit.sample):
            result.sample_path, result.detail = write_sample(task, datamodule, directory / "sample.png")
        images = directory / "images"
        result.images_dir = images if images.is_dir() else None
        csv_logger = next((lg for lg in trainer.loggers if type(lg).__name__ == "CSVLogger"), None)
        csv = Path(csv_logger.log_dir) / "metrics.csv" if csv_logger is not None else None
        result.csv_path = csv if csv is not None and csv.is_file() else None
        wandb_dir = directory / "wandb"
        result.wandb_dir = wandb_dir if wandb_dir.is_dir() else None
    for logger in trainer.loggers:
        if type(logger).__name__ == "WandbLogger" and _is_rank_zero():
            try:
                import wandb

                wandb.finish(quiet=True)
            except Exception:  # pragma: no cover - finishing is best effort
                pass
    sys.stdout.flush()
    return result
