"""Raw sensor data: unprocessing of sRGB images to synthetic raw (Brooks et al. CVPR 2019, NOTES
"Unprocessing"), a simple forward ISP, Bayer / X-Trans mosaics and packing, black/white levels and the SID
amplification (paper 004 sec. 3.2-3.3, NOTES "SID").

Colour indices in CFA tables: 0 = R, 1 = G, 2 = B.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .color import XYZ_FROM_SRGB, apply_color_matrix
from .srgb import _batch_param, _check_bchw, _check_tensor, gamma_compress, gamma_expand

__all__ = [
    "BAYER_PATTERNS",
    "UNPROCESS_XYZ_TO_CAMERA",
    "XTRANS_CFA",
    "XTRANS_PACKED_COLORS",
    "amplification_ratio",
    "amplify",
    "inverse_smoothstep",
    "mosaic",
    "mosaic_bayer",
    "mosaic_xtrans",
    "normalize_levels",
    "pack_bayer",
    "pack_xtrans",
    "process",
    "render_camera_rgb",
    "sample_sensor_noise",
    "sample_unprocessing_noise",
    "sample_unprocessing_params",
    "smoothstep",
    "unpack_bayer",
    "unpack_xtrans",
    "unprocess",
    "white_balance_gains",
]

# 2x2 Bayer tiles, raster order over (row, col) = (0,0), (0,1), (1,0), (1,1).
BAYER_PATTERNS = {
    "RGGB": (0, 1, 1, 2),
    "BGGR": (2, 1, 1, 0),
    "GRBG": (1, 0, 2, 1),
    "GBRG": (1, 2, 0, 1),
}

# Fujifilm X-Trans 6x6 CFA (the layout of the X-Trans sensors, e.g. in SID's Fuji X-T2 set, up to the phase
# at which a crop starts). It is made of four 3x3 blocks: G on the corners and centre of every block, and on
# the cross positions B above/below and R left/right of the centre in the top-left and bottom-right blocks,
# R and B swapped in the other two. 20 G, 8 R, 8 B per tile.
XTRANS_CFA = torch.tensor(
    [
        [1, 2, 1, 1, 0, 1],
        [0, 1, 0, 2, 1, 2],
        [1, 2, 1, 1, 0, 1],
        [1, 0, 1, 1, 2, 1],
        [2, 1, 2, 0, 1, 0],
        [1, 0, 1, 1, 2, 1],
    ]
)
# Colour of each channel of :func:`pack_xtrans`: channel 3 i + j is position (i, j) of the canonical 3x3 block
# G B G / R G R / G B G.
XTRANS_PACKED_COLORS = (1, 2, 1, 0, 1, 0, 1, 2, 1)
# In blocks whose (block row + block column) is odd, these within-block positions are exchanged (diagonally
# adjacent pixels) so every block reads as the canonical one: (0,1)<->(1,0), (2,1)<->(1,2) as channel indices.
_XTRANS_SWAP = (0, 3, 2, 1, 4, 7, 6, 5, 8)

# XYZ -> camera matrices of four cameras used for unprocessing (NOTES "Unprocessing"; DNG calibration data as
# listed by Brooks et al.), convex-combined at random.
UNPROCESS_XYZ_TO_CAMERA = torch.tensor(
    [
        [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
        [[0.4913, -0.0541, -0.0202], [-0.6130, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
        [[0.8380, -0.2630, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
        [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.0970, 0.1581, 0.5181]],
    ],
    dtype=torch.float64,
)


# ----------------------------------------------------------------------------------------------------------
# tone curve
def smoothstep(x: Tensor) -> Tensor:
    r"""Global tone curve ``3 x^2 - 2 x^3`` on ``x`` clipped to ``[0, 1]`` (NOTES "Unprocessing").

    Example:
        >>> smoothstep(torch.tensor([0.0, 0.5, 1.0]))
        tensor([0.0000, 0.5000, 1.0000])
    """
    x = _check_tensor(x, "x").clamp(0.0, 1.0)
    return 3.0 * x**2 - 2.0 * x**3


def inverse_smoothstep(x: Tensor) -> Tensor:
    r"""Inverse of :func:`smoothstep`: ``0.5 - sin(asin(1 - 2 x) / 3)`` (NOTES "Unprocessing").

    The argument of ``asin`` is kept inside ``(-1, 1)`` by 1e-6 so gradients stay finite at 0 and 1.

    Example:
        >>> inverse_smoothstep(smoothstep(torch.tensor([0.2, 0.7])))
        tensor([0.2000, 0.7000])
    """
    x = _check_tensor(x, "x")
    y = torch.clamp(1.0 - 2.0 * x, -1.0 + 1e-6, 1.0 - 1e-6)
    return 0.5 - torch.sin(torch.asin(y) / 3.0)


# ----------------------------------------------------------------------------------------------------------
# unprocessing (Brooks et al.) and the forward ISP
def sample_unprocessing_params(
    batch: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> dict[str, Tensor]:
    r"""Random camera parameters for :func:`unprocess` (NOTES "Unprocessing").

    ``rgb2cam``: a random convex combination (uniform weights, normalised) of
    :data:`UNPROCESS_XYZ_TO_CAMERA` times sRGB->XYZ, rows normalised to sum 1; ``cam2rgb`` its inverse;
    ``rgb_gain = 1 / N(0.8, 0.1)``, ``red_gain ~ U(1.9, 2.4)``, ``blue_gain ~ U(1.5, 1.9)``.

    Returns:
        ``rgb2cam``, ``cam2rgb``: ``(B, 3, 3)``; ``rgb_gain``, ``red_gain``, ``blue_gain``: ``(B,)``.

    Example:
        >>> meta = sample_unprocessing_params(2, torch.Generator().manual_seed(0))
        >>> torch.allclose(meta["rgb2cam"].sum(-1), torch.ones(2, 3))
        True
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    w = torch.rand((batch, 4), generator=generator, device=device, dtype=torch.float64) + 1e-8
    w = w / w.sum(1, keepdim=True)
    xyz2cam = torch.einsum("bk,kij->bij", w, UNPROCESS_XYZ_TO_CAMERA.to(w.device))
    rgb2cam = xyz2cam @ XYZ_FROM_SRGB.to(w.device)
    rgb2cam = rgb2cam / rgb2cam.sum(-1, keepdim=True)
    cam2rgb = torch.linalg.inv(rgb2cam)
    rgb_gain = 1.0 / (0.8 + 0.1 * torch.randn((batch,), generator=generator, device=device, dtype=dtype))
    red_gain = 1.9 + 0.5 * torch.rand((batch,), generator=generator, device=device, dtype=dtype)
    blue_gain = 1.5 + 0.4 * torch.rand((batch,), generator=generator, device=device, dtype=dtype)
    return {
        "rgb2cam": rgb2cam.to(dtype),
        "cam2rgb": cam2rgb.to(dtype),
        "rgb_gain": rgb_gain,
        "red_gain": red_gain,
        "blue_gain": blue_gain,
    }


