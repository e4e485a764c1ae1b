"""Finding and reading study files, and the definition a ``search`` run uses.

Studies are YAML files (built in: ``autocompress/studies/*.yaml``, shipped in the package;
a user's own in ``./studies/``), each read into a :class:`StudyConfig`
(autocompress.study.yaml_schema).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from autocompress.errors import UserError
from autocompress.study.config import StudyConfig
from autocompress.study.yaml_schema import build

__all__ = [
    "BUILTIN_STUDIES_DIR",
    "USER_STUDIES_DIR",
    "builtin_study",
    "builtin_study_names",
    "load_study_config",
    "resolve_study_config",
    "study_config_from_dict",
]

# Shipped as package data, so an installed wheel finds them from any directory.
BUILTIN_STUDIES_DIR = Path(__file__).resolve().parents[1] / "studies"
USER_STUDIES_DIR = Path("studies")  # relative: the current directory's


def load_study_config(path: str | Path) -> StudyConfig:
    """Read a study YAML file, or :class:`UserError` naming the offending key."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"study file not found: {path}")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise UserError(f"study file {path} is not valid YAML: {error}") from error
    return build(StudyConfig, values)


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
    return build(StudyConfig, values)


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
        if section and values[section] is None:  # caps left to the model family: given here
            values[section] = {}
        (values[section] if section else values)[field_name] = value
    return study_config_from_dict(values)
