"""The README keeps its promises: the two-command quick start and every config key documented."""

from __future__ import annotations

import re
from pathlib import Path

from stacks.config import KEYS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_quick_start_is_exactly_make_demo_and_make_test() -> None:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```console\n(.*?)```", section, re.S)
    assert block is not None
    commands = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]


def test_every_config_key_is_in_the_reference_table() -> None:
    table = README.split("### Configuration reference", 1)[1].split("\n### ", 1)[0]
    documented = set(re.findall(r"^\| `seqstack:(\w+)`", table, re.M))
    assert documented == {k.name for k in KEYS}


def test_no_placeholder_is_left() -> None:
    assert not re.search(r"^[A-Z][A-Z-]+$", README, re.M)
    assert "<!--" not in README
