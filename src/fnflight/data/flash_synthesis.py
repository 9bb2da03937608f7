r"""Synthetic flash / ambient pairs from one linear photograph.

The public FAID download is dead (NOTES "DeepFnF"), so the flash/no-flash task must also train from ordinary
photos. From one linear image ``I`` (an ordinary photo, i.e. a scene under soft ambient light) we make a
pair that shares albedo but differs in illumination the way real captures do. Paper 000 trains on real FAID
pairs and says nothing of a synthesis: every choice below is ours, checked against the three real FAID pairs
by ``fnflight bench flash-realism`` (benchmarks/results/flash_realism.jsonl). ``L`` is luminance, ``G_s`` a
Gaussian low-pass of scale ``s`` px.

Scale. Every spatial parameter is in pixels of the source photo (``reference_size`` = 448 px, the paper's
capture frame, for the spans of ramps, the depth plane, the specular's camera and the shadow parallax),
never a fraction of the crop: a 128-px training crop and a 448-px test crop of one photo get the same
statistics (tests/data/test_flash_synthesis.py). (The first versions scaled the shadow parallax, the ambient
field, the ramps and a low-pass with the crop: a 128-px flash had 2.6-6.4 px shadows, a 448-px one 9-22 px.)
The smooth fields live on a grid of 4 px per sample and are upsampled once. Only scalar normalisations (the
flash's exposure ``k``, the shading's mean) are set on the window, as a camera meters its own frame.

Shading and albedo. The photo is taken as albedo times a shading, ``I = A * S * exp(D)``: ``S = clip(G_56(L)
/ mean, 1/4, 4)`` the coarse shading, ``D`` the part of the photo's finer detail that is AMBIENT shading.
With the bands of ``log L``: fine ``h_f = log L - G_3`` and mid ``h_m = G_3 - G_24``, the flash keeps a
share ``rho_f ~ U(0.5, 0.75)``, ``rho_m ~ U(0.35, 0.6)`` of each band as albedo and adds its OWN shading
detail: the band's relief lit from the side (its derivative along a random direction ``u``, uncorrelated
with the band itself), scaled to ``beta_f ~ U(0.7, 1.0)``, ``beta_m ~ U(0.6, 0.95)`` times the band's
std. A real flash lights the same albedo with other shading: on the FAID pairs the ambient's detail has
about the flash's amplitude (std ratio 0.96-1.0 fine, 1.10-1.16 mid), the regression slope of the ambient's
detail on the flash's is 0.66-0.72 (fine) and 0.77-0.84 (mid), the correlation 0.69-0.73 (fine). (The
previous version kept only ``rho ~ U(0.2, 0.5)`` and added a relief correlated against the band: its flash
detail was a third of the ambient's, ratio 3.0-3.5 and slope 2.2-2.75, so a net had to amplify the flash's
detail by an unknown per-image gain.)

Ambient (soft, coloured, spatially varying).
    ``ambient = I * E_a(x, y) * c(T_a) * t``
where ``E_a = e_min + (1 - e_min) sigmoid(z)`` with ``z`` a stationary random field (bicubic over a lattice
of 150 px at a random phase) plus a linear ramp of 2 per 448 px along a random direction (so ``E_a in
[e_min, 1]``), ``c(T)`` the linear-sRGB colour of a black body at ``T`` kelvin relative to D65 (Kim et al.
cubic fit of the Planckian locus -> XYZ -> linear sRGB, normalised to max channel 1), ``T_a ~
logU(ambient_kelvin)`` (warm: tungsten to neutral) and ``t`` a small random green/magenta tint. Keeping
``I``'s own shading in the ambient image is deliberate: the photo *is* an ambient-lit capture.

Flash (neutral, point light next to the lens).
    ``flash_only = k c(T_f) [I exp(flash detail) / S * F * cos * (1 - s_h Shadow) + k_s Gloss Spec (1 -
    Shadow)]``
- depth proxy ``log d = log(1 + a_p) ramp + log(1 + a_l (1 - near))``: a plane (``ramp`` along a random
  direction, 1 per 448 px) and "bright is near", ``near = G_14(L)^(1/2.2)`` (absolute, in [0, 1]); falloff
  ``F = 1 / d^2`` (inverse square law);
- ``cos = n_z`` with the normal ``n ∝ (-b dLb/dx + t_x, -b dLb/dy + t_y, 1)`` of a luminance bump map on a
  tilted base plane (Lambert, light at the camera); specular ``Spec = max(n . v, 0)^p`` with ``v`` the
  viewing ray of a 90-degree pinhole camera over a 448-px frame in which the window sits at a random place
  -- the classic flash hot spot -- masked by a smooth random glossiness ``Gloss`` (a 150-px field) and
  coloured like the flash (not the albedo);
- hard shadows cast at depth edges: the flash sits beside the lens, so seen from it the scene shifts by a
  parallax ``shift * near`` (``shift ~ U(0.02, 0.05) x 448 px`` = 9-22 px), and a point is in shadow when a
  nearer point towards the flash rises above its ray to the flash (a screen-space shadow test,
  ``_shadow_score``); smooth depth slopes never shadow themselves, so shadows fall only beside steep depth
  edges, on the side away from the flash; the score is upsampled and thresholded (binary, hard edges) and
  darkens the flash by ``s_h`` (some light still bounces in);
- ``T_f ~ U(flash_kelvin)`` (neutral, slightly cool) and ``k`` normalises the mean flash luminance of the
  window to ``U(flash_mean)`` (the FAID flash images are well exposed); the result is clipped to ``[0, 1]``.

Light sources (issue 22: a night photo nearly always holds one; without them the nets had never seen a
pixel that is bright in the no-flash image and not brightened by the flash, and painted colour blotches
there). In a share ``light_share`` = 1/2 of the scenes, ``light_count`` = 4 source slots and 4 highlight
slots, each present with probability 1/2, are placed uniformly over a ``reference_size`` square about the
window's centre (a density per px: a smaller crop sees fewer, as a crop of the same scene would). A source
is an emissive core, a Gaussian of radius ``logU(1.5, 6)`` px and peak ``logU(5, 300)`` in ambient units
(far above the white level once dimmed by 5-50x), with a glow of ``logU(0.005, 0.05)`` of its peak and
``logU(2, 5)`` times its radius; a specular highlight of the ambient light is half as wide, a tenth as
bright, without glow. Both are ADDED TO THE AMBIENT at the ambient's colour ``c(T_a) t`` (they are its
light) and not to the flash-only image: the flash does not brighten an emitter, and a glint of the ambient
light sits elsewhere than the flash's own hot spot. The ambient then exceeds 1 there (``lights`` is returned);
the captures clip it: :class:`fnflight.data.fnf.FlashNoFlashDataModule` clips both captures and the target
at the sensor's white level before the noise, as a camera does (``white_level``). Measured on the embedded
training photos (windows with the training read margin, ``alpha`` log-uniform as in training; "emissive
pixel": the lights add at least a quarter of the photo's white): 128-px crops: 22% of the crops hold an
emissive region, 1.1% of the pixels are emissive, 0.06% of the no-flash pixels clip; 448-px crops: 62%,
0.69%, 0.05% (96 and 40 random windows; the emissive share from the ``lights`` output).

Everything is batched ``(B, 3, H, W)`` float32 on the input's device; every random number comes from the
given ``torch.Generator`` (the per-sample scalars in one draw), so a pair is deterministic given the
generator state. Cost: no per-sample Python loop, no FFT, no float64 image; the Gaussians are sums of
shifted slices (a one-channel convolution is several times slower on a CPU), the full-resolution work is a
few elementwise passes. Parameters are returned for manifests and tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["FlashSynthesis", "blackbody_rgb", "synthesize_flash_pair"]

_XYZ_TO_SRGB = torch.tensor(
    [
        [3.2404542, -1.5371385, -0.4985314],
        [-0.9692660, 1.8760108, 0.0415560],
        [0.0556434, -0.2040259, 1.0572252],
    ],
    dtype=torch.float64,
)


def _planck_xy(kelvin: Tensor) -> tuple[Tensor, Tensor]:
    """CIE 1931 chromaticity of a black body (Kim et al. 2002 cubic fit, valid 1667-25000 K)."""
    t = kelvin.to(torch.float64).clamp(1667.0, 25000.0)
    x_low = -0.2661239e9 / t**3 - 0.2343589e6 / t**2 + 0.8776956e3 / t + 0.179910
    x_high = -3.0258469e9 / t**3 + 2.1070379e6 / t**2 + 0.2226347e3 / t + 0.240390
    x = torch.where(t <= 4000, x_low, x_high)
    y1 = -1.1063814 * x**3 - 1.34811020 * x**2 + 2.18555832 * x - 0.20219683
    y2 = -0.9549476 * x**3 - 1.37418593 * x**2 + 2.09137015 * x - 0.16748867
    y3 = 3.0817580 * x**3 - 5.87338670 * x**2 + 3.75112997 * x - 0.37001483
    y = torch.where(t <= 2222, y1, torch.where(t <= 4000, y2, y3))
    return x, y


def blackbody_rgb(kelvin: Tensor) -> Tensor:
    r"""Linear-sRGB colour of a black body at ``kelvin``, relative to D65 (6504 K -> grey), max channel 1.

    Args:
        kelvin: ``(B,)`` colour temperatures.

    Returns:
        ``(B, 3)`` float32 colours.

    Example:
        >>> rgb = blackbody_rgb(torch.tensor([2800.0, 6504.0]))
        >>> bool(rgb[0, 0] > rgb[0, 2]), torch.allclose(rgb[1], torch.ones(3), atol=2e-2)
        (True, True)
    """

    def rgb(t: Tensor) -> Tensor:
        x, y = _planck_xy(t)
        xyz = torch.stack([x / y, torch.ones_like(x), (1 - x - y) / y], -1)
        return xyz @ _XYZ_TO_SRGB.to(xyz.device).T

    out = rgb(kelvin) / rgb(torch.tensor([6504.0], device=kelvin.device))
    out = out.clamp(min=1e-3)
    return (out / out.amax(-1, keepdim=True)).to(torch.float32)


@dataclass
class FlashSynthesis:
    """Ranges of the synthetic flash/ambient model (see the module docstring); call it on a batch.

    Every spatial parameter is in pixels of the source photo (``reference_size``: the frame of a capture,
    448 px, the paper's crop), never a fraction of the crop: a 128-px training crop and a 448-px test crop of
    the same photo get the same statistics (tests/data/test_flash_synthesis.py).

    Attributes:
        ambient_kelvin: log-uniform range of the ambient colour temperature (warm).
        flash_kelvin: uniform range of the flash colour temperature (neutral, slightly cool).
        tint: bound of the ambient green/magenta tint (log10 of the green gain).
        ambient_min: range of the darkest value of the ambient illumination field ``E_a``.
        ambient_scale: node spacing (px) of the ambient field's random lattice (150: the 4 x 4 grid a 448
            crop had).
        reference_size: px of the capture frame: ramps and the depth plane change by their full amount
            over it, the specular's pinhole camera has a 90-degree field of view over it, shadow parallax
            is a fraction of it.
        plane_strength: range of the depth-plane slope ``a_p`` (the far side of a ``reference_size`` span
            at ``1 + a_p`` times the distance).
        luma_depth: range of the "bright is near" depth term ``a_l``.
        depth_scale: scale (px) of the blurred luminance that gives the depth proxy.
        bump: range of the bump-map strength ``b`` (pixels of relief per unit luminance).
        specular: range of the specular weight ``k_s``.
        shininess: log-uniform range of the specular exponent ``p``.
        shadow_shift: range of the largest shadow parallax, a fraction of ``reference_size`` (9-22 px).
        shadow_strength: range of ``s_h``.
        flash_mean: range of the mean flash-only luminance after normalisation.
        albedo_detail, albedo_mid: ranges of ``rho_f``, ``rho_m``: the share of the photo's log-luminance
            detail, fine (finer than ``detail_sigma``) and mid (``detail_sigma`` to ``mid_sigma``), that the
            flash keeps as albedo (the rest is the ambient's shading).
        relief_detail, relief_mid: ranges of ``beta_f``, ``beta_m``: the std of the flash's own shading
            detail in each band, relative to the photo's detail in that band.
        detail_sigma, mid_sigma: the bands' Gaussian scales in pixels.
        shading_scale: the scale (px) of the coarse shading ``S``.
        light_share: share of samples whose scene holds light sources (emissive regions with glow, and
            specular highlights of the ambient light), see the module docstring.
        light_count: slots of light sources and of highlights over a ``reference_size`` square, each
            present with probability 1/2 in a scene with lights.
        light_radius: log-uniform range of a source's core radius (px; a highlight's is half).
        light_peak: log-uniform range of a source's peak, in units of the ambient image (a highlight's is
            a tenth): far above the white level once dimmed (clipped in the captures).
        glow: log-uniform range of the glow's peak relative to the core's, and ``glow_radius`` of its radius
            relative to the core's.
    """

    ambient_kelvin: tuple[float, float] = (2300.0, 5500.0)
    flash_kelvin: tuple[float, float] = (6000.0, 8000.0)
    tint: float = 0.04
    ambient_min: tuple[float, float] = (0.25, 0.8)
    ambient_scale: float = 150.0
    reference_size: float = 448.0
    plane_strength: tuple[float, float] = (0.3, 2.0)
    luma_depth: tuple[float, float] = (0.0, 1.0)
    depth_scale: float = 14.0
    bump: tuple[float, float] = (5.0, 40.0)
    specular: tuple[float, float] = (0.0, 0.6)
    shininess: tuple[float, float] = (20.0, 300.0)
    shadow_shift: tuple[float, float] = (0.02, 0.05)
    shadow_strength: tuple[float, float] = (0.6, 0.95)
    flash_mean: tuple[float, float] = (0.15, 0.35)
    # the photo's own detail that the flash keeps (the rest is taken as ambient shading) and the flash's own
    # shading detail: chosen so that amplitude ratio, regression slope and correlation of ambient and flash
    # detail, per band, and the untrained detail-transfer gain match the real FAID pairs (fnflight bench
    # flash-realism; benchmarks/results/flash_realism.jsonl)
    albedo_detail: tuple[float, float] = (0.5, 0.75)
    albedo_mid: tuple[float, float] = (0.35, 0.6)
    relief_detail: tuple[float, float] = (0.7, 1.0)
    relief_mid: tuple[float, float] = (0.6, 0.95)
    detail_sigma: float = 3.0
    mid_sigma: float = 24.0
    shading_scale: float = 56.0
    light_share: float = 0.5
    light_count: int = 4
    light_radius: tuple[float, float] = (1.5, 6.0)
    light_peak: tuple[float, float] = (5.0, 300.0)
    glow: tuple[float, float] = (0.005, 0.05)
    glow_radius: tuple[float, float] = (2.0, 5.0)

    def __call__(self, image: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        return synthesize_flash_pair(image, generator, self)


_LUMA = (0.2126, 0.7152, 0.0722)


def _gaussian(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of ``(B, C, H, W)`` (replicate borders) as weighted sums of shifted slices:
    for the few-tap kernels used here (radius <= 10) far faster on a CPU than a one-channel convolution."""
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = (k / k.sum()).tolist()
    for dim in (-1, -2):
        n = x.shape[dim]
        xp = F.pad(x, (radius, radius, 0, 0) if dim == -1 else (0, 0, radius, radius), mode="replicate")
        out = xp.narrow(dim, 0, n) * k[0]
        for i in range(1, 2 * radius + 1):
            out.add_(xp.narrow(dim, i, n), alpha=k[i])
        x = out
    return x


