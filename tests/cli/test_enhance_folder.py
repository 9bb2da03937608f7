"""`fnflight enhance in=DIR out=DIR`: every input of a folder through one model; failures reported, the rest
written."""

from __future__ import annotations

import numpy as np
from PIL import Image

from fnflight.cli import enhance as enhance_cli
from fnflight.cli.enhance_folder import FolderError, folder_jobs


def _png(path, h, w, seed):
    Image.fromarray((np.random.default_rng(seed).random((h, w, 3)) * 255).astype("uint8")).save(path)


def test_folder_of_short_long_pairs(tmp_path, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i, name in enumerate(("a", "b")):
        _png(src / f"{name}_short.png", 40, 56, i)
        _png(src / f"{name}_long.png", 40, 56, 10 + i)
    _png(src / "c_short.png", 40, 56, 3)  # no long exposure: not an input
    _png(src / "d_short.png", 40, 56, 4)
    _png(src / "d_long.png", 32, 56, 5)  # sizes differ: this one fails, the others are written
    assert [n for n, _ in folder_jobs("shortlong", src)] == ["a", "b", "d"]
    assert enhance_cli.run(["model=lsd2", f"in={src}", f"out={out}", "ext=jpg"]) == 1
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "b.jpg"]
    assert "2 of 3 written" in capsys.readouterr().out


def test_folder_errors(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert enhance_cli.run(["model=lsd2", f"in={tmp_path / 'empty'}", f"out={tmp_path / 'o'}"]) == 2
    assert "no NAME_short.* + NAME_long.* pairs" in capsys.readouterr().err
    assert enhance_cli.run(["model=nope", f"in={tmp_path}", f"out={tmp_path / 'o'}"]) == 2
    assert "no shipped model" in capsys.readouterr().err
    assert enhance_cli.run(["model=sid", f"in={tmp_path / 'missing'}", f"out={tmp_path / 'o'}"]) == 2
    assert "not a folder" in capsys.readouterr().err
    try:
        folder_jobs("raw", tmp_path)
    except FolderError as err:
        assert "raw files" in str(err)
    else:
        raise AssertionError("a folder without raw files must be refused")
