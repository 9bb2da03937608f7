"""notebooks/quickstart.ipynb runs top to bottom (tiny settings via FNFLIGHT_QUICKSTART_TINY=1)."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb"


@pytest.mark.slow
def test_quickstart_notebook_executes(monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("FNFLIGHT_QUICKSTART_TINY", "1")
    monkeypatch.setenv("WANDB_MODE", "offline")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=240, startup_timeout=180, kernel_name="python3").execute()
    outputs = "".join(
        o.get("text", "") + str(o.get("data", {}).get("text/markdown", ""))
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
    )
    assert "Run directory" in outputs and "gaussian_denoise" in outputs
