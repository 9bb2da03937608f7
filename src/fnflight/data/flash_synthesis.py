r"""Synthetic flash / ambient pairs from one linear photograph.

The public FAID download is dead (NOTES "DeepFnF"), so the flash/no-flash task must also train from ordinary
photos. From one linear image ``I`` (an ordinary photo, i.e. a scene under soft ambient light) we make a
pair that shares albedo but differs in illumination the way real captures do. All fields below are per
sample; ``(x, y)`` are pixel coordinates, ``L`` is luminance, ``G_s`` a Gaussian-like low-pass of scale ``s``
(computed cheaply at low resolution and upsampled bilinearly).

Shading and albedo. The photo is taken as albedo times a shading: ``I = A * S * exp(D)``. ``S`` is a
normalised coarse low-pass of the luminance, ``S = clip(G_c(L) / mean(G_c(L)), 1/4, 4)`` (``c =
shading_scale``, 56 px). ``D`` is the part of the photo's finer luminance detail that is AMBIENT shading, not
albedo: with ``h_f = log L - G_3(log L)`` (the fine band, ``detail_sigma`` 3 px) and ``h_m = G_3(log L) -
G_24(log L)`` (the mid band, ``mid_sigma`` 24 px), ``D = (1 - rho_f) h_f + (1 - rho_m) h_m`` with ``rho_f,
rho_m ~ U(0.2, 0.5)``: a real flash lights the same albedo with other shading, so only a fraction of the
photo's fine detail may repeat in the flash. (The first version took all detail finer than ``H/8`` as albedo:
its flash repeated the photo's own shadows and highlights, and an untrained flash detail transfer gained
+4.4 to +5.6 dB on synthetic pairs against +0.9 to +1.5 dB on the real FAID pairs, with a fine-detail
correlation of 0.98 against 0.70: ``fnflight bench flash-realism``. With ``D`` both match: see
``benchmarks/results/flash_realism.jsonl``.)

Ambient (soft, coloured, spatially varying).
    ``ambient = I * E_a(x, y) * c(T_a) * t``
where ``E_a`` is a smooth illumination field (a random 4x4 log-normal grid upsampled bicubically times a
random linear ramp, normalised to max 1, so ``E_a in [e_min, 1]``), ``c(T)`` the linear-sRGB colour of a
black body at ``T`` kelvin relative to D65 (Kim et al. cubic fit of the Planckian locus -> XYZ -> linear sRGB,
normalised to max channel 1), ``T_a ~ logU(ambient_kelvin)`` (warm: tungsten to neutral) and ``t`` a small
random green/magenta tint. Keeping ``I``'s own shading in the ambient image is deliberate: the photo *is* an
ambient-lit capture.

Flash (neutral, point light next to the lens).
    ``flash_only = k * [A * R * c(T_f) * F(x, y) * cos(x, y) * (1 - s_h * Shadow(x, y))
    + k_s * Gloss * Spec]``
- the flash's own fine shading ``R = exp(beta (h_f(x + 2 px u) - h_f(x)))``: the fine relief lit from another
  direction (``u`` a random unit vector, ``beta ~ U(0.1, 0.2)``);
- depth proxy ``d = 1 + a_p * ramp(x, y) + a_l * (1 - Lb)``: a random plane (``ramp`` in [0, 1] along a random
  direction) plus "bright is near" from the normalised blurred luminance ``Lb``; falloff ``F = (min d / d)^2``
  (inverse square law, nearest point 1);
- ``cos = n_z`` with the normal ``n ∝ (-b dLb/dx, -b dLb/dy, 1)`` of a luminance bump map (Lambert, light at
  the camera); specular ``Spec = max(n . v, 0)^p`` with ``v`` the viewing ray of a 90-degree pinhole camera
  through a plane tilted by a random normal -- the classic flash hot spot -- masked by a smooth random
  glossiness field ``Gloss`` and coloured like the flash (not the albedo);
- hard shadows cast at depth edges: the flash sits beside the lens, so seen from it the scene shifts by a
  parallax ``delta = shift * near`` (``near`` = the quarter-resolution luminance normalised to [0, 1],
  "bright is near"; ``shift ~ U(shadow_shift) * min(H, W)``), and a point is in shadow when a nearer point
  towards the flash rises above its ray to the flash (a screen-space shadow test, ``_shadow_score``; in
  effect the occluder mask shifted by its parallax, minus the occluder). Smooth depth slopes never shadow
  themselves, so shadows fall only beside steep depth edges (silhouettes), on the side away from the flash,
  never as bands across smooth surfaces; the score is upsampled and thresholded (binary, hard edges, smooth
  contours) and darkens the flash by ``s_h`` (some light still bounces in);
- ``T_f ~ U(flash_kelvin)`` (neutral, slightly cool) and ``k`` normalises the mean flash luminance to
  ``U(flash_mean)`` (the FAID flash images are well exposed); the result is clipped to ``[0, 1]``.

Everything is batched ``(B, 3, H, W)``, runs on the input's device, and every random number comes from the
given ``torch.Generator`` (sampled on the generator's device, then moved), so a pair is deterministic given
the generator state. Parameters are returned for manifests and tests.
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

    Attributes:
        ambient_kelvin: log-uniform range of the ambient colour temperature (warm).
        flash_kelvin: uniform range of the flash colour temperature (neutral, slightly cool).
        tint: bound of the ambient green/magenta tint (log10 of the green gain).
        ambient_min: range of the darkest value of the ambient illumination field ``E_a``.
        plane_strength: range of the depth-plane slope ``a_p`` (far side at ``1 + a_p`` times the distance).
        luma_depth: range of the "bright is near" depth term ``a_l``.
        bump: range of the bump-map strength ``b`` (pixels of relief per unit luminance).
        specular: range of the specular weight ``k_s``.
        shininess: log-uniform range of the specular exponent ``p``.
        shadow_shift: range of the shadow offset as a fraction of the image size.
        shadow_strength: range of ``s_h``.
        flash_mean: range of the mean flash-only luminance after normalisation.
        albedo_detail: range of ``rho_f``, the fraction of the photo's fine log-luminance detail (finer than
            ``detail_sigma`` px) the flash keeps as albedo.
        albedo_mid: range of ``rho_m``, the same for the mid band (``detail_sigma`` to ``mid_sigma`` px).
        flash_relief: range of ``beta``, the strength of the flash's own fine shading.
        detail_sigma, mid_sigma: the bands' Gaussian scales in pixels (fixed px: crop-size independent).
        shading_scale: the scale (px) of the coarse shading ``S`` (fixed px, so 128-px training crops and
            448-px test crops see the same statistics; it was ``H/8`` of the crop).
    """

    ambient_kelvin: tuple[float, float] = (2300.0, 5500.0)
    flash_kelvin: tuple[float, float] = (6000.0, 8000.0)
    tint: float = 0.04
    ambient_min: tuple[float, float] = (0.25, 0.8)
    plane_strength: tuple[float, float] = (0.3, 2.0)
    luma_depth: tuple[float, float] = (0.0, 1.0)
    bump: tuple[float, float] = (5.0, 40.0)
    specular: tuple[float, float] = (0.0, 0.6)
    shininess: tuple[float, float] = (20.0, 300.0)
    shadow_shift: tuple[float, float] = (0.02, 0.05)
    shadow_strength: tuple[float, float] = (0.6, 0.95)
    flash_mean: tuple[float, float] = (0.15, 0.35)
    # the photo's own detail that the flash keeps (the rest is taken as ambient shading) and the flash's own
    # fine shading; chosen so that the untrained detail-transfer gain and the fine-detail correlation match
    # the real FAID pairs (fnflight bench flash-realism; benchmarks/results/flash_realism.jsonl)
    albedo_detail: tuple[float, float] = (0.2, 0.5)
    albedo_mid: tuple[float, float] = (0.2, 0.5)
    flash_relief: tuple[float, float] = (0.1, 0.2)
    detail_sigma: float = 3.0
    mid_sigma: float = 24.0
    shading_scale: float = 56.0

    def __call__(self, image: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        return synthesize_flash_pair(image, generator, self)


def _blur3(x: Tensor, times: int) -> Tensor:
    """``times`` passes of the 3x3 binomial blur ``[1, 2, 1]^2 / 16`` (replicate padding), per channel."""
    k = torch.tensor([0.25, 0.5, 0.25], device=x.device, dtype=x.dtype)
    k2 = (k[:, None] * k[None, :]).expand(x.shape[1], 1, 3, 3)
    for _ in range(times):
        x = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k2, groups=x.shape[1])
    return x


