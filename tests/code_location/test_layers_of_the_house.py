"""The layout's rules hold: layers import one way, the engine runs without Dagster, no import cycles
(the import-linter contracts in pyproject.toml), and the code location builds nothing on import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from carelake.settings import PROJECT_ROOT


def test_the_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([lint, "--no-cache"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "3 kept, 0 broken" in result.stdout


def test_the_engine_imports_without_dagster():
    code = (
        "import sys; import carelake.layers.raw, carelake.layers.transformed, carelake.quality, carelake.spec.loading; "
        "print('dagster' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
