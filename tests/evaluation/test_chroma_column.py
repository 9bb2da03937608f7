"""The chroma_off column of `fnflight eval` (issue 22): per image against the task's input panels, binned
by level, one column over all images in the table."""

from __future__ import annotations

import torch

from fnflight.evaluation.engine import _chroma_update
from fnflight.evaluation.tables import clean_record, table


def test_a_colour_no_input_has_is_counted_per_level():
    grey = torch.full((2, 3, 16, 16), 0.5)
    blotch = grey.clone()
    blotch[1, 2, 4:12, 4:12], blotch[1, :2, 4:12, 4:12] = 1.0, 0.0  # image 1 paints a blue square
    chroma: dict[float, list[float]] = {}
    _chroma_update(chroma, blotch, [grey, grey * 0.2], torch.tensor([100.0, 50.0]))
    assert chroma[100.0] == [0.0]  # the grey output: its colour is the inputs'
    assert len(chroma[50.0]) == 1 and chroma[50.0][0] > 0.1  # the blue square: a quarter of the image
    _chroma_update(chroma, blotch, [], torch.tensor([100.0, 50.0]))  # no input panels (raw): nothing
    assert len(chroma[100.0]) == 1


def test_table_shows_one_chroma_column_weighted_by_count():
    records = [
        {"method": "net", "dim": 100.0, "psnr": 20.0, "ssim": 0.5, "count": 3, "chroma_off": 0.0},
        {"method": "net", "dim": 50.0, "psnr": 22.0, "ssim": 0.6, "count": 1, "chroma_off": 0.004},
        {"method": "floor", "dim": 100.0, "psnr": 15.0, "ssim": 0.2, "count": 3},
    ]
    lines = table(records).splitlines()
    assert lines[0].endswith("chroma_off |")
    assert lines[2].endswith("| 0.100% |")  # (0 * 3 + 0.4% * 1) / 4
    assert lines[3].endswith("| - |")
    assert clean_record(records[1])["chroma_off"] == 0.004