def _lowpass(x: Tensor, size: int) -> Tensor:
    """Cheap smooth low-pass: area-downsample to ``size`` on the short side, blur 3x3 twice, upsample."""
    h, w = x.shape[-2:]
    s = size / min(h, w)
    small = F.interpolate(x, size=(max(2, round(h * s)), max(2, round(w * s))), mode="area")
    return F.interpolate(_blur3(small, 2), size=(h, w), mode="bilinear", align_corners=False)


_SHADOW_STEPS = 8  # samples of the shadow ray (t in (0, shift])


def _shadow_score(lum: Tensor, shift: Tensor, direction: Tensor) -> Tensor:
    r"""Screen-space hard-shadow test of a flash beside the lens; ``> 0`` where a pixel is in shadow.

    Seen from a flash offset from the lens the scene shifts by the disparity ``f b / z`` (baseline ``b``),
    near points more. With the "bright is near" proxy ``near = (L - min L) / (max L - min L)`` the disparity
    is ``delta = shift * near`` (``shift`` = the largest parallax). A point ``x`` is in the flash's shadow
    when a nearer point towards the flash rises above the ray to the flash:
    ``max_t delta(x - t u) - delta(x) - t > 0`` for some ``t in (0, shift]`` (``u`` the image direction away
    from the flash). Smooth depth slopes (below 1 px of parallax per px) never shadow themselves, so shadows
    are cast only at steep depth edges (silhouettes), on the side away from the flash, about
    ``shift * (jump of near)`` wide: the occluder's mask shifted by its parallax, minus the occluder.

    Args:
        lum: ``(B, 1, h, w)`` (blurred) luminance.
        shift: ``(B,)`` largest parallax in pixels of ``lum``.
        direction: ``(B,)`` angle of ``u``, radians.

    Returns:
        ``(B, 1, h, w)`` score (continuous: an upsampled score thresholded at 0 has smooth contours).
    """
    b, _, h, w = lum.shape
    lo, hi = lum.amin((2, 3), keepdim=True), lum.amax((2, 3), keepdim=True)
    disp = (lum - lo) / (hi - lo).clamp(min=1e-6) * shift[:, None, None, None]
    steps = torch.arange(1, _SHADOW_STEPS + 1, device=lum.device, dtype=lum.dtype) / _SHADOW_STEPS
    t = shift[:, None] * steps  # (B, S)
    ys = torch.linspace(-1, 1, h, device=lum.device, dtype=lum.dtype)[None, None, :, None]
    xs = torch.linspace(-1, 1, w, device=lum.device, dtype=lum.dtype)[None, None, None, :]
    dx = (-t * torch.cos(direction)[:, None] * 2 / max(w - 1, 1))[:, :, None, None]  # (B, S, 1, 1)
    dy = (-t * torch.sin(direction)[:, None] * 2 / max(h - 1, 1))[:, :, None, None]
    grid = torch.empty((b, _SHADOW_STEPS, h, w, 2), device=lum.device, dtype=lum.dtype)
    grid[..., 0], grid[..., 1] = xs + dx, ys + dy
    along = F.grid_sample(
        disp, grid.flatten(1, 2), mode="bilinear", padding_mode="border", align_corners=True
    )
    along = along.reshape(b, _SHADOW_STEPS, h, w) - t[:, :, None, None]
    return along.amax(1, keepdim=True) - disp


