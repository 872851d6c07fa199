"""Fresh renders equal the reviewed golden YAML (compared as parsed data, not text).

After an intended change: ``python -m tests.regenerate_golden`` (``make golden``), review the
diff, commit. CI never regenerates.
"""

from __future__ import annotations

import pytest

from tests.regenerate_golden import CASES, golden_path, load_golden


@pytest.mark.parametrize("case", sorted(CASES))
def test_render_matches_golden(case: str) -> None:
    assert golden_path(case).exists(), f"missing {golden_path(case)}: run python -m tests.regenerate_golden"
    assert CASES[case]() == load_golden(case), (
        f"{case} differs from {golden_path(case)}; regenerate and review"
    )
