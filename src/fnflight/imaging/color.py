"""Colour: camera RGB -> sRGB rendering (paper 000 sec. 3.3, NOTES "DeepFnF" per-scene colour).

The rendering of paper 000 sec. 3.3 is ``f(Y) = gamma(alpha * C Y)``: a per-sample gain ``alpha`` and a
3x3 colour matrix ``C`` applied per pixel to linear camera RGB, then the sRGB curve. For FAID, ``C`` is built
from the scene's XYZ->camera matrix and EXIF illuminant by :func:`camera_to_srgb_matrix`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .srgb import _batch_param, _check_bchw, _check_tensor, srgb_from_linear

__all__ = [
    "BRADFORD",
    "EXIF_ILLUMINANT_WHITE",
    "SRGB_FROM_XYZ",
    "WHITE_POINTS",
    "XYZ_FROM_SRGB",
    "apply_color_matrix",
    "bradford_adaptation",
    "camera_to_srgb_matrix",
    "render_srgb",
]

# Linear sRGB (D65) -> CIE XYZ, IEC 61966-2-1.
XYZ_FROM_SRGB = torch.tensor(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ],
    dtype=torch.float64,
)
# CIE XYZ -> linear sRGB (D65): the exact inverse of XYZ_FROM_SRGB.
SRGB_FROM_XYZ = torch.linalg.inv(XYZ_FROM_SRGB)
# Bradford cone-response matrix (XYZ -> sharpened LMS).
BRADFORD = torch.tensor(
    [
        [0.8951, 0.2664, -0.1614],
        [-0.7502, 1.7135, 0.0367],
        [0.0389, -0.0685, 1.0296],
    ],
    dtype=torch.float64,
)
# Reference white points as XYZ with Y = 1 (CIE 1931 2-degree observer).
WHITE_POINTS = {
    "A": (1.09850, 1.0, 0.35585),
    "C": (0.98074, 1.0, 1.18232),
    "D50": (0.96422, 1.0, 0.82521),
    "D55": (0.95682, 1.0, 0.92149),
    "D65": (0.95047, 1.0, 1.08883),
}
# EXIF LightSource codes used by FAID (NOTES "DeepFnF"); any other code means D65.
EXIF_ILLUMINANT_WHITE = {17: "A", 19: "C", 20: "D55", 21: "D65", 23: "D50"}


def bradford_adaptation(source_white: Tensor, target_white: Tensor | None = None) -> Tensor:
    r"""Bradford chromatic adaptation matrix ``M = B^-1 diag(B w_t / B w_s) B`` (XYZ -> XYZ).

    Args:
        source_white: ``(3,)`` or ``(B, 3)`` XYZ of the source white.
        target_white: ``(3,)`` or ``(B, 3)`` XYZ of the target white; default D65.

    Returns:
        ``(B, 3, 3)`` (or ``(3, 3)`` for unbatched inputs) matrices mapping source-white XYZ to target XYZ.

    Example:
        >>> d65 = torch.tensor(WHITE_POINTS["D65"])
        >>> torch.allclose(bradford_adaptation(d65), torch.eye(3), atol=1e-6)
        True
    """
    source_white = _check_tensor(source_white, "source_white")
    if source_white.shape[-1] != 3 or source_white.ndim not in (1, 2):
        raise ValueError(f"source_white must have shape (3,) or (B, 3), got {tuple(source_white.shape)}")
    dtype = source_white.dtype if source_white.is_floating_point() else torch.float32
    if target_white is None:
        target_white = torch.tensor(WHITE_POINTS["D65"], dtype=torch.float64)
    target_white = _check_tensor(target_white, "target_white").to(source_white.device, dtype)
    bradford = BRADFORD.to(source_white.device, dtype)
    lms_s = source_white.to(dtype) @ bradford.T
    lms_t = target_white @ bradford.T
    scale = torch.diag_embed(lms_t / lms_s)
    return torch.linalg.inv(bradford) @ scale @ bradford


def camera_to_srgb_matrix(xyz_to_camera: Tensor, illuminant_code: int | Tensor = 21) -> Tensor:
    r"""Camera RGB -> linear sRGB matrix from an XYZ->camera matrix and an EXIF illuminant code (NOTES).

    ``M = SRGB_FROM_XYZ @ bradford(w_illuminant -> D65) @ inv(xyz_to_camera)``: camera -> XYZ by solving with
    the given matrix, Bradford adaptation from the EXIF illuminant (17 A, 19 C, 20 D55, 21 D65, 23 D50, any
    other code D65) to D65, then XYZ -> linear sRGB. No row normalisation is applied (choice: NOTES describes
    none; overall brightness is the job of the rendering gain), so a camera response to the illuminant's white
    ``xyz_to_camera @ w`` maps to sRGB ``(1, 1, 1) * Y``.

    Args:
        xyz_to_camera: ``(3, 3)`` or ``(B, 3, 3)`` XYZ -> camera RGB (FAID ``Comment``, row-major).
        illuminant_code: int or ``(B,)`` integer tensor of EXIF ``LightSource`` codes.

    Returns:
        ``(B, 3, 3)`` camera -> linear sRGB matrices (``B = 1`` for an unbatched input), dtype of the input.

    Example:
        >>> m = camera_to_srgb_matrix(SRGB_FROM_XYZ.float(), 21)
        >>> torch.allclose(m, torch.eye(3).expand(1, 3, 3), atol=1e-5)
        True
    """
    xyz_to_camera = _check_tensor(xyz_to_camera, "xyz_to_camera")
    if xyz_to_camera.ndim == 2:
        xyz_to_camera = xyz_to_camera[None]
    if xyz_to_camera.ndim != 3 or xyz_to_camera.shape[-2:] != (3, 3):
        raise ValueError(
            f"xyz_to_camera must have shape (3, 3) or (B, 3, 3), got {tuple(xyz_to_camera.shape)}"
        )
    batch = xyz_to_camera.shape[0]
    dtype = xyz_to_camera.dtype if xyz_to_camera.is_floating_point() else torch.float32
    device = xyz_to_camera.device
    if isinstance(illuminant_code, Tensor):
        codes = [int(c) for c in illuminant_code.reshape(-1).tolist()]
    elif isinstance(illuminant_code, int):
        codes = [illuminant_code]
    else:
        raise TypeError(
            f"illuminant_code must be an int or a (B,) tensor, got {type(illuminant_code).__name__}"
        )
    if len(codes) == 1:
        codes = codes * batch
    if len(codes) != batch:
        raise ValueError(f"illuminant_code must have 1 or {batch} entries, got {len(codes)}")
    whites = torch.tensor(
        [WHITE_POINTS[EXIF_ILLUMINANT_WHITE.get(c, "D65")] for c in codes], dtype=torch.float64, device=device
    )
    adapt = bradford_adaptation(whites)  # (B, 3, 3) float64 for accuracy
    camera_to_xyz = torch.linalg.solve(xyz_to_camera.to(torch.float64), torch.eye(3, dtype=torch.float64))
    m = SRGB_FROM_XYZ.to(device) @ adapt @ camera_to_xyz
    return m.to(dtype)


def apply_color_matrix(image: Tensor, color_matrix: Tensor) -> Tensor:
    r"""Apply a per-sample 3x3 matrix to every pixel: ``out[b, :, y, x] = M[b] @ image[b, :, y, x]``.

    Args:
        image: ``(B, 3, H, W)``.
        color_matrix: ``(B, 3, 3)`` or ``(3, 3)``.

    Returns:
        ``(B, 3, H, W)``.

    Example:
        >>> apply_color_matrix(torch.ones(1, 3, 2, 2), 2 * torch.eye(3)).mean().item()
        2.0
    """
    image = _check_bchw(image, "image", 3)
    color_matrix = _check_tensor(color_matrix, "color_matrix")
    if color_matrix.ndim == 2:
        color_matrix = color_matrix[None]
    if (
        color_matrix.ndim != 3
        or color_matrix.shape[-2:] != (3, 3)
        or color_matrix.shape[0] not in (1, len(image))
    ):
        raise ValueError(
            f"color_matrix must have shape (3, 3) or ({len(image)}, 3, 3), got {tuple(color_matrix.shape)}"
        )
    color_matrix = color_matrix.to(image.dtype).expand(len(image), 3, 3)
    return torch.einsum("bij,bjhw->bihw", color_matrix, image)


def render_srgb(
    image: Tensor,
    gain: float | Tensor,
    color_matrix: Tensor,
    clip: bool = False,
    linear_above_one: bool = True,
) -> Tensor:
    r"""Render linear camera RGB to sRGB: ``srgb(gain * M @ x)`` per pixel (paper 000 sec. 3.3, eq. 6's f_t).

    Defaults follow DeepFnF's loss (NOTES): the curve continues linearly above 1 and nothing is clipped.
    For metrics use ``clip=True`` (clips the encoded result to ``[0, 1]``).

    Args:
        image: ``(B, 3, H, W)`` linear camera RGB.
        gain: float or ``(B,)`` scalar gain alpha (for dimmed inputs, the inverse of the dimming factor).
        color_matrix: ``(B, 3, 3)`` or ``(3, 3)`` camera -> linear sRGB matrix C.
        clip: clamp the sRGB result to ``[0, 1]``.
        linear_above_one: linear continuation of the sRGB curve above 1 (see :func:`srgb_from_linear`).

    Returns:
        ``(B, 3, H, W)`` sRGB-encoded image.

    Example:
        >>> x = torch.full((1, 3, 2, 2), 0.25)
        >>> render_srgb(x, torch.tensor([2.0]), torch.eye(3))[0, :, 0, 0]
        tensor([0.7354, 0.7354, 0.7354])
    """
    image = _check_bchw(image, "image", 3)
    g = _batch_param(gain, "gain", len(image), image)
    out = srgb_from_linear(g * apply_color_matrix(image, color_matrix), linear_above_one=linear_above_one)
    return out.clamp(0.0, 1.0) if clip else out
