import pytest
import torch

from fnflight.imaging import (
    SRGB_FROM_XYZ,
    WHITE_POINTS,
    XYZ_FROM_SRGB,
    bradford_adaptation,
    camera_to_srgb_matrix,
    gamma_compress,
    gamma_expand,
    linear_from_srgb,
    render_srgb,
    srgb_from_linear,
)


def test_srgb_round_trip():
    x = torch.linspace(0, 1, 101, dtype=torch.float64)
    assert torch.allclose(linear_from_srgb(srgb_from_linear(x)), x, atol=1e-10)
    assert torch.allclose(srgb_from_linear(linear_from_srgb(x)), x, atol=1e-10)
    assert torch.allclose(gamma_expand(gamma_compress(x[1:])), x[1:], atol=1e-10)


def test_srgb_continuous_and_linear_above_one():
    x = torch.tensor([1.0 - 1e-6, 1.0, 1.0 + 1e-6, 2.0], dtype=torch.float64)
    y = srgb_from_linear(x, linear_above_one=True)
    assert y[1] == pytest.approx(1.0, abs=1e-12)
    assert (y[2] - y[0]).abs() < 1e-5
    assert y[3] == pytest.approx(1.0 + 1.055 / 2.4)
    # slope 1.055/2.4 equals the curve's derivative at 1 (C1)
    t = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    srgb_from_linear(t).backward()
    assert t.grad.item() == pytest.approx(1.055 / 2.4, rel=1e-9)
    # without the continuation the power law goes on
    assert srgb_from_linear(x)[3] == pytest.approx(1.055 * 2 ** (1 / 2.4) - 0.055)
    # breakpoint continuity
    b = torch.tensor([0.0031308 - 1e-9, 0.0031308 + 1e-9], dtype=torch.float64)
    assert (srgb_from_linear(b)[1] - srgb_from_linear(b)[0]).abs() < 1e-6


@pytest.mark.parametrize(
    "fn",
    [srgb_from_linear, linear_from_srgb, gamma_compress, gamma_expand, lambda x: srgb_from_linear(x, True)],
)
def test_gradients_finite_at_zero(fn):
    x = torch.tensor([-0.1, 0.0, 1e-12, 0.5, 1.0, 1.5], requires_grad=True)
    fn(x).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_render_srgb_hand_computation():
    x = torch.tensor([0.1, 0.2, 0.05]).reshape(1, 3, 1, 1).expand(1, 3, 2, 2)
    m = torch.tensor([[1.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.2, 0.0, 2.0]])
    gain = 2.0
    lin = gain * (m @ torch.tensor([0.1, 0.2, 0.05]))  # [0.4, 0.4, 0.24]
    expected = 1.055 * lin ** (1 / 2.4) - 0.055
    out = render_srgb(x, torch.tensor([gain]), m[None])
    assert out.shape == (1, 3, 2, 2)
    assert torch.allclose(out[0, :, 1, 1], expected, atol=1e-6)
    # above 1: linear continuation, or clipped
    big = render_srgb(torch.ones(1, 3, 1, 1), 2.0, torch.eye(3))
    assert torch.allclose(big, torch.full_like(big, 1 + 1.055 / 2.4))
    assert render_srgb(torch.ones(1, 3, 1, 1), 2.0, torch.eye(3), clip=True).max() == 1.0


def test_render_srgb_checks():
    with pytest.raises(ValueError, match="image"):
        render_srgb(torch.ones(1, 4, 2, 2), 1.0, torch.eye(3))
    with pytest.raises(ValueError, match="gain"):
        render_srgb(torch.ones(2, 3, 2, 2), torch.ones(3), torch.eye(3))


def test_srgb_xyz_constants():
    assert torch.allclose(SRGB_FROM_XYZ @ XYZ_FROM_SRGB, torch.eye(3, dtype=torch.float64), atol=1e-12)
    # sRGB white is D65
    d65 = torch.tensor(WHITE_POINTS["D65"], dtype=torch.float64)
    assert torch.allclose(XYZ_FROM_SRGB.sum(1), d65, atol=1e-4)


def test_bradford_properties():
    d65 = torch.tensor(WHITE_POINTS["D65"], dtype=torch.float64)
    assert torch.allclose(bradford_adaptation(d65), torch.eye(3, dtype=torch.float64), atol=1e-12)
    for name in ("A", "C", "D50", "D55"):
        w = torch.tensor(WHITE_POINTS[name], dtype=torch.float64)
        assert torch.allclose(bradford_adaptation(w) @ w, d65, atol=1e-9)


@pytest.mark.parametrize("code", [17, 19, 20, 21, 23, 0])
def test_camera_matrix_white_maps_to_white(code):
    xyz_to_cam = torch.tensor(
        [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.097, 0.1581, 0.5181]], dtype=torch.float64
    )
    name = {17: "A", 19: "C", 20: "D55", 21: "D65", 23: "D50"}.get(code, "D65")
    white_cam = xyz_to_cam @ torch.tensor(WHITE_POINTS[name], dtype=torch.float64)
    m = camera_to_srgb_matrix(xyz_to_cam, code)
    assert m.shape == (1, 3, 3)
    assert torch.allclose(m[0] @ white_cam, torch.ones(3, dtype=torch.float64), atol=1e-3)


def test_camera_matrix_batched_codes_and_identity():
    xyz_to_cam = SRGB_FROM_XYZ.float().expand(2, 3, 3)
    m = camera_to_srgb_matrix(xyz_to_cam, torch.tensor([21, 17]))
    assert torch.allclose(m[0], torch.eye(3), atol=1e-5)  # D65 gives identity adaptation
    assert not torch.allclose(m[1], torch.eye(3), atol=1e-2)
    with pytest.raises(ValueError, match="xyz_to_camera"):
        camera_to_srgb_matrix(torch.eye(4), 21)