def white_balance_gains(meta: dict[str, Tensor], like: Tensor) -> Tensor:
    r"""The forward gains ``(B, 3)`` of :func:`process`: ``rgb_gain * (red_gain, 1, blue_gain)``.

    Example:
        >>> meta = {"red_gain": torch.tensor([2.0]), "blue_gain": torch.tensor([1.5]),
        ...         "rgb_gain": torch.tensor([1.25])}
        >>> white_balance_gains(meta, torch.zeros(1))
        tensor([[2.5000, 1.2500, 1.8750]])
    """
    b = len(like)
    red = _batch_param(meta["red_gain"], "meta['red_gain']", b, like, ndim=1)
    blue = _batch_param(meta["blue_gain"], "meta['blue_gain']", b, like, ndim=1)
    rgb = _batch_param(meta["rgb_gain"], "meta['rgb_gain']", b, like, ndim=1)
    return torch.stack([red, torch.ones_like(red), blue], 1) * rgb[:, None]  # (B, 3) forward gains


def _check_meta(meta: object) -> dict[str, Tensor]:
    if not isinstance(meta, dict):
        raise TypeError(f"meta must be a dict, got {type(meta).__name__}")
    missing = {"rgb2cam", "cam2rgb", "rgb_gain", "red_gain", "blue_gain"} - set(meta)
    if missing:
        raise ValueError(f"meta is missing keys {sorted(missing)}")
    return meta


