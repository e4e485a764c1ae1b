"""A study definition: which model, which videos, which objectives, which search space.

Studies are YAML files (built in: ``autocompress/studies/*.yaml``, shipped in the package;
a user's own in ``./studies/``); every key maps onto a field of a frozen dataclass
below, and an unknown or mistyped key is refused with its dotted path, so a typo never silently
falls back to a default.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from autocompress.backends import ARTIFACT_FORMATS
from autocompress.backends.command_latency import DEFAULT_PATTERN, CommandTimer
from autocompress.compression.quantization import QUANTIZATION_BACKENDS
from autocompress.compression.steps import FinetuneStep
from autocompress.errors import UserError
from autocompress.models.registry import ModelSettings
from autocompress.spaces.config import SpaceConfig

__all__ = [
    "MEASURED_OBJECTIVES",
    "DataConfig",
    "LatencyConfig",
    "StudyConfig",
    "builtin_study",
    "builtin_study_names",
    "load_study_config",
    "model_settings",
    "resolve_study_config",
    "study_config_from_dict",
    "with_task_objectives",
]

# Measured on every trial's artifact; the model's task adds its errors (MAE and OBO for RepNet).
MEASURED_OBJECTIVES = ("latency", "size")
# Shipped as package data, so an installed wheel finds them from any directory.
BUILTIN_STUDIES_DIR = Path(__file__).resolve().parents[1] / "studies"
USER_STUDIES_DIR = Path("studies")  # relative: the current directory's


@dataclass(frozen=True)
class DataConfig:
    """Evaluation videos: a QUVA-layout directory, or synthetic ones generated on first use."""

    path: str | None = None  # None: generate ``synthetic_videos`` under the run directory
    synthetic_videos: int | None = 16  # None: this study needs real videos (``path``)
    synthetic_seed: int = 1000  # never used by training (training seeds are < 1000)
    subset: int | None = None  # score only the first N videos (cheap estimate)
    # Counted first; the rest only for a trial that could still reach the front
    # (autocompress.study.screening). None: every trial counts every video.
    screen_videos: int | None = 4
    calibration_clips: int = 8  # clips cut from the videos for static quantization


@dataclass(frozen=True)
class LatencyConfig:
    batch_size: int = 1
    threads: int | None = 1  # mimic a small target device; None: torch's default
    warmup: int = 5
    runs: int = 15
    # A device in the loop (autocompress.backends.command_latency): a command that runs
    # {artifact} and prints its latency; None times the artifact on this machine.
    command: str | None = None
    pattern: str = DEFAULT_PATTERN  # one match per timed run; group 1 the number
    unit: str = "ms"  # of that number: s, ms or us

    def __post_init__(self) -> None:
        self.timer()  # refuse a bad pattern or unit when the study is read

    def timer(self) -> CommandTimer | None:
        if self.command is None:
            return None
        return CommandTimer(self.command, self.pattern, self.unit)


# Share of a study's trials that recover front points when ``recovery.trials`` is not given:
# 16 of 200, none of a 12-trial demo.
AUTO_RECOVERY_SHARE = 0.02


@dataclass(frozen=True)
class RecoveryConfig:
    """The study's last ``trials`` trials distil the most promising points found before them
    (autocompress.study.recovery); the rest are scored raw. ``trials`` None: 2 % of the
    study's trials, rounded down."""

    trials: int | None = None
    steps: int = 150
    data: str = "synthetic"  # or a folder of videos (no annotations needed)
    learning_rate: float = 3e-4

    def __post_init__(self) -> None:
        if self.trials is not None and self.trials < 0:
            raise UserError(f"recovery.trials must be >= 0, got {self.trials}")
        self.step()  # refuse bad steps or data when the study is read

    def count(self, study_trials: int) -> int:
        """How many of a study's ``study_trials`` trials recover."""
        if self.trials is not None:
            return self.trials
        return int(study_trials * AUTO_RECOVERY_SHARE)

    def step(self) -> FinetuneStep:
        try:
            return FinetuneStep(steps=self.steps, data=self.data, learning_rate=self.learning_rate)
        except UserError as error:
            raise UserError(f"recovery: {error}") from error


