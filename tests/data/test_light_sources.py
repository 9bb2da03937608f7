"""Light sources in the FnF synthesis (emissive, at the ambient's colour, not lit by the flash), clipping at
the white level, and the deterministic light-source pairs (issue 22)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fnflight.data import FAIDPairs, FlashNoFlashDataModule, FlashSynthesis, collate, synthesize_flash_pair
from fnflight.data import batch as K
from fnflight.data.light_sources import make_light_source_pairs
from fnflight.data.sources import write_png


def test_lights_only_in_the_ambient_at_its_colour() -> None:
    x = torch.full((2, 3, 96, 96), 0.3)
    on = synthesize_flash_pair(
        x, torch.Generator().manual_seed(5), FlashSynthesis(light_share=1.0, reference_size=96.0)
    )
    off = synthesize_flash_pair(
        x, torch.Generator().manual_seed(5), FlashSynthesis(light_share=0.0, reference_size=96.0)
    )
    assert bool(on["has_lights"].all()) and float(on["lights"].amax()) > 5
    # the flash does not brighten them: the flash-only image is the same as without lights
    assert torch.equal(on["flash_only"], off["flash_only"])
    # the ambient gains exactly the lights, at the ambient's colour
    added = on["ambient"] - off["ambient"]
    colour = off["ambient"].mean((2, 3)) / off["ambient"].mean((2, 3)).amax(1, keepdim=True)
    torch.testing.assert_close(added, on["lights"] * colour[:, :, None, None], rtol=1e-4, atol=1e-4)


def test_captures_clipped_at_the_white_level_before_noise(tmp_path: Path) -> None:
    g = np.random.default_rng(0)
    folder = tmp_path / "faid"
    folder.mkdir()
    amb = g.random((40, 40, 3)) * 0.2
    amb[18:22, 18:22] = 1.0  # a lamp: at dim 12.5 still 0.08, so brighten the flash to clip the capture
    text = {"Comment": " ".join(str(v) for v in np.eye(3).flatten()), "Description": "21"}
    write_png(folder / "s_ambient.png", (amb * 65535).astype(np.uint16), text)
    write_png(folder / "s_flash.png", np.full((40, 40, 3), 65535, np.uint16))
    src = FAIDPairs(folder)
    dm = FlashNoFlashDataModule(
        source=src,
        val_source=src,
        crop=32,
        num_workers=0,
        test_std_read=0.0,
        test_std_shot=0.0,
        white_level=1.0,
    )
    out = dm.degrade_seeded(collate([dm.make_dataset("test")[0]]), 0, "test")
    assert float(out[K.FLASH].amax()) == 1.0  # 2 x flash_only + ambient / dim, clipped at 1
    assert float(out[K.TARGET].amax()) <= 1.0
    raw = FlashNoFlashDataModule(
        source=src, val_source=src, crop=32, num_workers=0, test_std_read=0.0, test_std_shot=0.0
    ).degrade_seeded(collate([dm.make_dataset("test")[0]]), 0, "test")
    # "auto": a source's own flash images are not clipped (paper 000's FAID protocol)
    assert float(raw[K.FLASH].amax()) > 2.0


def test_light_source_pairs_deterministic(tmp_path: Path) -> None:
    g = np.random.default_rng(1)
    paths = []
    for i in range(2):
        path = tmp_path / f"p{i}.png"
        write_png(path, (g.random((60, 70, 3)) * 255).astype(np.uint8))
        paths.append(path)
    a = make_light_source_pairs(paths, seed=3, crop=48, dims=[100.0, 12.5])
    b = make_light_source_pairs(paths, seed=3, crop=48, dims=[100.0, 12.5])
    assert [(p["name"], p["dim"]) for p in a] == [
        ("p0.png", 100.0),
        ("p0.png", 12.5),
        ("p1.png", 100.0),
        ("p1.png", 12.5),
    ]
    for p, q in zip(a, b):
        for key in (K.NOFLASH, K.FLASH, K.TARGET, "lights"):
            assert torch.equal(p[key], q[key]), key
        assert p[K.NOFLASH].shape == (1, 3, 48, 48) and float(p["lights"].amax()) >= 100.0
    # a source clips the no-flash capture at dim 12.5 (the target too: the clean capture)
    assert any(float(p[K.TARGET].amax()) == 1.0 for p in a if p["dim"] == 12.5)
    assert not torch.equal(
        a[0][K.NOFLASH], make_light_source_pairs(paths[:1], seed=4, crop=48, dims=[100.0])[0][K.NOFLASH]
    )