def unprocess(
    srgb: Tensor,
    generator: torch.Generator | None = None,
    meta: dict[str, Tensor] | None = None,
    highlight_inflection: float = 0.9,
) -> tuple[Tensor, dict[str, Tensor]]:
    r"""sRGB image -> linear camera RGB with inverted white balance (Brooks et al., NOTES "Unprocessing").

    Steps: :func:`inverse_smoothstep`; gamma expansion ``max(x, 1e-8)^2.2``; ``rgb2cam``; inverse gains
    ``g^-1 = (1 / red_gain, 1, 1 / blue_gain) / rgb_gain`` with highlight preservation (with
    ``gray = mean_c(x)``, ``m = (max(gray - t, 0) / (1 - t))^2`` and ``t = highlight_inflection``, the gain
    applied is ``max(m + (1 - m) g^-1, g^-1)``, so bright pixels are not darkened into false non-clipped
    values); clip to ``[0, 1]``. Mosaic with :func:`mosaic_bayer` afterwards if a CFA image is needed.

    Args:
        srgb: ``(B, 3, H, W)`` sRGB image in ``[0, 1]``.
        generator: random generator for the parameters (ignored when ``meta`` is given).
        meta: parameters from :func:`sample_unprocessing_params` to reuse (e.g. for a pair of images).
        highlight_inflection: t above.

    Returns:
        ``(raw_rgb, meta)``: ``(B, 3, H, W)`` linear camera RGB in ``[0, 1]`` and the parameters dict.

    Example:
        >>> raw, meta = unprocess(torch.full((1, 3, 4, 4), 0.5), torch.Generator().manual_seed(0))
        >>> raw.shape, sorted(meta)
        (torch.Size([1, 3, 4, 4]), ['blue_gain', 'cam2rgb', 'red_gain', 'rgb2cam', 'rgb_gain'])
    """
    srgb = _check_bchw(srgb, "srgb", 3)
    if meta is None:
        meta = sample_unprocessing_params(len(srgb), generator, srgb.device, srgb.dtype)
    meta = _check_meta(meta)
    x = gamma_expand(inverse_smoothstep(srgb), 2.2)
    x = apply_color_matrix(x, meta["rgb2cam"])
    inv_gains = (1.0 / white_balance_gains(meta, x))[..., None, None]  # (B, 3, 1, 1)
    gray = x.mean(1, keepdim=True)
    mask = (torch.clamp(gray - highlight_inflection, min=0.0) / (1.0 - highlight_inflection)) ** 2
    safe = torch.maximum(mask + (1.0 - mask) * inv_gains, inv_gains)
    return torch.clamp(x * safe, 0.0, 1.0), meta


def process(
    raw_rgb: Tensor,
    meta: dict[str, Tensor],
    apply_brightness: bool = True,
    tone_curve: bool = True,
) -> Tensor:
    r"""Simple forward ISP: WB gains, clip, ``cam2rgb``, clip, gamma ``1/2.2``, optional smoothstep.

    The inverse of :func:`unprocess` away from clipping and highlights when called with the same ``meta``.
    Brooks et al.'s own forward ISP applies only the red/blue gains and no tone curve (NOTES:
    ``apply_brightness=False, tone_curve=False``); the defaults here invert :func:`unprocess` fully.
    Demosaic first (this takes full RGB).

    Args:
        raw_rgb: ``(B, 3, H, W)`` linear camera RGB.
        meta: dict as returned by :func:`unprocess`.
        apply_brightness: multiply by ``rgb_gain`` as well as the red/blue gains.
        tone_curve: apply :func:`smoothstep` at the end.

    Returns:
        ``(B, 3, H, W)`` sRGB in ``[0, 1]``.

    Example:
        >>> x = torch.full((1, 3, 2, 2), 0.5)
        >>> raw, meta = unprocess(x, torch.Generator().manual_seed(0))
        >>> torch.allclose(process(raw, meta), x, atol=1e-4)
        True
    """
    raw_rgb = _check_bchw(raw_rgb, "raw_rgb", 3)
    meta = _check_meta(meta)
    gains = white_balance_gains(meta, raw_rgb)
    if not apply_brightness:
        gains = gains / _batch_param(meta["rgb_gain"], "meta['rgb_gain']", len(raw_rgb), raw_rgb, 2)
    return render_camera_rgb(raw_rgb, gains, meta["cam2rgb"], tone_curve)


