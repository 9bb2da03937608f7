import pytest
import torch
from imaging_helpers import gen

from fnflight.imaging import (
    add_heteroscedastic_noise,
    add_poisson_gaussian_noise,
    noise_std_map,
    sample_log_uniform,
    sample_noise_params,
    sample_unprocessing_noise,
)


def test_noise_params_ranges_and_determinism():
    r, s = sample_noise_params(256, generator=gen(1))
    assert r.shape == s.shape == (256,)
    assert (r >= 1e-3).all() and (r <= 1e-2).all()
    assert (s >= 1e-2).all() and (s <= 10**-1.3 + 1e-9).all()
    r2, s2 = sample_noise_params(256, generator=gen(1))
    assert r.equal(r2) and s.equal(s2)
    v = sample_log_uniform(-1, 1, (4, 2), gen())
    assert v.shape == (4, 2)


def test_heteroscedastic_noise_statistics():
    levels = torch.tensor([0.05, 0.4]).reshape(2, 1, 1, 1)
    x = levels.expand(2, 3, 64, 64).contiguous()
    std_read = torch.tensor([0.01, 0.005])
    std_shot = torch.tensor([0.05, 0.1])
    y = add_heteroscedastic_noise(x, std_read, std_shot, gen())
    var = (y - x).flatten(1).var(1)
    expected = std_read**2 + std_shot**2 * levels.flatten()
    assert torch.allclose(var, expected, rtol=0.06)
    assert (y - x).flatten(1).mean(1).abs().max() < 3e-3


def test_poisson_gaussian_statistics():
    x = torch.full((1, 3, 64, 64), 0.3)
    k, read = 400.0, 0.01
    y = add_poisson_gaussian_noise(x, k, read, gen())
    assert y.mean().item() == pytest.approx(0.3, abs=2e-3)
    assert y.var().item() == pytest.approx(0.3 / k + read**2, rel=0.06)


def test_generator_determinism():
    x = torch.rand(2, 3, 8, 8, generator=gen(5))
    a = add_heteroscedastic_noise(x, 0.01, 0.05, gen(3))
    b = add_heteroscedastic_noise(x, 0.01, 0.05, gen(3))
    c = add_heteroscedastic_noise(x, 0.01, 0.05, gen(4))
    assert a.equal(b) and not a.equal(c)
    p = add_poisson_gaussian_noise(x, 100.0, 0.01, gen(3))
    assert p.equal(add_poisson_gaussian_noise(x, 100.0, 0.01, gen(3)))


def test_std_map_formula():
    noisy = torch.tensor([-0.5, 0.0, 0.25, 1.0]).reshape(1, 1, 2, 2).repeat(2, 1, 1, 1)
    r, s = torch.tensor([0.1, 0.2]), torch.tensor([0.3, 0.4])
    out = noise_std_map(noisy, r, s)
    for b in range(2):
        exp = torch.sqrt(r[b] ** 2 + s[b] ** 2 * noisy[b].clamp(min=0))
        assert torch.allclose(out[b], exp)


def test_shape_checks():
    with pytest.raises(ValueError, match="std_read"):
        add_heteroscedastic_noise(torch.zeros(2, 3, 4, 4), torch.ones(3), 0.1)
    with pytest.raises(ValueError, match="x must have shape"):
        add_heteroscedastic_noise(torch.zeros(3, 4, 4), 0.1, 0.1)


def test_unprocessing_noise_relation():
    r, s = sample_unprocessing_noise(2000, gen())
    log_shot, log_read = torch.log(s**2), torch.log(r**2)
    assert (s**2 >= 1e-4 * 0.999).all() and (s**2 <= 0.012 * 1.001).all()
    resid = log_read - (2.18 * log_shot + 1.20)
    assert resid.mean().abs() < 0.03
    assert resid.std().item() == pytest.approx(0.26, rel=0.1)
