"""Loading RepNet weights: our own checkpoints and the public PyTorch port's converted state dict.

The port (materight/RepNet-pytorch, ``pytorch_weights.pth``) names the encoder exactly as we do
(timm ResNetV2 names) but wraps the temporal conv, the TSM conv and the heads in
``nn.Sequential``; :func:`from_port_keys` renames those. Anything that still does not match is
refused with the list of missing and unexpected keys, never loaded partially.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch

from autocompress.errors import UserError
from autocompress.models.repnet.network import PRESETS, RepNet, RepNetConfig

__all__ = [
    "from_port_keys",
    "load_checkpoint",
    "load_model",
    "load_state_dict",
    "save_checkpoint",
    "shipped_weights",
]

_PORT_RENAMES: tuple[tuple[str, str], ...] = (
    (r"^temporal_conv\.0\.", "temporal_conv.conv."),
    (r"^temporal_conv\.1\.", "temporal_conv.bn."),
    (r"^tsm_conv\.0\.", "tsm_conv.conv."),
    (r"^(period_length_head|periodicity_head)\.0\.", r"\1."),
    (r"^(period_length_head|periodicity_head)\.1\.", r"\1.fc1."),
    (r"^(period_length_head|periodicity_head)\.3\.", r"\1.fc2."),
    (r"^(period_length_head|periodicity_head)\.5\.", r"\1.out."),
)

# BatchNorm step counters: absent from checkpoints converted from TensorFlow, unused at inference.
_OPTIONAL_SUFFIX = ".num_batches_tracked"


def from_port_keys(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the public port's keys to ours; keys already in our layout pass unchanged."""
    renamed = {}
    for key, value in state_dict.items():
        for pattern, replacement in _PORT_RENAMES:
            key = re.sub(pattern, replacement, key)
        renamed[key] = value
    return renamed


def load_state_dict(model: RepNet, state_dict: Mapping[str, torch.Tensor], source: str) -> None:
    """Load all of ``state_dict`` into ``model`` or raise :class:`UserError` saying what differs."""
    state_dict = from_port_keys(state_dict)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict and not k.endswith(_OPTIONAL_SUFFIX)]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [
        f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    problems = []
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape", mismatched)):
        if keys:
            shown = ", ".join(keys[:6]) + (f" (+{len(keys) - 6} more)" if len(keys) > 6 else "")
            problems.append(f"{label}: {shown}")
    if problems:
        raise UserError(f"weights {source} do not fit this model: " + "; ".join(problems))
    filled = {k: state_dict.get(k, v) for k, v in expected.items()}
    model.load_state_dict(filled)


def _read(path: Path) -> object:
    if not path.is_file():
        raise UserError(f"weights file not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a corrupt or foreign file
        raise UserError(f"cannot read weights {path}: {error}") from error


def load_checkpoint(path: str | Path, config: RepNetConfig | None = None) -> RepNet:
    """A RepNet with weights from ``path``.

    Our checkpoints carry their config; a bare state dict (the port's) needs ``config``, by
    default the full model's.
    """
    path = Path(path)
    payload = _read(path)
    if isinstance(payload, Mapping) and "state_dict" in payload and "config" in payload:
        stored = dict(payload["config"])
        stored["stage_widths"] = tuple(stored["stage_widths"])
        stored["stage_depths"] = tuple(stored["stage_depths"])
        config = RepNetConfig(**stored)
        state_dict = payload["state_dict"]
    elif isinstance(payload, Mapping):
        state_dict = payload
    else:
        raise UserError(f"weights {path} hold a {type(payload).__name__}, not a state dict")
    model = RepNet(config or PRESETS["repnet"])
    load_state_dict(model, state_dict, str(path))
    return model.eval()


def save_checkpoint(model: RepNet, path: str | Path, **metadata: object) -> None:
    """Write weights with the config that built them, so loading needs no preset name."""
    payload = {"config": model.config.to_dict(), "state_dict": model.state_dict(), **metadata}
    torch.save(payload, Path(path))


RANDOM_INIT_SEED = 0
SHIPPED_WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"


def shipped_weights(preset: str) -> Path | None:
    """The weights shipped in the package for ``preset``, if there are any."""
    path = SHIPPED_WEIGHTS_DIR / f"{preset}.pt"
    return path if path.is_file() else None


def load_model(preset: str, weights: str | Path | None = None) -> tuple[RepNet, str]:
    """A model of ``preset`` with ``weights``, else the shipped ones, else random init.

    Returns the model and where its weights came from (for tables and metrics files). Random
    init is seeded, so that every worker and every resumed run of a study sees the same model.
    """
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    config = PRESETS[preset]
    path = Path(weights) if weights is not None else shipped_weights(preset)
    if path is None:
        with torch.random.fork_rng():
            torch.manual_seed(RANDOM_INIT_SEED)
            return RepNet(config).eval(), f"random init (seed {RANDOM_INIT_SEED})"
    model = load_checkpoint(path, config)
    if model.config != config:
        raise UserError(
            f"weights {path} were saved from another model shape than preset {preset!r}; "
            "pass the preset they were trained for"
        )
    return model, str(path)
