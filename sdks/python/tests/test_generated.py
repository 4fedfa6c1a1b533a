"""The committed types are what the pinned generator makes of the committed openapi.json."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def test_models_are_generated_from_openapi_json(tmp_path: Path):
    fresh = tmp_path / "models.py"
    subprocess.run(
        ["bash", str(HERE / "generate.sh"), str(fresh)], env={**os.environ, "PYTHON": sys.executable}, check=True
    )
    committed = (HERE / "src/ccgate/models.py").read_text()
    assert fresh.read_text() == committed, "src/ccgate/models.py is stale: run sdks/python/generate.sh"
