"""A study definition: which model, which videos, which objectives, which search space.

Each key of a study file (autocompress.study.study_files) is a field of a frozen dataclass
below; checking a definition against what the model's task reports is here too.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import InitVar, dataclass, field
from pathlib import Path

from autocompress.backends import ARTIFACT_FORMATS
from autocompress.backends.command_latency import DEFAULT_PATTERN, CommandTimer
from autocompress.compression.finetune.step import FinetuneStep
from autocompress.compression.quantization import QUANTIZATION_BACKENDS
from autocompress.errors import UserError
from autocompress.inputs import input_spec
from autocompress.models.adapter import StudyDefaults
from autocompress.models.registry import ModelSettings
from autocompress.spaces.config import SpaceConfig

__all__ = [
    "MEASURED_OBJECTIVES",
    "Cap",
    "DataConfig",
    "LatencyConfig",
    "RecoveryConfig",
    "StudyConfig",
    "allowed_increase",
    "cap_text",
    "current_definition",
    "model_settings",
    "with_task_objectives",
]

# Measured on every trial's artifact; the model's task adds its errors (each a name it reports).
MEASURED_OBJECTIVES = ("latency", "size")
# Keys of studies defined before error limits were per objective: each set one objective's limit
# (``max_mae_increase: X`` is ``max_error_increase: {mae: X}``). Read from study files, the
# command line's flag and stored definitions alike.
LEGACY_ERROR_LIMITS = {"max_mae_increase": "mae"}

# An error cap (``max_error_increase``) is a number, the largest rise over the uncompressed
# model's error, or a share of that error, "10%": a task whose scale nobody stated (an error of
# 0.001, say) gets a cap of its own scale.
Cap = float | str


def cap_share(cap: Cap) -> float | None:
    """The share of the uncompressed model's error a cap such as "10%" allows; None for a
    number; a ``UserError`` for any other text."""
    if not isinstance(cap, str):
        return None
    number = cap.strip().removesuffix("%")
    try:
        share = float(number) / 100
    except ValueError:
        share = -1.0
    if not cap.strip().endswith("%") or share < 0:
        raise UserError(f"an error cap is a number >= 0 or a share such as '10%', got {cap!r}")
    return share


def allowed_increase(cap: Cap, baseline: float) -> float:
    """How far above the uncompressed model's error ``baseline`` the cap lets an error rise."""
    share = cap_share(cap)
    return float(cap) if share is None else share * abs(baseline)


def cap_text(cap: Cap) -> str:
    """A cap as the first line and the export show it: "+0.05", or "+10%" of the baseline."""
    return f"+{cap.strip()}" if cap_share(cap) is not None else f"+{cap:g}"


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
    # The test set: it counts front points after the search (autocompress.study.test_set) and
    # is never seen by the search or recovery, so what a study reports is not what it chose
    # its points on. Synthetic: ``test_videos`` from ``test_seed`` in another look
    # (autocompress.models.repnet.adapter.TEST_STYLE); None: no test set.
    test_videos: int | None = 192
    test_seed: int = 2000  # neither a training seed (< 1000) nor synthetic_seed
    # A folder (``path``), or the digits' images: this share of the items, by a stable hash
    # of each one's name (autocompress.data.split), is the test set; None: no test set.
    test_share: float | None = 0.5

    def __post_init__(self) -> None:
        if self.test_videos is not None and self.test_videos < 1:
            raise UserError(
                f"data.test_videos must be >= 1 (or null: none), got {self.test_videos}"
            )
        if self.test_seed < 1000 or self.test_seed == self.synthetic_seed:
            raise UserError(
                f"data.test_seed {self.test_seed} would repeat videos the model trained on "
                f"(seeds < 1000) or the selection set's (synthetic_seed {self.synthetic_seed})"
            )
        if self.test_share is not None and not 0 < self.test_share < 1:
            raise UserError(
                f"data.test_share must be between 0 and 1 (or null: none), got {self.test_share}"
            )


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


