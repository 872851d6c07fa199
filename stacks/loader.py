"""Where stack config comes from: the running Pulumi program, or a ``Pulumi.<stack>.yaml`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from stacks.config import ConfigError, StackConfig, parse_config

#: The project directory: where Pulumi.yaml and the stack files live.
PROJECT_DIR = Path(__file__).resolve().parent.parent


def stack_file(stack: str, project_dir: Path = PROJECT_DIR) -> Path:
    """Path of a stack's config file."""
    return project_dir / f"Pulumi.{stack}.yaml"


def read_stack_file(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """The ``config:`` mapping of ``Pulumi.<stack>.yaml``; a :class:`ConfigError` names the file."""
    path = stack_file(stack, project_dir)
    if not path.is_file():
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))
        raise ConfigError(
            f"{path.name}: no such stack {stack!r} (known stacks: {', '.join(known) or 'none'})"
        )
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path.name}: not valid YAML ({exc})") from exc
    config = doc.get("config") if isinstance(doc, dict) else None
    if not isinstance(config, dict):
        raise ConfigError(f"{path.name}: has no config: mapping")
    for key, value in config.items():
        if isinstance(value, dict) and "secure" in value:
            # Encrypted values cannot be read offline; none of seqstack's keys is a secret.
            raise ConfigError(f"{path.name}: {key} is encrypted; seqstack config keys are not secrets")
    return config


def load_stack_file(stack: str, project_dir: Path = PROJECT_DIR) -> StackConfig:
    """Read and validate a stack's config file, as ``seqstack inventory`` and the tests do."""
    return parse_config(read_stack_file(stack, project_dir), stack)


def load_running_config() -> StackConfig:
    """Read and validate the config of the running Pulumi program (``pulumi up``/``preview``)."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    # The engine hands the program its config as one JSON bag (PULUMI_CONFIG); mocks set it
    # with set_all_config. Reading the whole bag lets parse_config reject misspelt keys.
    raw: dict[str, Any] = dict(runtime_config.get_config_env())
    raw.update(runtime_config.CONFIG.get())
    return parse_config(raw, pulumi.get_stack())
