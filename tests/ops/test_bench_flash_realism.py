"""`fnflight bench flash-realism`: the synthetic flash against real pairs (detail-transfer gain, detail
correlation), on tiny images."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from fnflight.bench import flash_realism


def test_flash_realism_lines_for_both_sources(tmp_path, capsys):
    g = np.random.default_rng(0)
    photos, real = tmp_path / "photos", tmp_path / "real"
    photos.mkdir(), real.mkdir()
    for i in range(2):
        Image.fromarray((g.random((40, 48, 3)) * 255).astype(np.uint8)).save(photos / f"p{i}.png")
    albedo = g.random((40, 48, 3))
    Image.fromarray((albedo * 200).astype(np.uint8)).save(real / "a_ambient.png")
    Image.fromarray((albedo * 100 * np.linspace(0.5, 1, 48)[None, :, None]).astype(np.uint8)).save(
        real / "a_flash.png"
    )
    args = [f"synthetic={photos}", f"real={real}", "crop=32", "dims=[50]", "sigmas=[1,2]"]
    assert flash_realism.run(args) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["source"], r["dim"]) for r in rows] == [("synthetic", 50.0), ("real", 50.0)]
    assert all({"transfer_gain_db", "detail_corr", "images"} <= set(r) for r in rows)
    assert -1 <= rows[1]["detail_corr"] <= 1 and rows[0]["images"] == 2
    (real / "b_ambient.png").write_bytes((real / "a_ambient.png").read_bytes())
    assert flash_realism.run([f"real={real}", f"synthetic={photos}", "crop=32"]) == 2
    err = capsys.readouterr().err
    assert "missing file" in err and "b_flash.png" in err