def render_camera_rgb(
    raw_rgb: Tensor, wb_gains: Tensor, cam2rgb: Tensor, tone_curve: bool | Tensor = False
) -> Tensor:
    r"""The forward ISP after demosaicking (NOTES "Unprocessing"): white-balance gains, clip, ``cam2rgb``,
    clip, gamma ``1/2.2``, and where ``tone_curve`` the :func:`smoothstep` tone curve.

    :func:`process` is this with the gains and matrix of an :func:`unprocess` ``meta``; a real camera's
    rendering passes the gains and matrix read from its raw file (``tone_curve=False``: LibRaw, which
    renders SID's references, applies no tone curve).

    Args:
        raw_rgb: ``(B, 3, H, W)`` linear camera RGB (demosaicked).
        wb_gains: ``(B, 3)`` per-channel gains (white balance times any brightness gain).
        cam2rgb: ``(B, 3, 3)`` or ``(3, 3)`` camera RGB -> linear sRGB.
        tone_curve: bool, or ``(B,)`` with 1 where the sample gets the tone curve and 0 where not.

    Returns:
        ``(B, 3, H, W)`` sRGB in ``[0, 1]``.

    Example:
        >>> x = torch.full((1, 3, 1, 1), 0.25)
        >>> render_camera_rgb(x, torch.tensor([[2.0, 2.0, 2.0]]), torch.eye(3)).flatten()
        tensor([0.7297, 0.7297, 0.7297])
    """
    raw_rgb = _check_bchw(raw_rgb, "raw_rgb", 3)
    wb_gains = _check_tensor(wb_gains, "wb_gains")
    if wb_gains.shape != (len(raw_rgb), 3):
        raise ValueError(f"wb_gains must have shape ({len(raw_rgb)}, 3), got {tuple(wb_gains.shape)}")
    x = torch.clamp(raw_rgb * wb_gains.to(raw_rgb)[..., None, None], 0.0, 1.0)
    x = torch.clamp(apply_color_matrix(x, cam2rgb), 0.0, 1.0)
    x = gamma_compress(x, 2.2)
    if isinstance(tone_curve, Tensor):
        on = _batch_param(tone_curve, "tone_curve", len(x), x) > 0.5
        return torch.where(on, smoothstep(x), x)
    return smoothstep(x) if tone_curve else x