@dataclass(frozen=True)
class StudyConfig:
    name: str = "default"
    # A shipped model (repnet-s, repnet, digits), or your own as "package.module:factory"
    # (autocompress.models.imported), scored by ``task``.
    preset: str = "repnet-s"
    task: str | None = None  # "package.module:object", a Task or an evaluation function
    weights: str | None = None  # None: the preset's shipped weights
    # None: latency, size and every error the model's task reports (with_task_objectives).
    objectives: tuple[str, ...] | None = None
    budget_ms: float | None = None
    max_mae_increase: float | None = None  # optional accuracy constraint vs the baseline
    sampler: str = "tpe"
    seed: int | None = 0
    trials: int = 200
    # RepNet's counting procedure: "default" (the alias guard and sub-class periods) or
    # "official" (the demo's; autocompress.models.repnet.counting). It changes every MAE and OBO.
    counting: str = "default"
    # How the model ships, and so how latency and size are measured (autocompress.backends).
    artifact: str = "torchscript"
    # Where videos are counted and recovery trains: "cpu" or "cuda[:N]". Latency is measured
    # where the artifact runs (this CPU, or the latency command's device) whatever it is.
    accuracy_device: str = "cpu"
    # int8 backend (autocompress.compression.quantization); None: the one whose graphs the
    # artifact format takes (fx for TorchScript, pt2e for the .pt2 formats).
    quantization: str | None = None
    data: DataConfig = field(default_factory=DataConfig)
    latency: LatencyConfig = field(default_factory=LatencyConfig)
    space: SpaceConfig = field(default_factory=SpaceConfig)
    recovery: RecoveryConfig = field(default_factory=RecoveryConfig)
    # After the baseline, run a few pipelines known to do well (autocompress.study.warm_start).
    warm_start: bool = True

    def __post_init__(self) -> None:
        if self.objectives is not None and len(set(self.objectives)) != len(self.objectives):
            raise UserError(f"objectives: {list(self.objectives)} names one twice")
        if self.objectives == ():
            raise UserError("objectives: empty; give at least one, or leave the key out")
        if self.budget_ms is not None and self.budget_ms <= 0:
            raise UserError(f"budget_ms must be positive, got {self.budget_ms}")
        if self.max_mae_increase is not None and self.max_mae_increase < 0:
            raise UserError(f"max_mae_increase must be >= 0, got {self.max_mae_increase}")
        if self.trials < 1:
            raise UserError(f"trials must be at least 1, got {self.trials}")
        if self.recovery.count(self.trials) >= self.trials:
            raise UserError(
                f"recovery.trials ({self.recovery.trials}) must leave trials to recover from "
                f"(trials: {self.trials})"
            )
        if self.artifact not in ARTIFACT_FORMATS:
            raise UserError(
                f"artifact: {self.artifact!r}; choose from {', '.join(ARTIFACT_FORMATS)}"
            )
        if not re.fullmatch(r"cpu|cuda(:\d+)?", self.accuracy_device):
            raise UserError(f"accuracy_device: {self.accuracy_device!r}; use cpu, cuda or cuda:N")
        if self.quantization is not None and self.quantization not in QUANTIZATION_BACKENDS:
            raise UserError(
                f"quantization: {self.quantization!r}; "
                f"choose from {', '.join(QUANTIZATION_BACKENDS)}"
            )
        if self.artifact != "torchscript" and self.quantization == "fx":
            raise UserError(
                f"quantization: fx makes int8 graphs that torch.export refuses, so no int8 "
                f"trial could ship as {self.artifact}; use quantization: pt2e"
            )

    @property
    def quantize_backend(self) -> str:
        if self.quantization is not None:
            return self.quantization
        return "fx" if self.artifact == "torchscript" else "pt2e"


