import pytest
import torch
from imaging_helpers import gen

from fnflight import imaging
from fnflight.imaging import (
    XTRANS_CFA,
    XTRANS_PACKED_COLORS,
    amplification_ratio,
    amplify,
    mosaic_bayer,
    mosaic_xtrans,
    normalize_levels,
    pack_bayer,
    pack_xtrans,
    process,
    sample_unprocessing_params,
    unpack_bayer,
    unpack_xtrans,
    unprocess,
)


def constant_channels(b, h, w):
    """RGB image whose channel c is the constant c + 1 (identifies the colour of each mosaic sample)."""
    return torch.tensor([1.0, 2.0, 3.0]).reshape(1, 3, 1, 1).expand(b, 3, h, w)


@pytest.mark.parametrize("order", ["raster", "sid"])
def test_pack_unpack_bayer_round_trip(order):
    x = torch.rand(2, 1, 6, 8, generator=gen())
    p = pack_bayer(x, order)
    assert p.shape == (2, 4, 3, 4)
    assert unpack_bayer(p, order).equal(x)


def test_mosaic_picks_right_channels():
    rgb = constant_channels(1, 4, 4)
    m = mosaic_bayer(rgb, "RGGB")
    assert m.shape == (1, 1, 4, 4)
    assert m[0, 0, 0, 0] == 1 and m[0, 0, 0, 1] == 2 and m[0, 0, 1, 0] == 2 and m[0, 0, 1, 1] == 3
    assert pack_bayer(m)[0, :, 0, 0].tolist() == [1, 2, 2, 3]
    assert pack_bayer(m, "sid")[0, :, 0, 0].tolist() == [1, 2, 3, 2]
    assert mosaic_bayer(rgb, "BGGR")[0, 0, 0, 0] == 3
    with pytest.raises(ValueError, match="pattern"):
        mosaic_bayer(rgb, "RGBG")


def test_xtrans_cfa_and_packing():
    assert XTRANS_CFA.shape == (6, 6)
    assert [(XTRANS_CFA == c).sum().item() for c in range(3)] == [8, 20, 8]
    raw = mosaic_xtrans(constant_channels(2, 12, 18))
    p = pack_xtrans(raw)
    assert p.shape == (2, 9, 4, 6)
    for k, c in enumerate(XTRANS_PACKED_COLORS):
        assert (p[:, k] == c + 1).all(), k  # every channel is a single colour
    x = torch.rand(1, 1, 12, 12, generator=gen())
    assert unpack_xtrans(pack_xtrans(x)).equal(x)
    with pytest.raises(ValueError, match="multiples of 6"):
        pack_xtrans(torch.zeros(1, 1, 9, 12))


def test_unprocess_process_round_trip():
    srgb = 0.35 + 0.2 * torch.rand(2, 3, 8, 8, generator=gen())
    raw, meta = unprocess(srgb, gen(1))
    assert raw.shape == srgb.shape and raw.min() >= 0 and raw.max() <= 1
    assert meta["rgb2cam"].shape == (2, 3, 3) and meta["rgb_gain"].shape == (2,)
    assert torch.allclose(meta["rgb2cam"] @ meta["cam2rgb"], torch.eye(3).expand(2, 3, 3), atol=1e-5)
    back = process(raw, meta)
    assert torch.allclose(back, srgb, atol=2e-3)
    # reusing the meta gives the same raw; a new generator gives another camera
    raw2, _ = unprocess(srgb, meta=meta)
    assert raw2.equal(raw)
    raw3, _ = unprocess(srgb, gen(2))
    assert not torch.allclose(raw3, raw)


def test_unprocessing_params_ranges():
    m = sample_unprocessing_params(500, gen())
    assert (m["red_gain"] >= 1.9).all() and (m["red_gain"] <= 2.4).all()
    assert (m["blue_gain"] >= 1.5).all() and (m["blue_gain"] <= 1.9).all()
    assert (1 / m["rgb_gain"]).mean().item() == pytest.approx(0.8, abs=0.02)


def test_levels_and_ratio_cap():
    assert amplification_ratio(0.1, 10.0) == pytest.approx(100.0)
    assert amplification_ratio(0.033, 10.0) == 300.0
    assert amplification_ratio(0.04, 10.0) == pytest.approx(250.0)
    t = amplification_ratio(torch.tensor([0.1, 0.01]), torch.tensor([10.0, 10.0]))
    assert torch.allclose(t, torch.tensor([100.0, 300.0]))
    raw = torch.tensor([[[[512.0, 1024.0, 16383.0, 0.0]]]])
    n = normalize_levels(raw, 512, 16383)
    assert torch.allclose(n, torch.tensor([[[[0.0, 512 / 15871, 1.0, 0.0]]]]))
    assert torch.allclose(amplify(n, 300.0), torch.tensor([[[[0.0, 1.0, 1.0, 0.0]]]]))
    assert normalize_levels(torch.tensor([[[[1024]]]], dtype=torch.int32), 512, 16383).dtype == torch.float32


def test_sensor_noise_levels_and_checks():
    g = torch.Generator().manual_seed(0)
    std_read, std_shot = imaging.sample_sensor_noise(1000, (0.5, 2.0), 1000.0, g)
    gain = std_shot**2 * 1000.0
    assert float(gain.min()) >= 0.5 - 1e-4 and float(gain.max()) <= 2.0 + 1e-4
    # read noise: 1.5 e- before the amplifier and 1.5 DN after it, with a log-normal spread
    expected = torch.sqrt((1.5 * gain) ** 2 + 1.5**2) / 1000.0
    ratio = (std_read / expected).log()
    assert abs(float(ratio.mean())) < 0.03 and abs(float(ratio.std()) - 0.2) < 0.03
    with pytest.raises(ValueError, match="gain_range"):
        imaging.sample_sensor_noise(1, (2.0, 1.0))


def test_render_camera_rgb_tone_curve_per_sample():
    x = torch.full((2, 3, 2, 2), 0.3)
    out = imaging.render_camera_rgb(x, torch.ones(2, 3), torch.eye(3), torch.tensor([1.0, 0.0]))
    plain = imaging.gamma_compress(x[:1], 2.2)
    torch.testing.assert_close(out[1:], plain)
    torch.testing.assert_close(out[:1], imaging.smoothstep(plain))
    with pytest.raises(ValueError, match="wb_gains"):
        imaging.render_camera_rgb(x, torch.ones(3), torch.eye(3))
