"""Layers point one way: components never import the stacks (or the CLI) that configure them.

Components own their Args vocabulary; ``stacks/`` translates config into Args. The pure modules
the config loader imports from ``components/`` stay free of Pulumi, so loading and checking a
stack's config never pays for (or depends on) the cloud SDKs.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ABOVE_COMPONENTS = ("stacks", "seqstack", "policies")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, at any depth (inside functions too), with its line."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_imported_modules_sees_imports_inside_functions(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("import os\n\ndef f():\n    from stacks.config import NatMode\n    import stacks.names\n")
    assert imported_modules(src) == [(1, "os"), (4, "stacks.config"), (5, "stacks.names")]


def test_no_component_imports_a_layer_above_it() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in sorted((ROOT / "components").glob("*.py"))
        for line, module in imported_modules(path)
        if module.split(".")[0] in ABOVE_COMPONENTS
    ]
    assert offenders == []


def test_config_loading_imports_no_pulumi() -> None:
    code = (
        "import sys, stacks.config, stacks.names, stacks.access, components.naming, components.pools\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0].startswith('pulumi')))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