def sample_unprocessing_noise(
    batch: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    r"""Brooks et al.'s noise levels (NOTES "Unprocessing"), as STDs for :func:`add_heteroscedastic_noise`.

    Natural logs: ``log(shot_var) ~ U(log 1e-4, log 0.012)``, ``log(read_var) = 2.18 log(shot_var) + 1.20 +
    N(0, 0.26)`` (0.26 is the std). Returns ``std_read = sqrt(read_var)``, ``std_shot = sqrt(shot_var)``,
    so the noise variance at intensity x is ``read_var + shot_var x``.

    Returns:
        ``(std_read, std_shot)``, each ``(B,)``.

    Example:
        >>> r, s = sample_unprocessing_noise(3, torch.Generator().manual_seed(0))
        >>> bool(((s**2 >= 1e-4 - 1e-9) & (s**2 <= 0.012 + 1e-9)).all())
        True
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    lo, hi = torch.log(torch.tensor([1e-4, 0.012], dtype=torch.float64)).tolist()
    log_shot = lo + (hi - lo) * torch.rand((batch,), generator=generator, device=device, dtype=dtype)
    log_read = (
        2.18 * log_shot + 1.20 + 0.26 * torch.randn((batch,), generator=generator, device=device, dtype=dtype)
    )
    return torch.exp(0.5 * log_read), torch.exp(0.5 * log_shot)


def sample_sensor_noise(
    batch: int,
    gain_range: tuple[float, float] = (0.2, 8.0),
    span: float = 16383.0 - 512.0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    r"""Noise of one capture of a large-pixel 14-bit sensor (a rounded Sony alpha 7S II-like model, our
    choice; SID's Sony set was shot with that camera), as STDs in normalised raw units (``DN / span``).

    The analogue gain ``K`` (DN per photo-electron, i.e. the ISO) is drawn log-uniformly from ``gain_range``
    (0.2 to 8 DN/e-: roughly ISO 250 to 10000 for a unity gain near ISO 1250). A signal of ``x`` normalised
    units holds ``x span / K`` electrons, so the Poisson shot variance is ``K x / span``:
    ``std_shot = sqrt(K / span)``. Read noise: 1.5 electrons before the amplifier and 1.5 DN after it,
    ``std_read = sqrt((1.5 K)^2 + 1.5^2) / span``, times a log-normal spread ``exp(N(0, 0.2))``.
    Brooks et al.'s levels (:func:`sample_unprocessing_noise`) describe a normally exposed phone capture; a
    dark capture of 1/100 to 1/300 of the exposure needs the photon statistics of the sensor itself.

    Returns:
        ``(std_read, std_shot)``, each ``(B,)``.

    Example:
        >>> r, s = sample_sensor_noise(4, generator=torch.Generator().manual_seed(0))
        >>> bool(((s**2 * 15871 >= 0.2 - 1e-4) & (s**2 * 15871 <= 8.0 + 1e-4)).all())
        True
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    lo, hi = float(gain_range[0]), float(gain_range[1])
    if not 0 < lo <= hi:
        raise ValueError(f"gain_range must be 0 < low <= high, got {tuple(gain_range)}")
    if span <= 0:
        raise ValueError(f"span must be > 0, got {span}")
    u = torch.rand((batch,), generator=generator, device=device, dtype=torch.float64)
    gain = torch.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * u)
    spread = torch.exp(0.2 * torch.randn((batch,), generator=generator, device=device, dtype=torch.float64))
    std_read = torch.sqrt((1.5 * gain) ** 2 + 1.5**2) * spread / span
    std_shot = torch.sqrt(gain / span)
    return std_read.to(dtype), std_shot.to(dtype)


# ----------------------------------------------------------------------------------------------------------
# mosaics and packing
def mosaic(rgb: Tensor, cfa: Tensor) -> Tensor:
    r"""Sample RGB ``(B, 3, H, W)`` through a periodic CFA tile ``(h, w)`` of colour indices.

    ``H`` and ``W`` must be multiples of the tile size. Differentiable.

    Example:
        >>> rgb = torch.arange(3.0)[None, :, None, None].expand(1, 3, 2, 2)
        >>> mosaic(rgb, torch.tensor([[0, 1], [1, 2]]))[0, 0]
        tensor([[0., 1.],
                [1., 2.]])
    """
    rgb = _check_bchw(rgb, "rgb", 3)
    cfa = _check_tensor(cfa, "cfa")
    if cfa.ndim != 2:
        raise ValueError(f"cfa must have shape (h, w), got {tuple(cfa.shape)}")
    th, tw = cfa.shape
    b, _, h, w = rgb.shape
    if h % th or w % tw:
        raise ValueError(f"rgb height and width must be multiples of the CFA tile {th}x{tw}, got {h}x{w}")
    idx = cfa.to(rgb.device, torch.long).repeat(h // th, w // tw)
    return torch.gather(rgb, 1, idx.expand(b, 1, h, w))


def mosaic_bayer(rgb: Tensor, pattern: str = "RGGB") -> Tensor:
    r"""Bayer mosaic: ``(B, 3, H, W)`` -> ``(B, 1, H, W)``, H and W even (NOTES "Unprocessing": RGGB).

    Args:
        rgb: ``(B, 3, H, W)``.
        pattern: one of ``"RGGB"``, ``"BGGR"``, ``"GRBG"``, ``"GBRG"`` (2x2 tile in raster order).

    Example:
        >>> rgb = torch.arange(3.0)[None, :, None, None].expand(1, 3, 2, 2)
        >>> mosaic_bayer(rgb)[0, 0]
        tensor([[0., 1.],
                [1., 2.]])
    """
    if pattern not in BAYER_PATTERNS:
        raise ValueError(f"pattern must be one of {sorted(BAYER_PATTERNS)}, got {pattern!r}")
    return mosaic(rgb, torch.tensor(BAYER_PATTERNS[pattern]).reshape(2, 2))


def mosaic_xtrans(rgb: Tensor) -> Tensor:
    r"""X-Trans mosaic with :data:`XTRANS_CFA`: ``(B, 3, H, W)`` -> ``(B, 1, H, W)``, H and W multiples of 6.

    Example:
        >>> mosaic_xtrans(torch.rand(1, 3, 6, 12)).shape
        torch.Size([1, 1, 6, 12])
    """
    return mosaic(rgb, XTRANS_CFA)


def _check_raw(raw: object, name: str, multiple: int) -> Tensor:
    raw = _check_bchw(raw, name, 1)
    if raw.shape[-2] % multiple or raw.shape[-1] % multiple:
        raise ValueError(
            f"{name} height and width must be multiples of {multiple}, got shape {tuple(raw.shape)}"
        )
    return raw


_BAYER_ORDERS = {"raster": (0, 1, 2, 3), "sid": (0, 1, 3, 2)}


def pack_bayer(raw: Tensor, order: str = "raster") -> Tensor:
    r"""Pack a Bayer mosaic ``(B, 1, H, W)`` into ``(B, 4, H/2, W/2)`` (paper 004 sec. 3.2, Fig. 3b).

    Channel order (default is our choice): ``"raster"`` = tile positions (0,0), (0,1), (1,0), (1,1),
    i.e. R, G, G, B for RGGB; ``"sid"`` = (0,0), (0,1), (1,1), (1,0), i.e. R, G, B, G (SID's code).

    Example:
        >>> pack_bayer(torch.arange(16.0).reshape(1, 1, 4, 4))[0, :, 0, 0]
        tensor([0., 1., 4., 5.])
    """
    raw = _check_raw(raw, "raw", 2)
    if order not in _BAYER_ORDERS:
        raise ValueError(f"order must be one of {sorted(_BAYER_ORDERS)}, got {order!r}")
    out = torch.nn.functional.pixel_unshuffle(raw, 2)  # raster order
    return out[:, list(_BAYER_ORDERS[order])]


def unpack_bayer(packed: Tensor, order: str = "raster") -> Tensor:
    r"""Inverse of :func:`pack_bayer`: ``(B, 4, H/2, W/2)`` -> ``(B, 1, H, W)``.

    Example:
        >>> x = torch.rand(1, 1, 4, 6)
        >>> unpack_bayer(pack_bayer(x)).equal(x)
        True
    """
    packed = _check_bchw(packed, "packed", 4)
    if order not in _BAYER_ORDERS:
        raise ValueError(f"order must be one of {sorted(_BAYER_ORDERS)}, got {order!r}")
    inv = sorted(range(4), key=lambda i: _BAYER_ORDERS[order][i])
    return torch.nn.functional.pixel_shuffle(packed[:, inv], 2)


def pack_xtrans(raw: Tensor) -> Tensor:
    r"""Pack an X-Trans mosaic ``(B, 1, H, W)`` (phase of :data:`XTRANS_CFA`) into ``(B, 9, H/3, W/3)``.

    SID's 9-channel packing (paper 004 sec. 3.2/4: "exchange adjacent elements to create a 3x3 pattern"):
    the image is cut into 3x3 blocks; in blocks with odd (block row + block column) the R and B cross
    positions are exchanged with their diagonal neighbours ((0,1)<->(1,0), (2,1)<->(1,2)) so that every block
    reads G B G / R G R / G B G. Channel ``3 i + j`` holds block position ``(i, j)``; its colour is
    :data:`XTRANS_PACKED_COLORS` ``= (G, B, G, R, G, R, G, B, G)``. (Our layout: SID's code arranges the same
    values differently, so weights trained with it do not transfer.) H and W must be multiples of 6.

    Example:
        >>> pack_xtrans(torch.rand(2, 1, 12, 18)).shape
        torch.Size([2, 9, 4, 6])
    """
    raw = _check_raw(raw, "raw", 6)
    out = torch.nn.functional.pixel_unshuffle(raw, 3)  # (B, 9, H/3, W/3), channel 3 i + j
    return torch.where(_odd_blocks(out), out[:, list(_XTRANS_SWAP)], out)


def unpack_xtrans(packed: Tensor) -> Tensor:
    r"""Inverse of :func:`pack_xtrans`: ``(B, 9, H/3, W/3)`` -> ``(B, 1, H, W)``.

    Example:
        >>> x = torch.rand(1, 1, 6, 12)
        >>> unpack_xtrans(pack_xtrans(x)).equal(x)
        True
    """
    packed = _check_bchw(packed, "packed", 9)
    if packed.shape[-2] % 2 or packed.shape[-1] % 2:
        raise ValueError(f"packed height and width must be even, got shape {tuple(packed.shape)}")
    out = torch.where(_odd_blocks(packed), packed[:, list(_XTRANS_SWAP)], packed)  # the swap is an involution
    return torch.nn.functional.pixel_shuffle(out, 3)


def _odd_blocks(packed: Tensor) -> Tensor:
    h, w = packed.shape[-2:]
    i = torch.arange(h, device=packed.device)[:, None]
    j = torch.arange(w, device=packed.device)[None, :]
    return ((i + j) % 2 == 1)[None, None]


# ----------------------------------------------------------------------------------------------------------
# levels and amplification (SID)
def normalize_levels(
    raw: Tensor, black: float | Tensor, white: float | Tensor, clip_negative: bool = True
) -> Tensor:
    r"""``(raw - black) / (white - black)``, negatives clamped to 0 (NOTES "SID": Sony 512/16383,
    Fuji 1024/16383).

    Args:
        raw: ``(B, C, H, W)`` raw values (any dtype; converted to float32 if not floating).
        black: float or ``(B,)`` black level.
        white: float or ``(B,)`` white level.
        clip_negative: clamp the result at 0 (SID does).

    Example:
        >>> normalize_levels(torch.tensor([[[[512.0, 16383.0, 100.0]]]]), 512, 16383)
        tensor([[[[0., 1., 0.]]]])
    """
    raw = _check_tensor(raw, "raw")
    if not raw.is_floating_point():
        raw = raw.float()
    raw = _check_bchw(raw, "raw")
    blk = _batch_param(black, "black", len(raw), raw)
    wht = _batch_param(white, "white", len(raw), raw)
    if bool((wht <= blk).any()):
        raise ValueError("white must be greater than black")
    out = (raw - blk) / (wht - blk)
    return torch.clamp(out, min=0.0) if clip_negative else out


def amplification_ratio(
    in_exposure: float | Tensor, gt_exposure: float | Tensor, cap: float = 300.0
) -> float | Tensor:
    r"""SID amplification ``min(gt_exposure / in_exposure, cap)`` (NOTES "SID", paper 004 sec. 3.3).

    Returns a float for float inputs, else a tensor.

    Example:
        >>> amplification_ratio(0.1, 10.0), amplification_ratio(0.01, 10.0)
        (100.0, 300.0)
    """
    if isinstance(in_exposure, Tensor) or isinstance(gt_exposure, Tensor):
        return torch.clamp(torch.as_tensor(gt_exposure) / torch.as_tensor(in_exposure), max=cap)
    if in_exposure <= 0:
        raise ValueError(f"in_exposure must be > 0, got {in_exposure}")
    return min(float(gt_exposure) / float(in_exposure), float(cap))


def amplify(raw: Tensor, ratio: float | Tensor) -> Tensor:
    r"""``min(raw * ratio, 1)`` (NOTES "SID").

    Args:
        raw: ``(B, C, H, W)`` normalised raw.
        ratio: float or ``(B,)``.

    Example:
        >>> amplify(torch.tensor([[[[0.001, 0.01]]]]), 300.0)
        tensor([[[[0.3000, 1.0000]]]])
    """
    raw = _check_bchw(raw, "raw")
    r = _batch_param(ratio, "ratio", len(raw), raw)
    return torch.clamp(raw * r, max=1.0)