@dataclass(frozen=True)
class RecoveryConfig:
    """Every trial is scored as it would ship, recovered (autocompress.study.ladder): one whose
    pipeline changed weights has its batch norms re-estimated on ``bn_batches`` batches
    (rung 0, seconds), then climbs rungs of ``rungs`` distillation steps while it could still
    reach the front, within ``share`` of the study's wall time. ``bn_batches: 0`` and
    ``rungs: []`` score every trial raw."""

    rungs: tuple[int, ...] = (30, 150, 300)
    share: float = 0.3  # of the study's trial time that rungs above 0 may take
    bn_batches: int = 4
    data: str = "synthetic"  # or a folder of videos (no annotations needed)
    learning_rate: float = 3e-4
    # Keys of studies made before the ladder, when the last ``trials`` trials recovered the
    # fastest front points for ``steps`` steps: ``trials: 0`` turns the ladder off, ``steps``
    # is its one rung; a stored study resumes with them.
    trials: InitVar[int | None] = None
    steps: InitVar[int | None] = None

    def __post_init__(self, trials: int | None, steps: int | None) -> None:
        if steps is not None:
            object.__setattr__(self, "rungs", (steps,))
        if trials == 0:
            object.__setattr__(self, "rungs", ())
            object.__setattr__(self, "bn_batches", 0)
        if list(self.rungs) != sorted(set(self.rungs)) or any(s < 1 for s in self.rungs):
            raise UserError(f"recovery.rungs must rise from 1 step, got {list(self.rungs)}")
        if not 0 <= self.share <= 1:
            raise UserError(f"recovery.share must be within 0 and 1, got {self.share}")
        if self.bn_batches < 0:
            raise UserError(f"recovery.bn_batches must be >= 0, got {self.bn_batches}")
        self.step(0)  # refuse bad data or a bad learning rate when the study is read

    def step(self, steps: int) -> FinetuneStep:
        """The finetune step of a rung of ``steps`` distillation steps (0: batch norms only)."""
        try:
            return FinetuneStep(
                steps=steps,
                data=self.data,
                learning_rate=self.learning_rate,
                bn_batches=self.bn_batches,
            )
        except UserError as error:
            raise UserError(f"recovery: {error}") from error

    @property
    def enabled(self) -> bool:
        return self.bn_batches > 0 or bool(self.rungs)


@dataclass(frozen=True)
class StudyConfig:
    name: str = "default"
    # A shipped model (repnet-s, repnet, digits), or your own as "package.module:factory"
    # (autocompress.models.imported), scored by ``task``.
    preset: str = "repnet-s"
    task: str | None = None  # "package.module:object", a Task or an evaluation function
    # The same, scoring held-out items that count the front after the search (None: no test
    # set); only for a model imported by path (shipped models bring their own: data.test_*).
    test_task: str | None = None
    # A model imported by path that is a plain nn.Module: its example inputs, random of these
    # shapes and types ("1,3,224,224"; several inputs "1,16;1,16" with "int64;int64"; default
    # float), the same on every resume (autocompress.inputs.described_inputs).
    input_shape: str | None = None
    input_type: str | None = None
    weights: str | None = None  # None: the preset's shipped weights
    # None: latency, size and every error the model's task reports (with_task_objectives).
    objectives: tuple[str, ...] | None = None
    budget_ms: float | None = None
    # Accuracy caps: a trial is feasible only when each named task error is at most this much
    # above the baseline's, a number ({"top1_error": 0.01}) or a share of it ({"error": "10%"});
    # {} none. None: the model family's default caps (RepNet's: MAE +0.05, OBO +0.1; any other
    # task's: each error +10 %), so a study's fastest point still counts.
    max_error_increase: dict[str, Cap] | None = None
    # Caps a point must keep on the test set, paired item by item with the uncompressed model
    # and counted after the search, before ``export --trial fastest`` ships it as within them
    # (autocompress.study.confirm); {} none. None: the model family's (RepNet's: MAE +0.03,
    # OBO +0.05; any other task's: its search caps).
    max_test_increase: dict[str, Cap] | None = None
    sampler: str = "tpe"
    seed: int | None = 0
    trials: int = 200
    # RepNet's counting procedure: "default" (the alias guard and sub-class periods) or
    # "official" (the demo's; autocompress.models.repnet.counting). It changes every error.
    counting: str = "default"
    # How the model ships, and so how latency and size are measured (autocompress.backends).
    artifact: str = "torchscript"
    # Where videos are counted and recovery trains: "cpu" or "cuda[:N]". Latency is measured
    # where the artifact runs (this CPU, or the latency command's device) whatever it is.
    accuracy_device: str = "cpu"
    # int8 backend (autocompress.compression.quantization); None: the first that can quantize
    # the model (quantize_backends), tried when the study starts.
    quantization: str | None = None
    data: DataConfig = field(default_factory=DataConfig)
    latency: LatencyConfig = field(default_factory=LatencyConfig)
    space: SpaceConfig = field(default_factory=SpaceConfig)
    recovery: RecoveryConfig = field(default_factory=RecoveryConfig)
    # After the baseline, run a few pipelines known to do well (autocompress.study.warm_start).
    warm_start: bool = True
    # A trial whose compression (every step of its pipeline) takes longer fails with that
    # reason; None: no limit. Checked between steps and after the last (a step runs to its end).
    # An hour: a recovery trial of the full RepNet distils for about 36 minutes on one CPU
    # thread (150 steps of 14.5 s), and must not fail for it.
    compression_limit_s: float | None = 3600.0
    # The legacy key (LEGACY_ERROR_LIMITS): merged into max_error_increase, never stored.
    max_mae_increase: InitVar[float | None] = None

    def __post_init__(self, max_mae_increase: float | None) -> None:
        object.__setattr__(
            self,
            "max_error_increase",
            _with_legacy_limits(self.max_error_increase, {"max_mae_increase": max_mae_increase}),
        )
        if self.input_shape is not None:
            input_spec(self.input_shape, self.input_type)  # refuse a bad one when read
        if self.objectives is not None and len(set(self.objectives)) != len(self.objectives):
            raise UserError(f"objectives: {list(self.objectives)} names one twice")
        if self.objectives == ():
            raise UserError("objectives: empty; give at least one, or leave the key out")
        if self.budget_ms is not None and self.budget_ms <= 0:
            raise UserError(f"budget_ms must be positive, got {self.budget_ms}")
        if self.compression_limit_s is not None and self.compression_limit_s <= 0:
            raise UserError(
                f"compression_limit_s must be positive (or null: no limit), "
                f"got {self.compression_limit_s}"
            )
        _check_caps("max_error_increase", self.max_error_increase)
        _check_caps("max_test_increase", self.max_test_increase)
        if self.trials < 1:
            raise UserError(f"trials must be at least 1, got {self.trials}")
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
        if (
            self.artifact != "torchscript"
            and self.quantization is not None
            and not QUANTIZATION_BACKENDS[self.quantization].exports
        ):
            raise UserError(
                f"quantization: {self.quantization} makes int8 graphs that torch.export "
                f"refuses, so no int8 trial could ship as {self.artifact}; use quantization: pt2e"
            )

    @property
    def quantize_backends(self) -> tuple[str, ...]:
        """The int8 backends a study tries on its model, in order: the one it names, else
        those whose graphs the artifact format takes: for TorchScript fx (int8 kernels that
        run as is), pt2e (for models FX cannot trace), dynamic (no trace at all)."""
        if self.quantization is not None:
            return (self.quantization,)
        if self.artifact == "torchscript":
            return ("fx", "pt2e", "dynamic")
        return ("pt2e",)  # a model that does not export cannot ship as .pt2 at all

    @property
    def quantize_backend(self) -> str:
        """The backend a study prefers (the one it uses where the model allows)."""
        return self.quantize_backends[0]


