import pytest
import torch
from imaging_helpers import gen

from fnflight.imaging import (
    homography_from_params,
    identity_homography,
    mean_displacement,
    sample_burst_offsets,
    sample_homography,
    translate_image,
    translation_homography,
    warp_image,
)


def test_zero_parameters_give_identity():
    h = homography_from_params(torch.zeros(2, 3), torch.ones(2), torch.zeros(2, 2), 16, 24)
    assert torch.allclose(h, identity_homography(2), atol=1e-6)
    x = torch.rand(2, 3, 16, 24)
    assert torch.allclose(warp_image(x, h), x, atol=1e-5)


def test_sampled_parameters_within_ranges_and_deterministic():
    h, p = sample_homography(64, 32, 32, gen(1), return_params=True)
    assert h.shape == (64, 3, 3)
    assert p["angles_deg"].abs().max() <= 0.5
    assert (p["scale"] >= 0.98).all() and (p["scale"] <= 1.02).all()
    assert p["translation"].abs().max() <= 2.0
    rebuilt = homography_from_params(p["angles_deg"], p["scale"], p["translation"], 32, 32)
    assert torch.allclose(h, rebuilt)
    assert h.equal(sample_homography(64, 32, 32, gen(1)))
    # paper 000: displacement of 448 crops up to ~20 px (Manhattan)
    d = mean_displacement(sample_homography(64, 448, 448, gen(2)), 448, 448)
    assert d.max() < 25 and d.min() >= 0


def test_scale_is_about_the_centre():
    h = homography_from_params(torch.zeros(1, 3), torch.tensor([1.02]), torch.zeros(1, 2), 9, 9)
    centre = torch.tensor([4.0, 4.0, 1.0])
    assert torch.allclose(h[0] @ centre, centre, atol=1e-5)


def test_mean_displacement_of_translation():
    h = translation_homography(torch.tensor([[3.0, -1.5], [0.0, 2.0]]))
    assert torch.allclose(mean_displacement(h, 8, 10), torch.tensor([4.5, 2.0]))
    assert torch.allclose(mean_displacement(h, 8, 10, norm="l2"), torch.tensor([(9 + 2.25) ** 0.5, 2.0]))
    with pytest.raises(ValueError, match="norm"):
        mean_displacement(h, 8, 8, norm="linf")


def test_warp_moves_a_dot_by_h():
    img = torch.zeros(1, 1, 9, 9)
    img[0, 0, 4, 3] = 1.0  # x=3, y=4
    out = warp_image(img, translation_homography(torch.tensor([[2.0, -1.0]])), padding_mode="zeros")
    assert out[0, 0].argmax().item() == 3 * 9 + 5  # y=3, x=5: J(x) = I(H^-1 x)
    assert out[0, 0, 3, 5].item() == pytest.approx(1.0)


def test_translate_image_and_burst():
    img = torch.zeros(1, 1, 7, 7)
    img[0, 0, 3, 3] = 1.0
    out = translate_image(img, torch.tensor([[1.0, 2.0]]), padding_mode="zeros")
    assert out[0, 0, 5, 4].item() == pytest.approx(1.0)
    burst = img[:, None].expand(1, 3, 1, 7, 7)
    off = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [0.0, -1.0]]])
    outb = translate_image(burst, off, padding_mode="zeros")
    assert outb.shape == (1, 3, 1, 7, 7)
    assert outb[0, 1, 0, 3, 4].item() == pytest.approx(1.0)
    assert outb[0, 2, 0, 2, 3].item() == pytest.approx(1.0)


def test_burst_offsets():
    off = sample_burst_offsets(200, 8, gen(0))
    assert off.shape == (200, 8, 2)
    assert off[:, 0].eq(0).all()
    assert off.abs().max() <= 16
    assert torch.equal(off * 4, torch.round(off * 4))  # quarter pixels
    small = off.abs().amax(-1) <= 2
    assert small.float().mean() > 0.5 and (~small).any()  # mostly small, some large
    assert off.equal(sample_burst_offsets(200, 8, gen(0)))


def test_homography_checks():
    with pytest.raises(ValueError, match="homography"):
        warp_image(torch.zeros(1, 1, 4, 4), torch.eye(3))
    with pytest.raises(ValueError, match="offsets"):
        translate_image(torch.zeros(2, 1, 4, 4), torch.zeros(3, 2))


def test_mean_displacement_coarse_matches_dense():
    h = sample_homography(32, 448, 448, gen(7))
    for norm in ("l1", "l2"):
        dense = mean_displacement(h, 448, 448, norm=norm, step=1)
        torch.testing.assert_close(mean_displacement(h, 448, 448, norm=norm), dense, atol=1e-3, rtol=0)
    odd = sample_homography(8, 301, 263, gen(8))
    dense = mean_displacement(odd, 301, 263, step=1)
    torch.testing.assert_close(mean_displacement(odd, 301, 263, step=4), dense, atol=1e-3, rtol=0)


def test_warp_matches_kornia():
    kornia = pytest.importorskip("kornia")
    x = torch.rand(2, 3, 20, 24, generator=gen(9))
    h = sample_homography(2, 20, 24, gen(10), max_translation=3.0, max_rotation_deg=2.0)
    for pad in ("zeros", "border", "reflection"):
        ref = kornia.geometry.transform.warp_perspective(x, h, (20, 24), padding_mode=pad, align_corners=True)
        torch.testing.assert_close(warp_image(x, h, padding_mode=pad), ref, atol=1e-4, rtol=0)
