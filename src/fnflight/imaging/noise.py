"""Sensor noise models (paper 000 sec. 4.1 with NOTES "DeepFnF" noise; paper 003 sec. 3.1.5; KPN, NOTES).

Conventions: noise parameters are STANDARD DEVIATIONS in units of the (linear) image, one value per batch
sample, shape ``(B,)``; they broadcast over ``(C, H, W)``. Random functions take a ``torch.Generator``
(``None`` means torch's default generator) and never touch global RNG state otherwise.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .srgb import _batch_param, _check_bchw

__all__ = [
    "add_heteroscedastic_noise",
    "add_poisson_gaussian_noise",
    "noise_std_map",
    "sample_log_uniform",
    "sample_noise_params",
]


def _randn_like(x: Tensor, generator: torch.Generator | None) -> Tensor:
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def sample_log_uniform(
    low_log10: float,
    high_log10: float,
    shape: tuple[int, ...] | int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    r"""Sample ``10 ** U(low_log10, high_log10)``.

    Args:
        low_log10: lower bound of the base-10 exponent.
        high_log10: upper bound of the base-10 exponent (``>= low_log10``).
        shape: output shape.
        generator: random generator (its device must match ``device``).
        device: output device.
        dtype: output dtype.

    Returns:
        Tensor of ``shape`` with values in ``[10**low_log10, 10**high_log10]``.

    Example:
        >>> v = sample_log_uniform(-3, -2, (100,), torch.Generator().manual_seed(0))
        >>> bool((v >= 1e-3).all() and (v <= 1e-2).all())
        True
    """
    if high_log10 < low_log10:
        raise ValueError(f"high_log10 must be >= low_log10, got low={low_log10}, high={high_log10}")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    u = torch.rand(shape, generator=generator, device=device, dtype=dtype)
    return 10.0 ** (low_log10 + (high_log10 - low_log10) * u)


def sample_noise_params(
    batch: int,
    read_range: tuple[float, float] = (-3.0, -2.0),
    shot_range: tuple[float, float] = (-2.0, -1.3),
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Sample per-sample read and shot noise standard deviations, log-uniformly.

    Defaults are DeepFnF's training ranges (NOTES "DeepFnF" / paper 000 sec. 4.1):
    ``std_read = 10**U(-3, -2)``, ``std_shot = 10**U(-2, -1.3)``. The paper writes ``log(sigma_s) in
    [-4, -2.6]``: there sigma_s is the shot-noise VARIANCE (log10), i.e. half those exponents for the std;
    both ranges here are log10 STDs.
    KPN/BPN ranges (NOTES): ``read_range=(-3, -1.5)``, ``shot_range=(-2, -1)``.

    Args:
        batch: number of samples B.
        read_range: ``(low, high)`` log10 range of the read-noise std.
        shot_range: ``(low, high)`` log10 range of the shot-noise std.
        generator: random generator.
        device: output device.

    Returns:
        ``(std_read, std_shot)``, each ``(B,)``.

    Example:
        >>> r, s = sample_noise_params(4, generator=torch.Generator().manual_seed(0))
        >>> r.shape, s.shape
        (torch.Size([4]), torch.Size([4]))
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    std_read = sample_log_uniform(read_range[0], read_range[1], (batch,), generator, device)
    std_shot = sample_log_uniform(shot_range[0], shot_range[1], (batch,), generator, device)
    return std_read, std_shot


def _std(x: Tensor, r: Tensor, s: Tensor) -> Tensor:
    """``sqrt(r^2 + s^2 max(x, 0))`` in three passes over ``x`` (one buffer) when no gradient is needed."""
    if torch.is_grad_enabled() and (x.requires_grad or r.requires_grad or s.requires_grad):
        return torch.sqrt(r**2 + s**2 * torch.clamp(x, min=0.0))
    v = torch.clamp(x, min=0.0)
    torch.addcmul(r * r, v, s * s, out=v)
    return v.sqrt_()


def add_heteroscedastic_noise(
    x: Tensor,
    std_read: float | Tensor,
    std_shot: float | Tensor,
    generator: torch.Generator | None = None,
    normal: Tensor | None = None,
) -> Tensor:
    r"""Gaussian approximation of Poisson-Gaussian noise (DeepFnF, KPN; NOTES "DeepFnF").

    ``noisy = x + std_shot * sqrt(max(x, 0)) * N_1 + std_read * N_2`` with independent standard normals
    (the authors' code), no clipping and no quantisation. The sum of the two independent zero-mean normals is
    a normal of variance ``std_read^2 + std_shot^2 max(x, 0)``, so it is drawn as ONE normal per pixel,
    ``noisy = x + sqrt(std_read^2 + std_shot^2 max(x, 0)) * N``: the same distribution for half the random
    numbers.

    Args:
        x: ``(B, C, H, W)`` linear image.
        std_read: float or ``(B,)`` read-noise std.
        std_shot: float or ``(B,)`` shot-noise std.
        generator: random generator on ``x.device``.
        normal: optional pre-drawn standard normals of ``x``'s shape (e.g. a slice of one ``torch.randn``
            call shared by several frames); ``generator`` is then unused.

    Returns:
        ``(B, C, H, W)`` noisy image.

    Example:
        >>> x = torch.full((1, 3, 4, 4), 0.5)
        >>> add_heteroscedastic_noise(x, 0.0, 0.0).equal(x)
        True
    """
    x = _check_bchw(x, "x")
    b = len(x)
    r = _batch_param(std_read, "std_read", b, x)
    s = _batch_param(std_shot, "std_shot", b, x)
    if normal is None:
        normal = _randn_like(x, generator)
    elif normal.shape != x.shape:
        raise ValueError(f"normal must have the shape of x {tuple(x.shape)}, got {tuple(normal.shape)}")
    return torch.addcmul(x, _std(x, r, s), normal)


def add_poisson_gaussian_noise(
    x: Tensor,
    photons_per_unit: float | Tensor,
    read_std: float | Tensor = 0.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Poisson shot noise plus Gaussian read noise (paper 003 sec. 3.1.5, LSD2).

    ``noisy = Poisson(max(x, 0) * k) / k + read_std * N(0, 1)`` with ``k = photons_per_unit`` (photo-electrons
    per unit intensity). The shot-noise std at intensity x is ``sqrt(x / k)``, so it matches
    :func:`add_heteroscedastic_noise` with ``std_shot = 1 / sqrt(k)``: use
    ``photons_per_unit = std_shot ** -2`` to convert. A noise ``f`` times larger (LSD2 uses f = 4 for the
    short exposure) is ``photons_per_unit / f**2``. Not differentiable w.r.t. ``x`` (sampling). No clipping.

    Args:
        x: ``(B, C, H, W)`` linear image.
        photons_per_unit: float or ``(B,)``, > 0.
        read_std: float or ``(B,)`` Gaussian read-noise std.
        generator: random generator on ``x.device``.

    Returns:
        ``(B, C, H, W)`` noisy image.

    Example:
        >>> x = torch.full((1, 1, 8, 8), 0.5)
        >>> y = add_poisson_gaussian_noise(x, 1e4, 0.0, torch.Generator().manual_seed(0))
        >>> bool((y - x).abs().max() < 0.05)
        True
    """
    x = _check_bchw(x, "x")
    b = len(x)
    k = _batch_param(photons_per_unit, "photons_per_unit", b, x)
    if bool((k <= 0).any()):
        raise ValueError("photons_per_unit must be > 0")
    r = _batch_param(read_std, "read_std", b, x)
    rate = torch.clamp(x.detach(), min=0.0) * k
    counts = torch.poisson(rate, generator=generator)
    return counts / k + r * _randn_like(x, generator)


def noise_std_map(noisy: Tensor, std_read: float | Tensor, std_shot: float | Tensor) -> Tensor:
    r"""Per-pixel noise std estimate ``sqrt(std_read^2 + std_shot^2 * max(noisy, 0))`` (NOTES "DeepFnF", KPN).

    Computed from the NOISY image, one map per channel, as the networks' noise input.

    Args:
        noisy: ``(B, C, H, W)`` noisy linear image.
        std_read: float or ``(B,)``.
        std_shot: float or ``(B,)``.

    Returns:
        ``(B, C, H, W)``.

    Example:
        >>> noise_std_map(torch.full((1, 1, 1, 1), 4.0), 0.3, 0.2)
        tensor([[[[0.5000]]]])
    """
    noisy = _check_bchw(noisy, "noisy")
    b = len(noisy)
    r = _batch_param(std_read, "std_read", b, noisy)
    s = _batch_param(std_shot, "std_shot", b, noisy)
    return _std(noisy, r, s)
