"""Full-resolution inference in tiles, for every task: the one tiling mechanism of ``fnflight enhance`` and
``fnflight bench enhance`` (NOTES "SID": users of the authors' code run out of memory at full resolution).

The image is cut into cores that partition it; each core is run with a halo of context on every side and
only the core of each result is kept. An output pixel of a convolutional net depends only on the inputs
within its receptive-field radius ``r``, so with ``halo >= r`` every kept pixel sees exactly the inputs it
sees in the untiled forward, and the tiled result EQUALS the untiled one (to float rounding): no blending,
no seams. To keep the pooling grid of a U-Net the same, the whole image is first reflect-padded to a
multiple of the net's stride exactly as ``net.forward`` pads it, and cores and halos are multiples of the
stride, so every window starts on the untiled forward's grid (and the net adds no padding of its own).

Cost: a window of ``tile`` px computes a core of ``tile - 2 halo`` px, so the work is
``(tile / (tile - 2 halo))^2`` times the untiled forward; memory is that of one window plus the output.

Split tiling (the Table 3 U-Nets: DeepFnF, no-flash only, KPN burst). Their receptive field is 540 px, almost
all of it from the coarse levels: a 512 px core needs a 1088 px window (4.5x the work). But the levels at
``1 / 2**split`` and coarser are small enough to run on the WHOLE image at once (1/16 of the pixels at
``split = 2``), so only the fine levels are windowed, with the small halo of the fine layers:

1. windows: Enc-0 and the first ``split`` encoder levels; the cores of their ``1 / 2**split`` output are
   assembled into one map (and the global pools of their skips summed, for a net with a kernel basis);
2. the whole image: the coarse encoder levels, the coarse decoder levels (and the basis from the pools);
3. windows: the fine encoder levels again (their skips are not stored: 600 MB at 12 MP), the fine decoder
   levels on the matching window of step 2's map, and the net's head (output conv, filtering).

Every value each step keeps is the untiled forward's (windows start on the ``2**split`` grid, halos cover
the fine layers' receptive fields, :func:`~fnflight.nets.unet.table3_split_radii`), so the result is exact
too. A net opts in by stating ``unet_parts()``, ``body_input(*inputs)``, ``head_from_features(inputs,
features, basis, margins)`` and ``head_radius`` (see :func:`supports_split_tiling`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fnflight.nets.unet import crop_padding, pad_to_multiple, table3_split_radii

__all__ = [
    "DEFAULT_CORE",
    "DEFAULT_SPLIT",
    "SPLIT_CORE",
    "default_tile",
    "receptive_radius",
    "split_level",
    "supports_split_tiling",
    "tile_boxes",
    "tile_count",
    "tiled_apply",
    "tiled_forward",
    "tiling_halo",
]


def receptive_radius(net: nn.Module) -> int:
    """``(net.receptive_field - 1) // 2``: how far (input px) an output pixel of ``net`` looks.

    >>> from fnflight.nets.sid import SIDUNet
    >>> receptive_radius(SIDUNet(width=1 / 8, depth=2))
    9
    """
    rf = getattr(net, "receptive_field", None)
    if rf is None:
        raise ValueError(f"{type(net).__name__} has no receptive_field: pass halo= explicitly")
    return (int(rf) - 1) // 2


def _round_up(value: int, multiple: int) -> int:
    return -(-int(value) // multiple) * multiple


def tile_boxes(size: int, core: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` cores of ``core`` px that partition ``range(size)`` (the last may be shorter).

    >>> tile_boxes(10, 4)
    [(0, 4), (4, 8), (8, 10)]
    """
    return [(s, min(s + core, size)) for s in range(0, size, core)]