def _gaussian(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of ``(B, 1, H, W)`` (reflect borders; the radius capped by the image)."""
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    py, px = min(radius, x.shape[-2] - 1), min(radius, x.shape[-1] - 1)
    ky, kx = k[radius - py : radius + py + 1], k[radius - px : radius + px + 1]
    x = F.conv2d(F.pad(x, (px, px, 0, 0), mode="reflect"), (kx / kx.sum()).view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, py, py), mode="reflect"), (ky / ky.sum()).view(1, 1, -1, 1))


def _shifted(x: Tensor, dx: Tensor, dy: Tensor) -> Tensor:
    """``x(p + (dx, dy))`` per sample (bilinear, border values outside); ``dx, dy`` ``(B,)`` pixels."""
    b, _, h, w = x.shape
    ys = torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype)[None, :, None]
    xs = torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype)[None, None, :]
    grid = torch.empty((b, h, w, 2), device=x.device, dtype=x.dtype)
    grid[..., 0] = xs + (dx * 2 / max(w - 1, 1))[:, None, None]
    grid[..., 1] = ys + (dy * 2 / max(h - 1, 1))[:, None, None]
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)


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
        dict with ``ambient``, ``flash_only`` ``(B, 3, H, W)`` in ``[0, 1]``, ``shadow`` ``(B, 1, H, W)`` (the
        hard shadow mask), ``falloff`` ``(B, 1, H, W)`` (see ``details``) and the sampled ``ambient_kelvin``,
        ``flash_kelvin`` (B,).

    Example:
        >>> out = synthesize_flash_pair(torch.rand(2, 3, 32, 32), torch.Generator().manual_seed(0))
        >>> out["ambient"].shape, out["flash_only"].shape
        (torch.Size([2, 3, 32, 32]), torch.Size([2, 3, 32, 32]))
    """
    if not isinstance(image, Tensor) or image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"image must be a (B, 3, H, W) tensor, got {getattr(image, 'shape', type(image))}")
    cfg = config or FlashSynthesis()
    b, _, h, w = image.shape
    dev, dt = image.device, image.dtype
    gdev = generator.device

    def u(lo: float, hi: float, *shape: int) -> Tensor:
        r = torch.rand((b, *shape), generator=generator, device=gdev, dtype=torch.float32)
        return (lo + (hi - lo) * r).to(dev, dt)

    def logu(lo: float, hi: float, *shape: int) -> Tensor:
        return torch.exp(u(math.log(lo), math.log(hi), *shape))

    # smooth fields live on a quarter-resolution grid and are upsampled once (cheap on CPU and GPU)
    hl, wl = max(2, (h + 3) // 4), max(2, (w + 3) // 4)

    def up(x: Tensor) -> Tensor:
        return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)

    def ramp() -> Tensor:  # (B, 1, hl, wl) linear ramp in [0, 1] along a random direction
        theta = u(0.0, 2 * math.pi)
        ys = torch.linspace(-1, 1, hl, device=dev, dtype=dt)[:, None]
        xs = torch.linspace(-1, 1, wl, device=dev, dtype=dt)[None, :]
        r = torch.cos(theta)[:, None, None] * xs + torch.sin(theta)[:, None, None] * ys
        lo, hi = r.amin((1, 2), keepdim=True), r.amax((1, 2), keepdim=True)
        return ((r - lo) / (hi - lo).clamp(min=1e-6))[:, None]

    def smooth_field(sigma: float) -> Tensor:  # (B, 1, hl, wl) positive log-normal field from a 4x4 grid
        grid = torch.exp(sigma * torch.randn((b, 1, 4, 4), generator=generator, device=gdev)).to(dev, dt)
        return F.interpolate(grid, size=(hl, wl), mode="bicubic", align_corners=True).clamp(min=1e-3)

    def col(v: Tensor) -> Tensor:
        return v[:, None, None, None]

    img = image.clamp(0, 1)
    # luminance at low resolution: area averaging is linear, so average the channels first (one full-res read)
    img_low = F.interpolate(img, size=(hl, wl), mode="area")
    lum = (0.2126 * img_low[:, 0:1] + 0.7152 * img_low[:, 1:2] + 0.0722 * img_low[:, 2:3]).clamp(min=1e-4)

    # shading / albedo: I = A * S
    shading = _lowpass(lum, max(2, round(min(h, w) / cfg.shading_scale)))
    shading = (shading / shading.mean((2, 3), keepdim=True)).clamp(0.25, 4.0)

    # ambient: soft coloured illumination field
    ambient_kelvin = logu(*cfg.ambient_kelvin)
    c_a = blackbody_rgb(ambient_kelvin).to(dev, dt)
    tint = 10 ** u(-cfg.tint, cfg.tint)
    c_a = c_a * torch.stack([torch.ones_like(tint), tint, torch.ones_like(tint)], 1)
    c_a = c_a / c_a.amax(1, keepdim=True)
    e_a = smooth_field(0.5) * (0.5 + ramp())
    e_a = e_a / e_a.amax((2, 3), keepdim=True)
    e_min = col(u(*cfg.ambient_min))
    e_a = e_min + (1 - e_min) * e_a

    # flash: depth proxy, inverse-square falloff
    lb = _lowpass(lum, 32)
    lo, hi = lb.amin((2, 3), keepdim=True), lb.amax((2, 3), keepdim=True)
    lb = (lb - lo) / (hi - lo).clamp(min=1e-6)
    depth = 1 + col(u(*cfg.plane_strength)) * ramp() + col(u(*cfg.luma_depth)) * (1 - lb)
    falloff = (depth.amin((2, 3), keepdim=True) / depth) ** 2

    # Lambert term and specular hot spot from a bump map (light at the camera); gradients in full-res pixels
    bump = _lowpass(lum, max(8, min(hl, wl))) * col(u(*cfg.bump))
    sy, sx = h / hl, w / wl
    gx = F.pad(bump[..., :, 2:] - bump[..., :, :-2], (1, 1, 0, 0), mode="replicate") / (2 * sx)
    gy = F.pad(bump[..., 2:, :] - bump[..., :-2, :], (0, 0, 1, 1), mode="replicate") / (2 * sy)
    tilt = u(-0.3, 0.3, 2)  # tilt of the base plane normal
    nx, ny = -gx + col(tilt[:, 0]), -gy + col(tilt[:, 1])
    norm = torch.sqrt(nx**2 + ny**2 + 1)
    cos = 1 / norm
    f = max(h, w) / 2  # 90-degree field of view
    ys = ((torch.arange(hl, device=dev, dtype=dt) + 0.5) * sy - h / 2)[:, None]
    xs = ((torch.arange(wl, device=dev, dtype=dt) + 0.5) * sx - w / 2)[None, :]
    vnorm = torch.sqrt(xs**2 + ys**2 + f**2)
    n_dot_v = ((-nx * xs - ny * ys + f) / vnorm / norm).clamp(min=0)  # normal . direction to the camera
    gloss = smooth_field(1.0)
    gloss = gloss / gloss.amax((2, 3), keepdim=True)
    spec = col(u(*cfg.specular)) * gloss * n_dot_v ** col(logu(*cfg.shininess))

    # hard shadows cast at depth edges by a flash beside the lens (screen-space shadow test, low resolution)
    shift_mag = u(*cfg.shadow_shift) * (min(h, w) / sx)  # largest parallax, low-res pixels
    shift_dir = u(0.0, 2 * math.pi)
    score = _shadow_score(lum, shift_mag, shift_dir)  # the 4x4 area average is the only blur
    shadow_strength = col(u(*cfg.shadow_strength))

    flash_kelvin = u(*cfg.flash_kelvin)
    c_f = blackbody_rgb(flash_kelvin).to(dev, dt)
    # the smooth fields go to full resolution in one interpolation call
    fields = [shading, e_a, falloff * cos, spec * falloff, score] + ([falloff] if details else [])
    fields = up(torch.cat(fields, 1)).unbind(1)
    shading_f, e_a_f, diffuse_f, spec_f, score_f = fields[:5]
    shadow = (score_f > 0).to(dt)[:, None]  # binary: hard, smooth-contoured edges
    # ambient = I * E_a * c(T_a): in [0, 1] as every factor is (I clipped, E_a and c_a at most 1)
    ambient = torch.mul(img, e_a_f[:, None]).mul_(c_a[:, :, None, None]).clamp_(0, 1)
    # flash = c_f * k * (A * diffuse * (1 - s_h shadow) + spec * (1 - shadow)),  A = clip(I / S, 0, 1)
    diffuse_f = (diffuse_f * (1 - shadow_strength[:, 0] * shadow[:, 0]))[:, None]
    spec_f = (spec_f * (1 - shadow[:, 0]))[:, None]
    # fine detail (scale detail_sigma px): the photo's fine luminance detail h = log L - G(log L) is part
    # albedo (kept in the flash, a fraction rho) and part ambient shading (removed from the flash); the flash
    # adds its own fine shading, the relief of h lit from another direction (h shifted by one detail_sigma
    # along a random direction, minus h): a real flash lights the same albedo with other fine shading
    logl = (0.2126 * img[:, 0:1] + 0.7152 * img[:, 1:2] + 0.0722 * img[:, 2:3]).clamp(min=1e-4).log()
    smooth = _gaussian(logl, cfg.detail_sigma)
    detail, mid = logl - smooth, smooth - _gaussian(logl, cfg.mid_sigma)  # (B, 1, H, W) each
    rho, rho_mid, relief = col(u(*cfg.albedo_detail)), col(u(*cfg.albedo_mid)), col(u(*cfg.flash_relief))
    angle = u(0.0, 2 * math.pi)
    step = min(cfg.detail_sigma, 2.0)
    relit = _shifted(detail, step * torch.cos(angle), step * torch.sin(angle)) - detail
    fine = torch.exp((rho - 1) * detail + (rho_mid - 1) * mid + relief * relit)
    flash = (
        torch.mul(img, (1 / shading_f)[:, None]).mul_(fine).clamp_(0, 1)
    )  # albedo x the flash's fine shading
    flash = torch.addcmul(spec_f, flash, diffuse_f, out=flash)
    # k normalises the mean flash luminance (a per-channel linear function of the channel means)
    lum_w = torch.tensor([0.2126, 0.7152, 0.0722], device=dev, dtype=dt)
    flash_lum_mean = (flash.mean((2, 3)) * c_f) @ lum_w
    k = u(*cfg.flash_mean) / flash_lum_mean.clamp(min=1e-6)
    flash = flash.mul_((c_f * k[:, None])[:, :, None, None]).clamp_(0, 1)
    falloff = fields[5][:, None] if details else falloff
    return {
        "ambient": ambient,
        "flash_only": flash,
        "shadow": shadow,
        "falloff": falloff,
        "ambient_kelvin": ambient_kelvin,
        "flash_kelvin": flash_kelvin,
    }
