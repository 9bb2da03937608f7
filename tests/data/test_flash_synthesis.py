from __future__ import annotations

import torch

from fnflight.data import FlashSynthesis, blackbody_rgb, synthesize_flash_pair


def _grey(h: int = 48, w: int = 48) -> torch.Tensor:
    return torch.full((2, 3, h, w), 0.4)


def test_deterministic_and_in_range() -> None:
    x = torch.rand(2, 3, 40, 44)
    a = synthesize_flash_pair(x, torch.Generator().manual_seed(3))
    b = synthesize_flash_pair(x, torch.Generator().manual_seed(3))
    c = synthesize_flash_pair(x, torch.Generator().manual_seed(4))
    for key in ("ambient", "flash_only"):
        assert torch.equal(a[key], b[key])
        assert a[key].shape == x.shape and a[key].dtype == torch.float32
        assert float(a[key].min()) >= 0 and float(a[key].max()) <= 1
    assert not torch.equal(a["flash_only"], c["flash_only"])


def test_flash_falls_off_with_depth() -> None:
    # no specular, no luminance depth, strong depth plane: the far side of a flat grey card is darker
    cfg = FlashSynthesis(
        specular=(0.0, 0.0), luma_depth=(0.0, 0.0), plane_strength=(1.5, 2.0), shadow_strength=(0.0, 0.0)
    )
    out = synthesize_flash_pair(_grey(), torch.Generator().manual_seed(0), cfg)
    falloff, flash = out["falloff"], out["flash_only"].mean(1, keepdim=True)
    near, far = falloff >= falloff.quantile(0.9), falloff <= falloff.quantile(0.1)
    assert float(flash[near].mean()) > 2 * float(flash[far].mean())
    # the ambient image of a grey card is soft: no inverse-square structure
    assert float(falloff.amin()) < 0.3


def test_hard_shadows_only_in_flash() -> None:
    x = torch.full((1, 3, 64, 64), 0.2)
    x[..., 20:44, 20:44] = 0.9  # a bright (near) square in front of a dark (far) wall
    cfg = FlashSynthesis(specular=(0.0, 0.0), shadow_strength=(0.9, 0.9), shadow_shift=(0.08, 0.1))
    out = synthesize_flash_pair(x, torch.Generator().manual_seed(1), cfg)
    shadow = out["shadow"]
    assert (
        set(shadow.unique().tolist()) <= {0.0, 1.0} and float(shadow.sum()) > 10
    )  # binary, hard-edged, present
    ratio = out["flash_only"].mean(1) / out["ambient"].mean(1).clamp(min=1e-6)
    in_shadow = ratio[shadow[:, 0] > 0].mean()
    lit = ratio[(shadow[:, 0] == 0) & (x[:, 0] < 0.5)].mean()
    assert float(in_shadow) < 0.5 * float(lit)


def test_colour_cast_differs() -> None:
    cfg = FlashSynthesis(ambient_kelvin=(2500.0, 3000.0))
    out = synthesize_flash_pair(_grey(), torch.Generator().manual_seed(2), cfg)
    amb, fl = out["ambient"].mean((2, 3)), out["flash_only"].mean((2, 3))
    assert bool((amb[:, 0] / amb[:, 2] > 1.5).all())  # warm ambient: red >> blue
    assert bool((fl[:, 0] / fl[:, 2] < 1.15).all())  # neutral / slightly cool flash
    rgb = blackbody_rgb(torch.tensor([3000.0, 6504.0, 9000.0]))
    assert rgb[0, 0] > rgb[0, 2] and rgb[2, 2] > rgb[2, 0]


def test_synthetic_flash_does_not_repeat_the_photos_own_shading():
    """The flash keeps only part of the photo's fine detail (the rest is ambient shading), as real flash
    does: the fine-detail correlation of the pair (fnflight bench flash-realism's detail_corr) is that of
    real pairs (0.64-0.76 on the FAID samples), not the ~0.98 of a flash that repeats the photo."""
    from fnflight.bench.flash_realism import _corr, _high_pass
    from fnflight.data.sources import EmbeddedPhotos

    source = EmbeddedPhotos(split="val")
    corrs = []
    for i in range(len(source)):
        image = torch.from_numpy(source.read(i)["ambient"].copy()).permute(2, 0, 1)[None][..., :224, :224]
        pair = synthesize_flash_pair(image, torch.Generator().manual_seed(i))
        corrs.append(_corr(_high_pass(pair["ambient"]), _high_pass(pair["flash_only"])))
    assert 0.5 < sum(corrs) / len(corrs) < 0.85