def _reflected(start: int, stop: int, size: int, device) -> Tensor:
    """Indices into ``range(size)`` of the positions ``start .. stop - 1`` of its reflect padding (one
    reflection about each border, excluding the border sample, as ``F.pad(mode="reflect")``).

    >>> _reflected(-2, 3, 3, "cpu").tolist(), _reflected(1, 6, 4, "cpu").tolist()
    ([2, 1, 0, 1, 2], [1, 2, 3, 2, 1])
    """
    i = torch.arange(start, stop, device=device).abs()
    return torch.where(i >= size, 2 * (size - 1) - i, i)


class _Plan:
    """The windows of a tiled run: the stride-padded inputs, the cores that partition them and the halo.

    ``windows()`` yields ``(window inputs, (y0, y1, x0, x1) core, (wy0, wx0) window origin, margins)`` with
    ``margins = (left, right, top, bottom)``: the stride padding this window holds on each side (non-zero only
    where it touches the image border).
    """

    def __init__(
        self, inputs: Sequence[Tensor], tile: int, halo: int, multiple: int, grid: int | None = None
    ) -> None:
        if not inputs:
            raise ValueError("inputs must hold at least one tensor")
        size = tuple(inputs[0].shape[-2:])
        for i, x in enumerate(inputs):
            if not isinstance(x, Tensor) or x.dim() < 3:
                raise ValueError(
                    f"inputs[{i}] must be a tensor (..., H, W), got {getattr(x, 'shape', type(x))}"
                )
            if tuple(x.shape[-2:]) != size:
                raise ValueError(
                    f"inputs[{i}] is {tuple(x.shape[-2:])}, inputs[0] is {size}: sizes must agree"
                )
        # the image is padded to the net's stride `multiple`; windows, cores and halos lie on `grid` (the
        # stride, or 2**split for split tiling, whose windows hold only the fine levels)
        self.multiple = multiple = max(1, int(multiple))
        self.grid = grid = multiple if grid is None else max(1, int(grid))
        if halo < 0:
            raise ValueError(f"halo must be >= 0, got {halo}")
        self.halo = halo = _round_up(halo, grid)
        self.tile = tile = int(tile) // grid * grid
        self.core = core = tile - 2 * halo
        if core < grid:
            raise ValueError(
                f"tile={tile} leaves no core after a halo of {halo} px on each side: need tile >= "
                f"{2 * halo + grid} (2 x halo + {grid})"
            )
        h, w = size
        th, tw = (-h) % multiple, (-w) % multiple
        # the split of pad_to_multiple (the untiled forward's): (left, right, top, bottom)
        self.pads = (tw // 2, tw - tw // 2, th // 2, th - th // 2)
        self.height, self.width = h + th, w + tw
        # Windows are cut from the ORIGINAL inputs and only the part outside the image is reflected (one
        # reflection about the border, as pad_to_multiple makes it while the pad is smaller than the image):
        # no stride-padded copy of full-size inputs (a 12 MP burst of 8 frames is 1.2 GB per copy).
        self.lazy = th < h and tw < w
        self.xs = list(inputs) if self.lazy else [pad_to_multiple(x, multiple)[0] for x in inputs]
        self.rows, self.cols = tile_boxes(self.height, core), tile_boxes(self.width, core)

    def cut(self, x: Tensor, wy0: int, wy1: int, wx0: int, wx1: int) -> Tensor:
        """The window ``[wy0, wy1) x [wx0, wx1)`` (stride-padded image px) of one input."""
        if not self.lazy:
            return x[..., wy0:wy1, wx0:wx1]
        left, _, top, _ = self.pads
        h, w = x.shape[-2:]
        y0, y1, x0, x1 = wy0 - top, wy1 - top, wx0 - left, wx1 - left  # original image px
        # the part outside the image is its reflection about the border (index maps: the reflected rows
        # may lie outside the window's own part of the image when the window barely enters it)
        if y0 < 0 or y1 > h:
            rows = x.index_select(-2, _reflected(y0, y1, h, x.device))
        else:
            rows = x[..., y0:y1, :]
        if x0 < 0 or x1 > w:
            return rows.index_select(-1, _reflected(x0, x1, w, x.device))
        return rows[..., x0:x1]

    def __len__(self) -> int:
        return len(self.rows) * len(self.cols)

    def windows(self, progress: bool = False, desc: str = "tiles"):
        from tqdm import tqdm

        h, w, halo = self.height, self.width, self.halo
        left, right, top, bottom = self.pads
        bar = tqdm(total=len(self), desc=desc, unit="tile", disable=not progress, leave=False)
        try:
            for y0, y1 in self.rows:
                wy0, wy1 = max(0, y0 - halo), min(h, y1 + halo)
                for x0, x1 in self.cols:
                    wx0, wx1 = max(0, x0 - halo), min(w, x1 + halo)
                    margins = (
                        left if wx0 == 0 else 0,
                        right if wx1 == w else 0,
                        top if wy0 == 0 else 0,
                        bottom if wy1 == h else 0,
                    )
                    windows = [self.cut(x, wy0, wy1, wx0, wx1) for x in self.xs]
                    yield windows, (y0, y1, x0, x1), (wy0, wx0), margins
                    bar.update(1)
        finally:
            bar.close()


@torch.no_grad()
def tiled_apply(
    fn: Callable[..., Tensor],
    inputs: Sequence[Tensor],
    tile: int,
    halo: int,
    multiple: int = 1,
    scale: int = 1,
    progress: bool = False,
    out_device: torch.device | str | None = None,
) -> Tensor:
    """Run ``fn(*windows) -> (B, C, scale h, scale w)`` over the inputs in tiles (module docstring).

    Args:
        fn: image-to-image function of the windows of ``inputs`` (all cut at the same place).
        inputs: tensors ``(..., H, W)`` of one ``H, W`` (e.g. ``(B, 4, h, w)`` packed raw, or the no-flash,
            flash and std maps of a pair, or a ``(B, N, C, H, W)`` burst).
        tile: window size in input px (rounded down to a multiple of ``multiple``).
        halo: context on each side of a core (input px, rounded up to a multiple of ``multiple``); exact when
            ``>=`` the receptive-field radius.
        multiple: the net's stride (its pooling grid).
        scale: output px per input px (2 for SID on Bayer, 3 on X-Trans).
        progress: tqdm bar over tiles (on stderr).
        out_device: where the full output is assembled (default: the inputs' device).

    Returns:
        ``(B, C, scale H, scale W)``.

    >>> from fnflight.nets.sid import SIDUNet
    >>> net = SIDUNet(width=1 / 8, depth=2).eval()
    >>> raw = torch.rand(1, 4, 60, 40)
    >>> out = tiled_apply(lambda x: net(x)["output"], [raw], tile=40, halo=9, multiple=4, scale=2)
    >>> torch.allclose(out, net(raw)["output"], atol=1e-5)
    True
    """
    plan = _Plan(inputs, tile, halo, multiple)
    return _assemble(plan, lambda windows, origin, margins: fn(*windows), scale, progress, out_device)


def _assemble(
    plan: _Plan,
    fn: Callable[[list[Tensor], tuple[int, int], tuple[int, int, int, int]], Tensor],
    scale: int = 1,
    progress: bool = False,
    out_device: torch.device | str | None = None,
    desc: str = "tiles",
) -> Tensor:
    """``fn(windows, window origin, margins)`` over the windows of ``plan``, the cores of its results
    assembled (``scale`` output px per input px) and the stride padding cropped."""
    scale = max(1, int(scale))
    out: Tensor | None = None
    for windows, (y0, y1, x0, x1), (wy0, wx0), margins in plan.windows(progress, desc):
        y = fn(windows, (wy0, wx0), margins)
        if out is None:
            out = torch.empty(
                *y.shape[:-2],
                plan.height * scale,
                plan.width * scale,
                dtype=y.dtype,
                device=out_device or y.device,
            )
        keep = y[..., (y0 - wy0) * scale : (y1 - wy0) * scale, (x0 - wx0) * scale : (x1 - wx0) * scale]
        out[..., y0 * scale : y1 * scale, x0 * scale : x1 * scale] = keep.to(out.device)
    assert out is not None
    return crop_padding(out, plan.pads, scale=scale)


def supports_split_tiling(net: nn.Module) -> bool:
    """Whether ``net`` is a Table 3 U-Net that states the parts split tiling needs (module docstring):
    ``unet_parts() -> (Encoder, PixelDecoder, BasisDecoder or None)``, ``body_input(*inputs)`` (the
    U-Net's input), ``head_from_features(inputs, features, basis, margins)`` (the output for ``inputs`` cut
    at the true image border, from the PDec-F-1 ``features`` of the whole window, which holds ``margins =
    (left, right, top, bottom)`` px of stride padding more) and ``head_radius`` (input px the head looks
    beyond a pixel: output conv and filter)."""
    return (
        callable(getattr(net, "unet_parts", None))
        and callable(getattr(net, "body_input", None))
        and callable(getattr(net, "head_from_features", None))
        and getattr(net, "head_radius", None) is not None
    )


def _conv_layout(x: Tensor) -> Tensor:
    """``x`` in channels-last memory (the same values): oneDNN's convolutions at these narrow widths (8-64
    channels) ran 3x faster on it than on NCHW (DeepFnF's encoder and decoder on a 2048^2 pair, 2-core
    EPYC: 2.6 -> 0.9 s), and the layout conversions before each convolution went away."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


DEFAULT_SPLIT = 2  # the levels at 1/4 resolution and coarser run on the whole image (1/16 of its pixels)


def _split_halos(net: nn.Module, split: int) -> tuple[int, int]:
    """Halos (input px) of the two windowed steps of split tiling: the fine encoder's, and the fine
    path's plus the head's."""
    encoder, decoder, _ = net.unet_parts()
    levels = len(encoder.channels)
    fine_encoder, fine_path = table3_split_radii(split, levels, decoder.levels)
    return fine_encoder, fine_path + int(net.head_radius)


@torch.no_grad()
def _split_forward(
    net: nn.Module,
    inputs: Sequence[Tensor],
    tile: int,
    split: int,
    halo: int | None,
    progress: bool,
    out_device: torch.device | str | None,
) -> Tensor:
    """Split tiling (module docstring): the fine levels in windows, the coarse ones on the whole image
    (``halo``: both windowed steps' halo instead of their receptive fields', for tests)."""
    encoder, decoder, basis_decoder = net.unet_parts()
    stride, levels = int(encoder.stride), len(encoder.channels)
    grid = 2**split
    halo_encoder, halo_path = _split_halos(net, split) if halo is None else (int(halo), int(halo))
    # the skips the basis decoder pools (deepest first), of which the fine ones are summed over the cores
    pooled = [] if basis_decoder is None else basis_decoder.pooled_levels(levels)
    fine_pooled = [lv for lv in pooled if lv < split]

    # 1. the fine encoder per window: its 1/2**split output assembled, the pooled fine skips summed
    plan = _Plan(inputs, tile, halo_encoder, stride, grid)
    sums: dict[int, Tensor] = {}
    coarse_in: Tensor | None = None
    for windows, (y0, y1, x0, x1), (wy0, wx0), _ in plan.windows(progress, "tiles (encoder)"):
        x, skips = encoder.fine(_conv_layout(net.body_input(*windows)), split)
        if coarse_in is None:
            coarse_in = x.new_empty(*x.shape[:2], plan.height // grid, plan.width // grid)
        core = x[..., (y0 - wy0) // grid : (y1 - wy0) // grid, (x0 - wx0) // grid : (x1 - wx0) // grid]
        coarse_in[..., y0 // grid : y1 // grid, x0 // grid : x1 // grid] = core
        for lv in fine_pooled:
            f = 2**lv
            part = skips[lv][..., (y0 - wy0) // f : (y1 - wy0) // f, (x0 - wx0) // f : (x1 - wx0) // f]
            part = part.sum((-2, -1), keepdim=True, dtype=torch.float64)
            sums[lv] = part if lv not in sums else sums[lv] + part
    assert coarse_in is not None

    # 2. the whole image at 1/2**split: coarse encoder and decoder levels, the basis from the global pools
    bottleneck, deep_skips = encoder.coarse(_conv_layout(coarse_in), split)
    del coarse_in
    coarse = decoder.coarse_features(bottleneck, deep_skips, split)
    basis = None
    if basis_decoder is not None:
        pools = [bottleneck.mean((-2, -1), keepdim=True)]
        for lv in pooled:
            if lv >= split:
                pools.append(deep_skips[lv - split].mean((-2, -1), keepdim=True))
            else:
                count = (plan.height // 2**lv) * (plan.width // 2**lv)
                pools.append((sums[lv] / count).to(bottleneck.dtype))
        basis = basis_decoder.from_pools(pools)
    del bottleneck, deep_skips

    # 3. the fine encoder again, the fine decoder on the window of step 2's map, the head
    def window_forward(windows: list[Tensor], origin: tuple[int, int], margins) -> Tensor:
        x = _conv_layout(net.body_input(*windows))
        _, skips = encoder.fine(x, split)
        (wy0, wx0), (h, w) = origin, x.shape[-2:]
        window = coarse[..., wy0 // grid : (wy0 + h) // grid, wx0 // grid : (wx0 + w) // grid]
        features = decoder.fine_features(window, skips, split)
        left, right, top, bottom = margins
        # the head (a filter reflecting at the image border) sees the window without the stride padding
        inner = [t[..., top : h - bottom, left : w - right] for t in windows]
        out = net.head_from_features(inner, features, basis, margins)
        return F.pad(out, (left, right, top, bottom))  # the stride padding: cropped by _assemble

    plan = _Plan(inputs, tile, halo_path, stride, grid)
    return _assemble(plan, window_forward, 1, progress, out_device, "tiles")


DEFAULT_CORE = 512  # px of each window's kept core when the tile size is left to the net's receptive field
# Split tiling's cores: its halo is small (56 px for DeepFnF, most of it the basis filter; 28 px for KPN), and
# smaller windows stay in cache: 12 MP on the 2-core EPYC (fnflight bench enhance tile=...), DeepFnF cores
# of 320 / 512 / 1024 px: 15.3 / 13.8 / 14.9 s (1.65 / 1.84 / 2.14 GB); KPN burst 544 / 1024 px: 15.6 /
# 27.8 s (2.6 / 3.4 GB).
SPLIT_CORE = 512


def split_level(net: nn.Module, split: int | None = None) -> int:
    """The split level a tiled forward of ``net`` uses for the requested ``split`` (``None``: the default):
    0 (plain tiling) for a net that cannot split.

    >>> from fnflight.nets import KPNBurst, SIDUNet
    >>> split_level(SIDUNet(width=1 / 8)), split_level(KPNBurst(width=1 / 16)), split_level(KPNBurst(), 0)
    (0, 2, 0)
    """
    if not supports_split_tiling(net):
        if split:
            raise ValueError(f"{type(net).__name__} does not support split tiling (supports_split_tiling)")
        return 0
    split = DEFAULT_SPLIT if split is None else int(split)
    levels = len(net.unet_parts()[0].channels)
    if not 0 <= split <= levels:
        raise ValueError(f"split must be in [0, {levels}] (the encoder's levels), got {split}")
    if split == 0 and net.unet_parts()[2] is not None:
        raise ValueError(
            f"{type(net).__name__}'s kernel basis pools the whole image: plain tiles (split=0) would give "
            "each tile its own basis; use split >= 1"
        )
    return split


def tiling_halo(net: nn.Module, split: int | None = None) -> tuple[int, int]:
    """``(halo, grid)``: the halo (input px, on the grid) of the windows that make the output, and the grid
    windows lie on (the stride; ``2**split`` for split tiling).

    >>> from fnflight.nets.sid import SIDUNet
    >>> tiling_halo(SIDUNet(width=1 / 8))
    (112, 16)
    """
    split = split_level(net, split)
    if split:
        return _round_up(_split_halos(net, split)[1], 2**split), 2**split
    stride = int(getattr(net, "stride", 1))
    return _round_up(receptive_radius(net), stride), stride


def default_tile(net: nn.Module, core: int | None = None, split: int | None = None) -> int:
    """``core`` + the halo on each side, on the grid (:func:`tiling_halo`): the window size at which the
    halo costs at most ``((core + 2 halo) / core)^2`` the untiled work (full SID: 736 px, 2.1x). ``core``
    defaults to :data:`DEFAULT_CORE` or, for split tiling, :data:`SPLIT_CORE` (both 512 px).

    >>> from fnflight.nets.sid import SIDUNet
    >>> default_tile(SIDUNet(width=1 / 8))
    736
    """
    halo, grid = tiling_halo(net, split)
    if core is None:
        core = SPLIT_CORE if split_level(net, split) else DEFAULT_CORE
    return _round_up(core, grid) + 2 * halo


def tile_count(
    net: nn.Module, size: tuple[int, int], tile: int | None = None, split: int | None = None
) -> int:
    """Windows of a tiled forward of ``net`` over an input of ``size = (H, W)`` px.

    >>> from fnflight.nets.sid import SIDUNet
    >>> tile_count(SIDUNet(width=1 / 8), (1000, 700))
    4
    """
    halo, grid = tiling_halo(net, split)
    tile = default_tile(net, split=split) if tile is None else int(tile)
    stride = int(getattr(net, "stride", 1))
    core = tile // grid * grid - 2 * halo
    padded = [_round_up(n, stride) for n in size]
    return len(tile_boxes(padded[0], core)) * len(tile_boxes(padded[1], core))


def tiled_forward(
    net: nn.Module,
    *inputs: Tensor,
    tile: int | None = None,
    halo: int | None = None,
    split: int | None = None,
    progress: bool = False,
    out_device: torch.device | str | None = None,
) -> Tensor:
    """``net(*inputs)["output"]`` computed in exact tiles: split tiling for the Table 3 U-Nets
    (:func:`supports_split_tiling`: the levels at ``1 / 2**split`` and coarser on the whole image, default
    :data:`DEFAULT_SPLIT`; ``split=0`` for plain tiles), else :func:`tiled_apply` (through
    ``net.forward_output`` where the net has that memory-lean inference form) with the halo of the net's
    receptive field, the grid of ``net.stride`` and the output scale ``net.upscale`` (default 1).
    ``tile=None`` is :func:`default_tile`; ``halo`` overrides the windows' halo (exact only when large
    enough: for tests).

    >>> from fnflight.nets.sid import SIDUNet
    >>> net = SIDUNet(width=1 / 16).eval()  # full depth: receptive radius 107 packed px
    >>> raw = torch.rand(1, 4, 150, 40)
    >>> torch.allclose(tiled_forward(net, raw, tile=256), net(raw)["output"], atol=1e-5)
    True
    """
    split = split_level(net, split)
    tile = default_tile(net, split=split) if tile is None else int(tile)
    if split:
        return _split_forward(net, inputs, tile, split, halo, progress, out_device)
    # a net may state a memory-lean inference form of its output (KPNBurst.forward_output)
    lean = getattr(net, "forward_output", None)
    return tiled_apply(
        lean if callable(lean) else (lambda *x: net(*x)["output"]),
        inputs,
        tile,
        receptive_radius(net) if halo is None else int(halo),
        int(getattr(net, "stride", 1)),
        int(getattr(net, "upscale", 1)),
        progress,
        out_device,
    )
