"""Raw low-light DataModule: See-in-the-Dark (paper 004; NOTES "SID", "Unprocessing").

Batch keys (:mod:`fnflight.data.batch`): ``raw`` packed ``(B, 4, h, w)`` Bayer or ``(B, 9, h, w)`` X-Trans,
black-level subtracted, multiplied by ``ratio`` and clipped to 1; ``ratio`` ``(B,)``; ``target``
``(B, 3, f h, f w)`` sRGB (``f`` = 2 Bayer, 3 X-Trans); the classical ISP's ``color_matrix``, ``wb_gains``,
``tone_curve``; ``index``; synthetic mode adds ``std_read``, ``std_shot`` (and keeps the clean linear
``ambient``).

Two modes (``mode="auto"`` picks ``"real"`` when the source is a
:class:`~fnflight.data.raw_sources.SIDRawPairs`):

``"real"``: SID captures. CPU side: read the packed, black-level-subtracted input and the LibRaw-rendered
reference (:class:`~fnflight.data.raw_sources.SIDRawPairs`), crop ``crop`` x ``crop`` PACKED pixels
(default 512, the authors' patch size, NOTES "SID"; the reference crop is ``f`` times larger), random for
training, centred for validation / test, and for training the same random horizontal / vertical flip and
transpose of both (paper 004 sec. 3.3 "random flipping and rotation", SID's code: flips and transposes;
albumentations with an additional target). Like SID's code the packed array itself is flipped, which moves
the colour sites within the 2x2 (3x3) cell by one pixel; the network sees consistent channels. The
amplification ``min(raw * ratio, 1)`` with the pair's ratio ``min(t_ref / t_in, 300)`` is done on the CPU
(it is deterministic); ``degrade`` passes the batch through.

``"synthetic"``: any clean photo source (default: the embedded photos). Per sample, on the device
(:meth:`RawLowLightDataModule.degrade`):

1. ``target`` = the clean crop in sRGB (the source's linear image through the sRGB curve). Chosen over the
   processed clean raw because it is exact: :func:`fnflight.imaging.process` only inverts the unprocessing
   away from clipped highlights, and SID's targets are likewise a separate rendering of a clean capture;
2. unprocessing (Brooks et al., NOTES "Unprocessing"; :func:`fnflight.imaging.unprocess`): inverse tone
   curve, gamma 2.2, random camera colour matrix, inverse white balance / brightness gains -> clean camera
   RGB, mosaicked (RGGB, or X-Trans with ``cfa="xtrans"``): the clean *long*-exposure raw;
3. ratio: training draws uniformly from SID's ratios ``{100, 250, 300}`` (paper 004 Table 1: the exposure
   ratios of the dataset); ``ratio_range=(low, high)`` draws log-uniformly instead. Validation / test use
   every image once per ratio of ``test_ratios`` (100, 250, 300);
4. dark capture: the short exposure collects ``1 / ratio`` of the long one's light, so its clean signal is
   ``clean raw / ratio`` and its noise is that of a real capture of that signal (Poisson-Gaussian, Gaussian
   approximation): variance ``std_read^2 + std_shot^2 * clean / ratio`` in normalised raw units. After the
   amplification of step 5 the noise relative to the signal is ``sqrt(std_shot^2 ratio / clean +
   std_read^2 ratio^2 / clean^2)``: shot noise grows with ``sqrt(ratio)`` and read noise with ``ratio``, as
   in SID's x100 / x250 / x300 captures. The levels (``noise="sensor"``, default) are those of one capture
   of a large-pixel 14-bit sensor (:func:`fnflight.imaging.sample_sensor_noise`: analogue gain
   ``K ~ logU(gain_range)`` DN per electron, shot variance ``K / span``, read noise 1.5 e- and 1.5 DN),
   the physics of SID's Sony alpha 7S II in round numbers (our choice: the paper gives no noise model).
   ``noise="unprocessing"`` uses Brooks et al.'s levels instead (a normally exposed phone capture, NOTES
   "Unprocessing"), which on a 1/300 capture drown the signal. With ``quantize`` (default) the capture is
   written as a 14-bit raw like SID's Sony files (black 512, white 16383, rounded, clipped to
   ``[0, white]``) and read back with :func:`fnflight.imaging.normalize_levels` (black subtracted, negatives
   clipped, as SID);
5. ``raw`` = :func:`fnflight.imaging.amplify` (``min(x * ratio, 1)``) of the packed dark capture;
6. the camera's ISP parameters travel with the batch for the classical pipeline (pictures, the
   ``traditional`` floor of ``fnflight eval``): ``color_matrix`` = unprocessing's ``cam2rgb``, ``wb_gains``
   its forward white-balance and brightness gains, ``tone_curve`` = 1 (unprocessing inverted a smoothstep).

Validation / test are deterministic (one generator per image seeded from ``(seed, index)``, shared by the
three ratios of an image: same camera parameters, same normal draws).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from fnflight import imaging

from . import batch as K
from .base import CropDataset, LowLightDataModule, SeededDataset
from .raw_sources import SIDRawPairs
from .sources import SourceError

__all__ = [
    "REAL_CROP",
    "SID_RATIOS",
    "SONY_BLACK_LEVEL",
    "SONY_WHITE_LEVEL",
    "SYNTHETIC_CROP",
    "RawCropDataset",
    "RawLowLightDataModule",
]

SID_RATIOS = (100.0, 250.0, 300.0)  # paper 004 Table 1
REAL_CROP = 512  # packed patch size of the authors' code (NOTES "SID")
SYNTHETIC_CROP = 256  # packed; 512 px targets fit the embedded photos (their short side is 512)
SONY_BLACK_LEVEL = 512.0  # NOTES "SID"
SONY_WHITE_LEVEL = 16383.0


class RawCropDataset(SeededDataset):
    """Packed crops (and for training paired flips / transposes) of :class:`SIDRawPairs`.

    Args:
        source: the pairs.
        crop: square crop in packed pixels; ``None`` = the whole image (X-Trans: trimmed to even sizes).
        train: random crop + augmentation; otherwise the centre crop.
        augment: paired horizontal / vertical flips and transposes when ``train``.
        limit: use only the first ``limit`` pairs.
        seed: base of the CPU-side random seed (per worker: ``seed`` + worker seed).
    """

    def __init__(
        self,
        source: SIDRawPairs,
        crop: int | None,
        train: bool,
        augment: bool = True,
        limit: int | None = None,
        seed: int = 0,
    ) -> None:
        if crop is not None and int(crop) < 1:
            raise ValueError(f"crop must be >= 1 or None, got {crop}")
        self.source, self.crop, self.train = source, None if crop is None else int(crop), bool(train)
        self.augment, self.seed = bool(augment), int(seed)
        self.count = len(source) if limit is None else min(int(limit), len(source))

    def __len__(self) -> int:
        return self.count

    def _augmenter(self) -> Any:
        if self._aug is None:
            import albumentations as A

            rng = self._generator()
            self._aug = A.Compose(
                [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5), A.Transpose(p=0.5)],
                additional_targets={"target": "image"},
                is_check_shapes=False,  # the target is f times larger than the packed raw
                seed=int(rng.integers(2**31)),
            )
        return self._aug

    def box(self, index: int) -> tuple[int, int, int, int]:
        """The packed crop box ``(top, left, height, width)`` of pair ``index`` (random when training)."""
        h, w = self.source.size(index)
        step = 2 if self.source.factor(index) == 3 else 1  # X-Trans: keep the 6x6 phase
        if self.crop is None:
            return 0, 0, h // step * step, w // step * step
        if self.crop % step:
            raise ValueError(f"crop must be even for X-Trans data, got {self.crop}")
        if h < self.crop or w < self.crop:
            path = self.source.files(index)["input"]
            raise SourceError(
                f"{path}: packed image is {h}x{w}, smaller than the crop {self.crop}x{self.crop}"
            )
        if self.train:
            rng = self._generator()
            top = int(rng.integers(0, (h - self.crop) // step + 1)) * step
            left = int(rng.integers(0, (w - self.crop) // step + 1)) * step
        else:
            top, left = (h - self.crop) // 2 // step * step, (w - self.crop) // 2 // step * step
        return top, left, self.crop, self.crop

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range ({len(self)} samples)")
        arrays = self.source.read(i, self.box(i))
        if self.train and self.augment:
            out = self._augmenter()(image=arrays["raw"], target=arrays["target"])
            arrays = {**arrays, "raw": out["image"], "target": out["target"]}
        return {
            K.RAW: torch.from_numpy(np.ascontiguousarray(arrays["raw"].transpose(2, 0, 1))),
            K.TARGET: torch.from_numpy(np.ascontiguousarray(arrays["target"].transpose(2, 0, 1))),
            K.RATIO: torch.tensor(self.source.ratio(i), dtype=torch.float32),
            K.WB_GAINS: torch.from_numpy(arrays["wb_gains"]),
            K.COLOR_MATRIX: torch.from_numpy(arrays["color_matrix"]),
            K.TONE_CURVE: torch.tensor(0.0),
            K.INDEX: torch.tensor(i, dtype=torch.int64),
        }


class RawLowLightDataModule(LowLightDataModule):
    """SID raw low-light data, real or synthetic (module docstring).

    Args:
        source, val_source, test_source, batch_size, val_batch_size, num_workers, seed, augment, limit_val:
            see :class:`~fnflight.data.base.LowLightDataModule` (batch 1 as SID's code).
        crop: square crop in PACKED pixels (targets are ``f`` times larger); default :data:`REAL_CROP` (512)
            for real data, :data:`SYNTHETIC_CROP` (256) for synthetic data.
        mode: ``"auto"``, ``"real"`` or ``"synthetic"``.
        eval_crop: validation / test crop (packed); default ``crop``; ``0`` = whole images (real mode; SID
            evaluates full frames, which need ``val_batch_size=1`` and a tiling network).
        cfa: ``"bayer"`` or ``"xtrans"``: the mosaic synthesised (synthetic mode), or the one the raw files
            must have (real mode: checked when the datasets are made, so a config and its net agree).
        bayer_order: packed channel order (:func:`fnflight.imaging.pack_bayer`), synthetic mode (real data:
            the source's ``bayer_order``).
        ratios: training ratios, drawn uniformly (synthetic mode).
        ratio_range: ``(low, high)``: draw training ratios log-uniformly from this range instead.
        test_ratios: validation / test ratios, every image once per ratio (synthetic mode).
        noise: ``"sensor"`` (default) or ``"unprocessing"``: the noise levels of the dark capture (module
            docstring, step 4).
        gain_range: ``(low, high)`` analogue gain in DN per electron of ``noise="sensor"``.
        quantize: write the dark capture as integers between ``black_level`` and ``white_level``.
        black_level, white_level: the simulated sensor's levels (Sony's by default).
    """

    def __init__(
        self,
        crop: int | None = None,
        mode: str = "auto",
        eval_crop: int | None = None,
        cfa: str = "bayer",
        bayer_order: str = "raster",
        ratios: Sequence[float] = SID_RATIOS,
        ratio_range: Sequence[float] | None = None,
        test_ratios: Sequence[float] = SID_RATIOS,
        noise: str = "sensor",
        gain_range: Sequence[float] = (0.2, 8.0),
        quantize: bool = True,
        black_level: float = SONY_BLACK_LEVEL,
        white_level: float = SONY_WHITE_LEVEL,
        **loader: Any,
    ) -> None:
        if mode not in ("auto", "real", "synthetic"):
            raise ValueError(f"mode must be 'auto', 'real' or 'synthetic', got {mode!r}")
        if cfa not in ("bayer", "xtrans"):
            raise ValueError(f"cfa must be 'bayer' or 'xtrans', got {cfa!r}")
        if bayer_order not in ("raster", "sid"):
            raise ValueError(f"bayer_order must be 'raster' or 'sid', got {bayer_order!r}")
        if not ratios or min(float(r) for r in ratios) <= 0:
            raise ValueError(f"ratios must be positive numbers, got {ratios}")
        if not test_ratios or min(float(r) for r in test_ratios) <= 0:
            raise ValueError(f"test_ratios must be positive numbers, got {test_ratios}")
        if ratio_range is not None and not 0 < float(ratio_range[0]) <= float(ratio_range[1]):
            raise ValueError(f"ratio_range must be 0 < low <= high, got {tuple(ratio_range)}")
        if noise not in ("sensor", "unprocessing"):
            raise ValueError(f"noise must be 'sensor' or 'unprocessing', got {noise!r}")
        if len(gain_range) != 2 or not 0 < float(gain_range[0]) <= float(gain_range[1]):
            raise ValueError(f"gain_range must be (low, high) with 0 < low <= high, got {tuple(gain_range)}")
        if not 0 <= black_level < white_level:
            raise ValueError(f"need 0 <= black_level < white_level, got {black_level}, {white_level}")
        if crop is not None and int(crop) < 1:
            raise ValueError(f"crop must be >= 1, got {crop}")
        super().__init__(crop=1 if crop is None else int(crop), **loader)
        real = isinstance(self.source, SIDRawPairs)
        self.mode = ("real" if real else "synthetic") if mode == "auto" else mode
        sources = {"source": self.source, "val_source": self.val_source, "test_source": self.test_source}
        for name, src in sources.items():
            if (self.mode == "real") != isinstance(src, SIDRawPairs):
                want = "a SIDRawPairs" if self.mode == "real" else "a clean image source (not SIDRawPairs)"
                raise ValueError(f"mode={self.mode!r} needs {want} as {name}, got {type(src).__name__}")
        self.crop = int(crop) if crop is not None else (REAL_CROP if self.mode == "real" else SYNTHETIC_CROP)
        self.eval_crop = self.crop if eval_crop is None else int(eval_crop)
        if self.eval_crop < 0 or (self.eval_crop == 0 and self.mode != "real"):
            raise ValueError(f"eval_crop must be >= 1 (or 0 = whole images, real mode), got {eval_crop}")
        self.cfa = cfa
        if self.mode == "synthetic" and cfa == "xtrans" and (self.crop % 2 or self.eval_crop % 2):
            raise ValueError(f"X-Trans crops must be even (packed pixels), got {self.crop}, {self.eval_crop}")
        self.bayer_order = bayer_order
        self.ratios = [float(r) for r in ratios]
        self.ratio_range = None if ratio_range is None else (float(ratio_range[0]), float(ratio_range[1]))
        self.test_ratios = [float(r) for r in test_ratios]
        self.noise, self.gain_range = noise, (float(gain_range[0]), float(gain_range[1]))
        self.quantize = bool(quantize)
        self.black_level, self.white_level = float(black_level), float(white_level)

    @property
    def factor(self) -> int:
        """Full-resolution pixels per packed pixel (synthetic mode: from ``cfa``; real: from the data)."""
        if self.mode == "real":
            return self.source.factor(0)
        return 2 if self.cfa == "bayer" else 3

    # ------------------------------------------------------------------ datasets
    def eval_variants(self) -> dict[str, Sequence[float]] | None:
        return {K.RATIO: self.test_ratios} if self.mode == "synthetic" else None

    def make_dataset(self, stage: str) -> Dataset:
        train = stage == "train"
        source = self.source if train else self.val_source if stage == "val" else self.test_source
        crop = self.crop if train else self.eval_crop
        if self.mode == "real":
            if source.cfa != self.cfa:
                raise SourceError(
                    f"{source.list_file}: its raw files have a {source.cfa} colour filter array, but the "
                    f"data config says cfa={self.cfa!r} (set data.init_args.cfa={source.cfa})"
                )
            limit = None if train else self.limit_val
            return RawCropDataset(source, crop or None, train, self.augment, limit, self.seed)
        f = 2 if self.cfa == "bayer" else 3
        if train:
            return CropDataset(source, crop * f, True, 0, self.augment, seed=self.seed)
        return CropDataset(source, crop * f, False, variants=self.eval_variants(), limit=self.limit_val)

    def protocol(self) -> dict[str, Any]:
        """The degradation parameters (for test-set manifests)."""
        common = {"paper": "004 (SID) sec. 3-4, NOTES SID / Unprocessing", "mode": self.mode}
        common.update(crop_packed=self.crop, eval_crop_packed=self.eval_crop)
        if self.mode == "real":
            src = self.test_source
            return {
                **common,
                "list_file": str(getattr(src, "list_file", "")),
                "ratio": "min(t_reference / t_input, 300) from the file names",
                "levels": "from the raw files" if getattr(src, "black_level", None) is None else "overridden",
                "bayer_order": getattr(src, "bayer_order", "raster"),
            }
        return {
            **common,
            "cfa": self.cfa,
            "bayer_order": self.bayer_order,
            "ratios": self.ratios,
            "ratio_range": None if self.ratio_range is None else list(self.ratio_range),
            "test_ratios": self.test_ratios,
            "noise": self.noise,
            "noise_model": (
                "sample_sensor_noise (gain_range DN/e-, 1.5 e- + 1.5 DN read noise) on clean / ratio"
                if self.noise == "sensor"
                else "Brooks et al. unprocessing levels (sample_unprocessing_noise) on clean / ratio"
            ),
            "gain_range": list(self.gain_range),
            "quantize": self.quantize,
            "black_level": self.black_level,
            "white_level": self.white_level,
            "target": "clean crop in sRGB",
        }

    # ------------------------------------------------------------------ degradation
    def degrade(self, batch: dict[str, Tensor], generator: torch.Generator, stage: str) -> dict[str, Tensor]:
        """Real mode: pass-through (``raw``, ``ratio``, ``target`` come from the files). Synthetic mode: add
        ``raw``, ``ratio``, ``target``, ``std_read``, ``std_shot`` to a clean batch (module docstring).

        Pure: the same generator state gives the same output. Draw order: ratio (training only), camera
        parameters, noise levels, noise.
        """
        out = dict(batch)
        if K.AMBIENT not in batch:
            if K.RAW not in batch or K.TARGET not in batch or K.RATIO not in batch:
                raise KeyError(
                    "batch needs 'ambient' (synthetic mode) or 'raw', 'target' and 'ratio' (real mode)"
                )
            out[K.RATIO] = batch[K.RATIO].to(batch[K.RAW].dtype).reshape(-1)
            return out
        ambient = batch[K.AMBIENT]
        if ambient.ndim != 4 or ambient.shape[1] != 3:
            raise ValueError(f"batch['ambient'] must have shape (B, 3, H, W), got {tuple(ambient.shape)}")
        b, _, h, w = ambient.shape
        f = 2 if self.cfa == "bayer" else 3
        tile = 2 if f == 2 else 6
        if h % tile or w % tile:
            raise ValueError(
                f"batch['ambient'] height and width must be multiples of the {tile}x{tile} CFA tile, "
                f"got {h}x{w}"
            )
        dev, gdev, dt = ambient.device, generator.device, ambient.dtype

        if stage != "train" and K.RATIO in batch:
            ratio = batch[K.RATIO].to(dev, dt).reshape(b)
        elif self.ratio_range is not None:
            lo, hi = (math.log10(r) for r in self.ratio_range)
            ratio = imaging.sample_log_uniform(lo, hi, (b,), generator, gdev, dt).to(dev)
        else:
            pick = torch.randint(len(self.ratios), (b,), generator=generator, device=gdev).to(dev)
            ratio = torch.tensor(self.ratios, device=dev, dtype=dt)[pick]

        srgb = imaging.srgb_from_linear(ambient.clamp(0.0, 1.0)).clamp(0.0, 1.0)
        clean, meta = imaging.unprocess(srgb, generator)  # NOTES "Unprocessing"
        mosaic = imaging.mosaic_bayer(clean) if f == 2 else imaging.mosaic_xtrans(clean)
        if self.noise == "sensor":
            span = self.white_level - self.black_level
            std_read, std_shot = imaging.sample_sensor_noise(b, self.gain_range, span, generator, gdev, dt)
        else:
            std_read, std_shot = imaging.sample_unprocessing_noise(b, generator, gdev, dt)
        std_read, std_shot = std_read.to(dev), std_shot.to(dev)
        dark = imaging.add_heteroscedastic_noise(
            mosaic / ratio[:, None, None, None], std_read, std_shot, generator
        )
        if self.quantize:  # a 14-bit capture like SID's Sony files, read back as SID does
            span = self.white_level - self.black_level
            dn = torch.round(dark * span + self.black_level).clamp(0.0, self.white_level)
            dark = imaging.normalize_levels(dn, self.black_level, self.white_level)
        else:
            dark = dark.clamp(0.0, 1.0)
        packed = imaging.pack_bayer(dark, self.bayer_order) if f == 2 else imaging.pack_xtrans(dark)
        out[K.RAW] = imaging.amplify(packed, ratio)  # min(x * ratio, 1) (NOTES "SID")
        out[K.RATIO] = ratio
        out[K.TARGET] = srgb
        out[K.STD_READ], out[K.STD_SHOT] = std_read, std_shot
        out[K.COLOR_MATRIX] = meta["cam2rgb"].to(dev, dt)
        out[K.WB_GAINS] = imaging.white_balance_gains(meta, ratio).to(dev, dt)
        out[K.TONE_CURVE] = torch.ones(b, device=dev, dtype=dt)
        return out