def _blur_px(x: Tensor, sigma_px: float, step: float) -> Tensor:
    """Gaussian low-pass of scale ``sigma_px`` (px of the source) of ``x`` sampled every ``step`` px:
    pooled by an integer factor while the blur stays above 1.5 samples, blurred, upsampled back."""
    sigma = sigma_px / step
    pool = max(1, int(sigma // 1.5))
    if pool > 1 and min(x.shape[-2:]) >= 2 * pool:
        small = F.avg_pool2d(x, pool, ceil_mode=True)
        out = _gaussian(small, math.sqrt(max(sigma**2 - pool**2 / 12, 0.25)) / pool)
        return F.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return _gaussian(x, sigma)


def _directional(x: Tensor, angle: Tensor, step: int) -> Tensor:
    """``u . grad x`` along the unit vector ``u = (cos, sin)(angle)`` per sample, central differences over
    ``2 step`` samples (0 on the ``step``-sample border): the relief ``x`` lit from the side, uncorrelated
    with ``x`` itself (for a stationary field ``E[x dx] = 0``)."""
    s2 = 2 * step
    out = torch.zeros_like(x)
    c, s = torch.cos(angle)[:, None, None, None], torch.sin(angle)[:, None, None, None]
    inner = out[..., step:-step, step:-step]
    torch.mul(x[..., step:-step, s2:] - x[..., step:-step, :-s2], c, out=inner)
    inner.add_((x[..., s2:, step:-step] - x[..., :-s2, step:-step]).mul_(s))
    return out


def _std(x: Tensor, stride: int = 1) -> Tensor:
    """Per-sample std of ``(B, 1, H, W)`` from every ``stride``-th row and column, ``(B,)``."""
    return x[..., ::stride, ::stride].std((1, 2, 3)).clamp(min=1e-6)


_SHADOW_STEPS = 8  # samples of the shadow ray (t in (0, shift])


def _shadow_score(disp: Tensor, shift: Tensor, direction: Tensor) -> Tensor:
    r"""Screen-space hard-shadow test of a flash beside the lens; ``> 0`` where a pixel is in shadow.

    Seen from a flash offset from the lens the scene shifts by the disparity ``f b / z`` (baseline ``b``),
    near points more: ``disp = shift * near`` (``shift`` the largest parallax, ``near`` in ``[0, 1]``). A
    point ``x`` is in the flash's shadow when a nearer point towards the flash rises above the ray to the
    flash: ``max_t disp(x - t u) - disp(x) - t > 0`` for some ``t in (0, shift]`` (``u`` the image direction
    away from the flash). Smooth depth slopes (below 1 px of parallax per px) never shadow themselves, so
    shadows are cast only at steep depth edges (silhouettes), on the side away from the flash, about
    ``shift * (jump of near)`` wide.

    Args:
        disp: ``(B, 1, h, w)`` disparity in pixels of this grid.
        shift: ``(B,)`` largest parallax in pixels of this grid.
        direction: ``(B,)`` angle of ``u``, radians.

    Returns:
        ``(B, 1, h, w)`` score (continuous: an upsampled score thresholded at 0 has smooth contours).
    """
    b, _, h, w = disp.shape
    steps = torch.arange(1, _SHADOW_STEPS + 1, device=disp.device, dtype=disp.dtype) / _SHADOW_STEPS
    t = shift[:, None] * steps  # (B, S)
    ys = torch.linspace(-1, 1, h, device=disp.device, dtype=disp.dtype)[None, None, :, None]
    xs = torch.linspace(-1, 1, w, device=disp.device, dtype=disp.dtype)[None, None, None, :]
    dx = (-t * torch.cos(direction)[:, None] * 2 / max(w - 1, 1))[:, :, None, None]  # (B, S, 1, 1)
    dy = (-t * torch.sin(direction)[:, None] * 2 / max(h - 1, 1))[:, :, None, None]
    grid = torch.empty((b, _SHADOW_STEPS, h, w, 2), device=disp.device, dtype=disp.dtype)
    grid[..., 0], grid[..., 1] = xs + dx, ys + dy
    along = F.grid_sample(
        disp, grid.flatten(1, 2), mode="bilinear", padding_mode="border", align_corners=True
    )
    along = along.reshape(b, _SHADOW_STEPS, h, w) - t[:, :, None, None]
    return along.amax(1, keepdim=True) - disp


def _gaussian_spots(h: int, w: int, centres: Tensor, radii: Tensor, peaks: Tensor) -> Tensor:
    """``sum_k peak_k exp(-|x - c_k|^2 / (2 r_k^2))`` on an ``h x w`` pixel grid, ``(B, 1, h, w)``: each
    spot is separable, so the sum is one batched product of ``(B, h, K)`` and ``(B, K, w)`` profiles."""
    dev, dt = centres.device, centres.dtype
    ys = torch.arange(h, device=dev, dtype=dt)[None, :, None]
    xs = torch.arange(w, device=dev, dtype=dt)[None, :, None]
    r = radii[:, None, :]
    gy = torch.exp(-0.5 * ((ys - centres[:, None, :, 1]) / r) ** 2) * peaks[:, None, :]  # (B, h, K)
    gx = torch.exp(-0.5 * ((xs - centres[:, None, :, 0]) / r) ** 2)  # (B, w, K)
    return torch.bmm(gy, gx.transpose(1, 2))[:, None]


def synthesize_flash_pair(
    image: Tensor, generator: torch.Generator, config: FlashSynthesis | None = None, details: bool = True
) -> dict[str, Tensor]:
    r"""Make a synthetic ``(ambient, flash_only)`` pair from linear photos (model in the module docstring).

    Args:
        image: ``(B, 3, H, W)`` linear RGB in ``[0, 1]``.
        generator: random generator (any device; numbers are drawn on its device).
        config: the ranges; defaults to :class:`FlashSynthesis` ``()``.
        details: return ``falloff`` at full resolution (``False``: at the quarter resolution it is computed
            at, saving a full-resolution interpolation; the images are identical).

    Returns:
        dict with ``ambient`` ``(B, 3, H, W)`` (``>= 0``; above 1 only at light sources), ``flash_only``
        ``(B, 3, H, W)`` in ``[0, 1]``, ``shadow`` ``(B, 1, H, W)`` (the hard shadow mask), ``falloff``
        ``(B, 1, H, W)`` (see ``details``), ``lights`` ``(B, 1, H, W)`` (the emissive luminance added to the
        ambient, ambient units), the sampled ``ambient_kelvin``, ``flash_kelvin``, ``shadow_shift_px``,
        ``has_lights`` (B,).

    Example:
        >>> out = synthesize_flash_pair(torch.rand(2, 3, 32, 32), torch.Generator().manual_seed(0))
        >>> out["ambient"].shape, out["flash_only"].shape
        (torch.Size([2, 3, 32, 32]), torch.Size([2, 3, 32, 32]))
    """
    if not isinstance(image, Tensor) or image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"image must be a (B, 3, H, W) tensor, got {getattr(image, 'shape', type(image))}")
    cfg = config or FlashSynthesis()
    b, _, h, w = image.shape
    dev, dt = image.device, torch.float32
    gdev = generator.device
    ref = float(cfg.reference_size)

    # every random number of a batch in one draw on the generator's device (fixed layout below)
    n_uniform = 32
    draws = torch.rand((b, n_uniform), generator=generator, device=gdev, dtype=torch.float32).to(dev)
    slot = iter(range(n_uniform))

    def u(lo: float, hi: float) -> Tensor:
        return lo + (hi - lo) * draws[:, next(slot)]

    def logu(lo: float, hi: float) -> Tensor:
        return torch.exp(u(math.log(lo), math.log(hi)))

    def col(v: Tensor) -> Tensor:
        return v[:, None, None, None]

    # the quarter-resolution grid of the smooth fields (4 px per sample whatever the crop)
    hl, wl = max(2, -(-h // 4)), max(2, -(-w // 4))
    sy, sx = h / hl, w / wl
    yq = (torch.arange(hl, device=dev, dtype=dt) + 0.5) * sy - h / 2  # px from the window's centre
    xq = (torch.arange(wl, device=dev, dtype=dt) + 0.5) * sx - w / 2

    def ramp(angle: Tensor, phase: Tensor) -> Tensor:  # (B, 1, hl, wl) px along ``angle`` / ref, + phase
        r = (
            torch.cos(angle)[:, None, None] * xq[None, None, :]
            + torch.sin(angle)[:, None, None] * yq[None, :, None]
        )
        return (r / ref + phase[:, None, None])[:, None]

    def lattice(spacing_px: float) -> Tensor:  # (B, 1, hl, wl) ~N(0, 1) field, bicubic over a px lattice
        sp = spacing_px / sy
        nh, nw = math.ceil(hl / sp) + 4, math.ceil(wl * sy / sx / sp) + 4
        nodes = torch.randn((b, 1, nh, nw), generator=generator, device=gdev, dtype=torch.float32).to(dev)
        phase = torch.rand((b, 2), generator=generator, device=gdev, dtype=torch.float32).to(dev)
        gx = (
            (torch.arange(wl, device=dev, dtype=dt) * sx / sy / sp)[None, None, :]
            + 1
            + phase[:, None, None, :1].squeeze(-1)
        )
        gy = (
            (torch.arange(hl, device=dev, dtype=dt) / sp)[None, :, None]
            + 1
            + phase[:, None, None, 1:].squeeze(-1)
        )
        grid = torch.stack(
            [(2 * gx / (nw - 1) - 1).expand(b, hl, wl), (2 * gy / (nh - 1) - 1).expand(b, hl, wl)], -1
        )
        return F.grid_sample(nodes, grid, mode="bicubic", align_corners=True)

    img = image.to(dt)  # linear, in [0, 1] (sources give it so; not clamped again: a full-resolution pass)
    lum = img[:, 0:1] * _LUMA[0]
    lum.add_(img[:, 1:2], alpha=_LUMA[1]).add_(img[:, 2:3], alpha=_LUMA[2])
    logl = lum.clamp(min=1e-4).log_()
    lum_q = F.adaptive_avg_pool2d(lum, (hl, wl)) if (h % 4 or w % 4) else F.avg_pool2d(lum, 4)
    lum_q = lum_q.clamp(min=1e-4)

    # shading / albedo: I = A * S (S normalised to mean 1 over the window: a scalar)
    shading = _blur_px(lum_q, cfg.shading_scale, sy)
    shading = (shading / shading.mean((2, 3), keepdim=True)).clamp(0.25, 4.0)

    # ambient: soft coloured illumination field, stationary in px (lattice + ramp squashed into [e_min, 1])
    ambient_kelvin = logu(*cfg.ambient_kelvin)
    c_a = blackbody_rgb(ambient_kelvin).to(dev, dt)
    tint = 10 ** u(-cfg.tint, cfg.tint)
    c_a = c_a * torch.stack([torch.ones_like(tint), tint, torch.ones_like(tint)], 1)
    c_a = c_a / c_a.amax(1, keepdim=True)
    z = 0.8 * lattice(cfg.ambient_scale) + 2.0 * ramp(u(0.0, 2 * math.pi), u(-0.5, 0.5))
    e_min = col(u(*cfg.ambient_min))
    e_a = e_min + (1 - e_min) * torch.sigmoid(z + 1.0)

    # flash: depth proxy (a plane in log depth plus "bright is near"), inverse-square falloff
    near = _blur_px(lum_q, cfg.depth_scale, sy).clamp(0, 1) ** (1 / 2.2)
    plane = torch.log1p(col(u(*cfg.plane_strength))) * ramp(u(0.0, 2 * math.pi), torch.zeros(b, device=dev))
    log_depth = plane + torch.log1p(col(u(*cfg.luma_depth)) * (1 - near))
    log_falloff = -2 * log_depth  # (1 / d)^2; its scale is absorbed by k

    # Lambert term and specular hot spot from a bump map (light at the camera); gradients in full-res px
    bump = F.avg_pool2d(F.pad(lum_q, (1, 1, 1, 1), mode="replicate"), 3, stride=1) * col(u(*cfg.bump))
    gx = F.pad(bump[..., :, 2:] - bump[..., :, :-2], (1, 1, 0, 0), mode="replicate") / (2 * sx)
    gy = F.pad(bump[..., 2:, :] - bump[..., :-2, :], (0, 0, 1, 1), mode="replicate") / (2 * sy)
    nx, ny = -gx + col(u(-0.3, 0.3)), -gy + col(u(-0.3, 0.3))  # tilted base plane
    norm = torch.sqrt(nx**2 + ny**2 + 1)
    f = ref / 2  # 90-degree field of view over the reference frame; the window at a random place of it
    vx = xq[None, None, None, :] + col(u(-ref / 4, ref / 4))
    vy = yq[None, None, :, None] + col(u(-ref / 4, ref / 4))
    n_dot_v = ((-nx * vx - ny * vy + f) / torch.sqrt(vx**2 + vy**2 + f**2) / norm).clamp(min=0)
    gloss = torch.sigmoid(2.0 * lattice(cfg.ambient_scale) - 1.0)
    spec = col(u(*cfg.specular)) * gloss * n_dot_v ** col(logu(*cfg.shininess))

    # hard shadows cast at depth edges by a flash beside the lens (screen-space test, quarter resolution)
    shift_px = u(*cfg.shadow_shift) * ref
    near_q = lum_q.clamp(0, 1) ** (1 / 2.2)  # unblurred: the 4x4 area average is the only blur
    score = _shadow_score(near_q * col(shift_px / sx), shift_px / sx, u(0.0, 2 * math.pi))
    shadow_strength = col(u(*cfg.shadow_strength))

    # detail bands of log L: fine h_f = log L - G_3, mid h_m = G_3 - G_24 (G_3 at half resolution, G_24
    # and the mid band's own shading at quarter resolution); the flash keeps rho of each band as albedo
    # and adds its own shading detail (the band's relief lit from the side), std beta x the band's std
    rho_f, rho_m = col(u(*cfg.albedo_detail)), col(u(*cfg.albedo_mid))
    beta_f, beta_m = u(*cfg.relief_detail), u(*cfg.relief_mid)
    angle = u(0.0, 2 * math.pi)
    logl_h = F.avg_pool2d(logl, 2, ceil_mode=True)
    g3_h = _gaussian(logl_h, math.sqrt(cfg.detail_sigma**2 - 1 / 3) / 2)
    g3_q = F.interpolate(g3_h, size=(hl, wl), mode="area")
    g24_q = _blur_px(g3_q, math.sqrt(cfg.mid_sigma**2 - cfg.detail_sigma**2), sy)
    h_m = g3_q - g24_q
    relief_m = _directional(h_m, angle, 1)
    relief_m = relief_m * col(beta_m * _std(h_m) / _std(relief_m))
    # log of the flash's smooth factor: (1 - rho_m) G_24 + own mid shading - log S + log falloff + log cos
    low = (1 - rho_m) * g24_q + relief_m - shading.log() + log_falloff - norm.log()
    # the smooth fields go to full resolution: the flash factor via the half grid (where G_3 joins it)
    half = (
        F.interpolate(low, size=g3_h.shape[-2:], mode="bilinear", align_corners=False)
        + (rho_m - rho_f) * g3_h
    )
    fields = F.interpolate(
        torch.cat([e_a, spec * torch.exp(log_falloff), score], 1),
        size=(h, w),
        mode="bilinear",
        align_corners=False,
    )
    e_a_f, spec_f, score_f = fields[:, 0:1], fields[:, 1:2], fields[:, 2:3]
    shadow = (score_f > 0).to(dt)
    # keep exp in range (the factor's scale is normalised by k below; the full-resolution terms are bounded:
    # log L >= log 1e-4)
    half = half - half.amax((2, 3), keepdim=True)
    logf = F.interpolate(half, size=(h, w), mode="bilinear", align_corners=False)
    relief_f = _directional(logl, angle + math.pi / 2, 2)
    # the fine band's std from the half-resolution detail log L - G_3 (a proxy: the relief's size is set
    # relative to it, and beta_f is calibrated with this proxy)
    fine_std = _std(logl_h - g3_h)
    logf = logf.add_(logl * (rho_f - 1)).add_(relief_f.mul_(col(beta_f * fine_std / _std(relief_f, 2))))
    diffuse = logf.exp_().mul_(1 - shadow_strength * shadow)
    flash = img * diffuse
    # the hot spot is coloured like the flash, not the albedo (scaled to twice the mean diffuse flash)
    flash = flash.add_(spec_f * (1 - shadow) * (2 * flash.mean((1, 2, 3), keepdim=True)))
    # k normalises the mean flash luminance (a per-channel linear function of the channel means)
    flash_kelvin = u(*cfg.flash_kelvin)
    c_f = blackbody_rgb(flash_kelvin).to(dev, dt)
    lum_w = torch.tensor(_LUMA, device=dev, dtype=dt)
    k = u(*cfg.flash_mean) / ((flash.mean((2, 3)) * c_f) @ lum_w).clamp(min=1e-9)
    flash = flash.mul_((c_f * k[:, None])[:, :, None, None]).clamp_(0, 1)

    # ambient = I * E_a * c(T_a), plus light sources (emissive, at the ambient's colour; see the docstring)
    ambient = torch.mul(img, e_a_f).mul_(c_a[:, :, None, None])
    has_lights = draws[:, next(slot)] < cfg.light_share
    lights = torch.zeros((b, 1, h, w), device=dev, dtype=dt)
    if cfg.light_share > 0 and bool(has_lights.any()):
        lights = _lights(cfg, b, h, w, has_lights, generator, dev, dt)
        ambient = ambient.add_(lights * c_a[:, :, None, None])
    falloff = torch.exp(log_falloff - log_falloff.flatten(1).amax(1)[:, None, None, None])
    if details:
        falloff = F.interpolate(falloff, size=(h, w), mode="bilinear", align_corners=False)
    return {
        "ambient": ambient,
        "flash_only": flash,
        "shadow": shadow,
        "falloff": falloff,
        "lights": lights,
        "ambient_kelvin": ambient_kelvin,
        "flash_kelvin": flash_kelvin,
        "shadow_shift_px": shift_px,
        "has_lights": has_lights,
    }


def _lights(
    cfg: FlashSynthesis, b: int, h: int, w: int, has_lights: Tensor, generator: torch.Generator, dev, dt
) -> Tensor:
    """The emissive luminance ``(B, 1, h, w)`` (ambient units) of the samples with lights: ``light_count``
    source slots (core + glow) and as many highlight slots, each present with probability 1/2, placed
    uniformly over a ``reference_size`` square about the window's centre (so a crop sees the density of
    lights a larger crop of the same scene sees)."""
    n = int(cfg.light_count)
    r = torch.rand((b, 2 * n, 6), generator=generator, device=generator.device, dtype=torch.float32).to(
        dev, dt
    )
    on = (r[..., 0] < 0.5) & has_lights[:, None]
    ref = float(cfg.reference_size)
    centres = torch.stack([w / 2 + (r[..., 1] - 0.5) * ref, h / 2 + (r[..., 2] - 0.5) * ref], -1)

    def logu(x: Tensor, lo: float, hi: float) -> Tensor:
        return torch.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * x)

    radius = logu(r[..., 3], *cfg.light_radius)
    peak = logu(r[..., 4], *cfg.light_peak)
    radius[:, n:] *= 0.5  # highlights: smaller, dimmer, no glow
    peak[:, n:] *= 0.1
    glow_peak = peak[:, :n] * logu(r[:, :n, 5], *cfg.glow)
    glow_radius = radius[:, :n] * logu(r[:, :n, 3].flip(1), *cfg.glow_radius)
    peaks = torch.cat([peak, glow_peak], 1) * torch.cat([on, on[:, :n]], 1).to(dt)
    return _gaussian_spots(
        h, w, torch.cat([centres, centres[:, :n]], 1), torch.cat([radius, glow_radius], 1), peaks
    )
