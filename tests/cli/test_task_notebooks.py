"""The per-task notebooks run top to bottom with the shipped models (tiny: FNFLIGHT_NOTEBOOK_TINY=1)."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["flash_noflash", "raw_lowlight", "short_long", "burst"])
def test_task_notebook_executes(name, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("FNFLIGHT_NOTEBOOK_TINY", "1")
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=240, startup_timeout=180, kernel_name="python3").execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    text = "".join(str(o.get("data", {}).get("text/markdown", "")) + o.get("text", "") for o in outputs)
    assert "## Training" in text  # the model card
    assert "| sample | input PSNR | output PSNR |" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the pictures are shown