def _convert(value: object, annotation: object, path: str) -> object:
    """Check ``value`` against a field's type (YAML lists become tuples), naming ``path``."""
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option, path)
            except UserError as error:
                errors.append(str(error))
        raise UserError(errors[0])
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise UserError(f"{path}: expected a list, got {value!r}")
        args = typing.get_args(annotation)
        item_types = [args[0]] * len(value) if args[-1] is Ellipsis else list(args)
        if len(item_types) != len(value):
            raise UserError(f"{path}: expected {len(item_types)} items, got {len(value)}")
        return tuple(
            _convert(v, t, f"{path}[{i}]")
            for i, (v, t) in enumerate(zip(value, item_types, strict=True))
        )
    if dataclasses.is_dataclass(annotation):
        return _build(annotation, value, path)
    if annotation is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, str, bool) and type(value) is annotation:
        return value
    raise UserError(
        f"{path}: expected {getattr(annotation, '__name__', annotation)}, got {value!r}"
    )


def _build(cls: type, values: object, path: str) -> object:
    if not isinstance(values, dict):
        raise UserError(f"{path or 'study'}: expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        where = f"{path}." if path else ""
        raise UserError(f"unknown key {where}{unknown[0]}; allowed: {', '.join(sorted(names))}")
    kwargs = {
        key: _convert(value, hints[key], f"{path}.{key}" if path else key)
        for key, value in values.items()
    }
    return cls(**kwargs)


def load_study_config(path: str | Path) -> StudyConfig:
    """Read a study YAML file, or :class:`UserError` naming the offending key."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"study file not found: {path}")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise UserError(f"study file {path} is not valid YAML: {error}") from error
    return _build(StudyConfig, values, "")


def builtin_study_names() -> list[str]:
    return sorted(path.stem for path in BUILTIN_STUDIES_DIR.glob("*.yaml"))


def builtin_study(name: str) -> Path | None:
    """The study file called ``name``: ``./studies/NAME.yaml`` if there is one, else the
    built-in study of that name."""
    for folder in (USER_STUDIES_DIR, BUILTIN_STUDIES_DIR):
        path = folder / f"{name}.yaml"
        if path.is_file():
            return path
    return None


def study_config_from_dict(values: dict) -> StudyConfig:
    """The inverse of ``dataclasses.asdict`` for a stored study definition."""
    return _build(StudyConfig, values, "")


def resolve_study_config(
    name: str | None,
    file: str | Path | None,
    overrides: dict[str, object],
    stored: dict | None = None,
) -> StudyConfig:
    """The definition a ``search`` run uses, then the command line's ``overrides`` (dotted
    keys like ``data.path``; None means not given).

    The base is ``file`` if given, else the ``stored`` definition of a study that exists
    (so a study resumes with the settings it was created with), else the study file called
    ``name`` (:func:`builtin_study`), else the defaults.
    """
    if file:
        values = dataclasses.asdict(load_study_config(file))
    elif stored is not None:
        values = dataclasses.asdict(study_config_from_dict(stored))
    else:
        path = builtin_study(name or "default")
        values = dataclasses.asdict(load_study_config(path) if path else StudyConfig())
    if name:
        values["name"] = name
    for key, value in overrides.items():
        if value is None:
            continue
        section, _, field_name = key.rpartition(".")
        (values[section] if section else values)[field_name] = value
    return study_config_from_dict(values)


def with_task_objectives(config: StudyConfig, task_objectives: tuple[str, ...]) -> StudyConfig:
    """``config`` with its objectives checked against what the model's task reports, or, when
    the study names none, all of them."""
    if config.max_mae_increase is not None and "mae" not in task_objectives:
        raise UserError(f"max_mae_increase: preset {config.preset!r}'s task reports no MAE")
    available = (*MEASURED_OBJECTIVES, *task_objectives)
    if config.objectives is None:
        return dataclasses.replace(config, objectives=available)
    unknown = [o for o in config.objectives if o not in available]
    if unknown:
        raise UserError(
            f"objectives: {unknown[0]!r} is not measured for preset {config.preset!r}; "
            f"choose from {', '.join(available)}"
        )
    return config


def model_settings(config: StudyConfig, run_dir: Path) -> ModelSettings:
    """What the models layer is told about the study's model (autocompress.models.registry)."""
    return ModelSettings(
        preset=config.preset,
        run_dir=Path(run_dir),
        weights=config.weights,
        task=config.task,
        data_path=config.data.path,
        synthetic_items=config.data.synthetic_videos,
        synthetic_seed=config.data.synthetic_seed,
        subset=config.data.subset,
        counting=config.counting,
        device=config.accuracy_device,
    )