def _with_legacy_limits(limits: object, legacy: dict[str, object]) -> object:
    """``limits`` with the limit each legacy key in ``legacy`` sets (None: not set)."""
    given = {LEGACY_ERROR_LIMITS[key]: v for key, v in legacy.items() if v is not None}
    if not given or not isinstance(limits, dict | None):
        return limits
    return {**(limits or {}), **given}


def current_definition(stored: dict) -> dict:
    """A stored study definition in today's keys: a legacy limit key (LEGACY_ERROR_LIMITS) of
    a study created before limits were per objective becomes its ``max_error_increase``."""
    legacy = {k: v for k, v in stored.items() if k in LEGACY_ERROR_LIMITS}
    if not legacy:
        return stored
    definition = {k: v for k, v in stored.items() if k not in LEGACY_ERROR_LIMITS}
    limits = definition.get("max_error_increase") or {}
    definition["max_error_increase"] = _with_legacy_limits(limits, legacy)
    return definition


def _check_caps(key: str, caps: Mapping[str, Cap] | None) -> None:
    for name, limit in (caps or {}).items():
        try:
            share = cap_share(limit)
        except UserError as error:
            raise UserError(f"{key}.{name}: {error}") from None
        if share is None and not (isinstance(limit, int | float) and limit >= 0):
            raise UserError(f"{key}.{name} must be >= 0, got {limit}")


def with_task_objectives(
    config: StudyConfig, task_objectives: tuple[str, ...], defaults: StudyDefaults | None = None
) -> StudyConfig:
    """``config`` with its objectives and caps checked against what the model's task reports;
    what it leaves out, the model family's ``defaults`` (autocompress.models.adapter): the
    errors it selects on, its caps during the search and on the test set."""
    defaults = defaults or StudyDefaults(task_objectives, {}, {})
    for key, fallback in (
        ("max_error_increase", defaults.caps),
        ("max_test_increase", defaults.test_caps),
    ):
        if getattr(config, key) is None:
            caps = {k: v for k, v in fallback.items() if k in task_objectives}
            config = dataclasses.replace(config, **{key: caps})
        for name in getattr(config, key):
            if name not in task_objectives:
                raise UserError(
                    f"{key}: preset {config.preset!r}'s task reports no "
                    f"{name.upper()} (its errors: {', '.join(task_objectives) or 'none'})"
                )
    available = (*MEASURED_OBJECTIVES, *task_objectives)
    if config.objectives is None:
        chosen = [name for name in defaults.objectives if name in task_objectives]
        return dataclasses.replace(config, objectives=(*MEASURED_OBJECTIVES, *chosen))
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
        test_task=config.test_task,
        input_shape=config.input_shape,
        input_type=config.input_type,
        data_path=config.data.path,
        synthetic_items=config.data.synthetic_videos,
        synthetic_seed=config.data.synthetic_seed,
        test_items=config.data.test_videos,
        test_seed=config.data.test_seed,
        test_share=config.data.test_share,
        subset=config.data.subset,
        counting=config.counting,
        device=config.accuracy_device,
    )
