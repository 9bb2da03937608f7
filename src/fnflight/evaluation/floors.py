"""Each task's classical floors for ``fnflight eval`` (named by its :class:`~fnflight.tasks.spec.TaskSpec`).

A floors function is ``fn(batch, testset, opts) -> (target, inputs, floors)``, all rendered as the task's
metrics see them (sRGB in [0, 1]): ``target``; ``inputs``, the input panels of the comparison pictures
``{name: (image, comparable)}`` (``comparable``: labelled with its PSNR against the target); ``floors``,
``{method name: output}``, empty when ``opts["_floors"]`` is false (the pictures only want the panels).

Flash/no-flash (:func:`fnf_floors`):

- ``noisy_input``: the noisy no-flash image itself, brightened by the gain;
- ``gaussian_denoise``: the noisy no-flash blurred with a Gaussian (kornia, reflect border) whose sigma is
  chosen per image from ``sigmas`` as the one with the best PSNR against the target: an *oracle* Gaussian,
  an optimistic floor for any learned method;
- ``petschnigg``: Petschnigg et al. 2004 (:mod:`fnflight.classical.petschnigg`; sigmas per dim chosen on
  BSDS500 val);
- ``nlmeans_noflash``: non-local means of the no-flash image alone, given its true noise level.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["burst_floors", "fnf_floors", "gaussian_oracle", "raw_floors", "shortlong_floors"]


def gaussian_oracle(noisy: Tensor, target: Tensor, gain: Tensor, cm: Tensor, sigmas) -> Tensor:
    """Per image, the Gaussian blur of ``noisy`` (linear) whose rendering is closest (PSNR) to the
    target's."""
    from kornia.filters import gaussian_blur2d

    from fnflight.metrics.image_quality import psnr_per_image, render_for_metrics

    ref = render_for_metrics(target, gain, cm)
    best = noisy.clone()
    best_psnr = psnr_per_image(render_for_metrics(noisy, gain, cm), ref)
    for sigma in sigmas:
        k = 2 * int(torch.ceil(torch.tensor(3.0 * sigma))) + 1
        blurred = gaussian_blur2d(noisy, (k, k), (sigma, sigma), border_type="reflect")
        psnr = psnr_per_image(render_for_metrics(blurred, gain, cm), ref)
        better = psnr > best_psnr
        best[better] = blurred[better]
        best_psnr = torch.where(better, psnr, best_psnr)
    return best


def fnf_floors(batch: dict[str, Tensor], testset, opts: dict[str, Any]) -> tuple[Tensor, dict, dict]:
    """Flash/no-flash: target, input panels ``{name: (image, comparable)}`` (noisy no-flash x gain, flash
    as captured) and the floors ``noisy_input`` and ``gaussian_denoise``, all rendered sRGB."""
    from fnflight.data import batch as K
    from fnflight.metrics.image_quality import render_for_metrics

    gain, cm = batch[K.GAIN], batch[K.COLOR_MATRIX]
    target = render_for_metrics(batch[K.TARGET], gain, cm)
    noisy = render_for_metrics(batch[K.NOFLASH], gain, cm)
    inputs = {"noisy input": (noisy, True)}  # (panel, labelled with its PSNR against the target)
    if K.FLASH in batch:  # as captured: another exposure, no PSNR
        inputs["flash"] = (render_for_metrics(batch[K.FLASH], torch.ones_like(gain), cm), False)
    if not opts.get("_floors", True):
        return target, inputs, {}
    den = gaussian_oracle(batch[K.NOFLASH], batch[K.TARGET], gain, cm, opts["sigmas"])
    floors = {"noisy_input": noisy, "gaussian_denoise": render_for_metrics(den, gain, cm)}
    return target, inputs, {**floors, **_fnf_peers(batch)}


def _fnf_peers(batch: dict[str, Tensor]) -> dict[str, Tensor]:
    """The classical flash/no-flash peers, rendered sRGB: ``petschnigg`` (joint bilateral + detail transfer,
    sigmas per dim from the validation set) and ``nlmeans_noflash`` (non-local means of the no-flash image
    alone given its true noise level, through a variance-stabilising transform)."""
    from fnflight.classical import petschnigg
    from fnflight.classical.petschnigg import params_for_dim
    from fnflight.data import batch as K
    from fnflight.metrics.image_quality import render_for_metrics
    from fnflight.tasks.fnf import nlmeans_noflash

    gain, cm = batch[K.GAIN], batch[K.COLOR_MATRIX]
    peers: dict[str, Tensor] = {}
    if K.FLASH in batch:
        dims = batch.get(K.DIM, gain).reshape(-1)
        out = torch.cat(
            [
                petschnigg(
                    batch[K.NOFLASH][i : i + 1],
                    batch[K.FLASH][i : i + 1],
                    gain[i : i + 1],
                    *params_for_dim(float(dims[i])),
                )
                for i in range(len(gain))
            ]
        )
        peers["petschnigg"] = render_for_metrics(out, gain, cm)
    den = nlmeans_noflash(batch)
    if den is not None:
        peers["nlmeans_noflash"] = render_for_metrics(den, gain, cm)
    return peers


def raw_floors(batch: dict[str, Tensor], testset, opts: dict[str, Any]) -> tuple[Tensor, dict, dict]:
    """Raw: target (16-bit-quantised sRGB, as SID scores) and the floors ``traditional`` and
    ``traditional_denoise`` (true noise level of synthetic sets; estimated from the capture for real ones)."""
    from fnflight.classical import traditional_denoise, traditional_isp
    from fnflight.data import batch as K
    from fnflight.tasks.raw_lowlight import sid_quantize

    target = sid_quantize(batch[K.TARGET])
    if not opts.get("_floors", True):
        return target, {}, {}
    order = str((testset.manifest.get("protocol") or {}).get("bayer_order", "raster"))
    isp = (batch[K.WB_GAINS], batch[K.COLOR_MATRIX], batch.get(K.TONE_CURVE, False), order)
    floors = {"traditional": sid_quantize(traditional_isp(batch[K.RAW], *isp))}
    ratio = batch[K.RATIO]
    if K.STD_READ in batch and K.STD_SHOT in batch:
        std_read, std_shot = batch[K.STD_READ], batch[K.STD_SHOT]
    else:  # a real capture: Poisson-Gaussian levels of the amplified raw, back to the dark capture's units
        from fnflight.imaging import estimate_noise_levels

        try:
            read_amp, shot_amp = estimate_noise_levels(batch[K.RAW])
        except ValueError:  # too small or too clipped to estimate: no denoised floor for this batch
            return target, {}, floors
        std_read, std_shot = read_amp / ratio, shot_amp / ratio.sqrt()
    den = traditional_denoise(batch[K.RAW], ratio, std_read, std_shot, *isp)
    floors["traditional_denoise"] = sid_quantize(den)
    return target, {}, floors


def shortlong_floors(batch: dict[str, Tensor], testset, opts: dict[str, Any]) -> tuple[Tensor, dict, dict]:
    """Short/long: target, input panels (short brightness-matched for display, long) and the floors
    ``noisy_short``, ``blurry_long`` and ``short_denoise`` (:mod:`fnflight.classical.short_long`)."""
    from fnflight.classical import denoise_short, match_brightness
    from fnflight.data import batch as K
    from fnflight.tasks.short_long import _encoded, display, display_short

    target = display(batch, batch[K.TARGET])
    inputs = {"short (display)": (display_short(batch), False), "long": (display(batch, batch[K.LONG]), True)}
    if not opts.get("_floors", True):
        return target, inputs, {}
    gamma = 2.2 if _encoded(batch) else 1.0
    matched = display(batch, match_brightness(batch[K.SHORT], batch[K.TARGET], gamma))
    floors = {"noisy_short": matched, "blurry_long": display(batch, batch[K.LONG])}
    floors["short_denoise"] = denoise_short(matched)
    return target, inputs, floors


def burst_floors(batch: dict[str, Tensor], testset, opts: dict[str, Any]) -> tuple[Tensor, dict, dict]:
    """Bursts (paper 002): target, the noisy reference frame as input panel, and the floors
    ``reference_frame`` (frame 0 alone), ``average`` (the mean of the frames, as jittered) and
    ``reference_denoise`` (non-local means on frame 0 given the true noise level,
    :func:`fnflight.classical.vst_denoise`), all rendered like the burst task (``gain`` = 1 / white level)."""
    from fnflight.classical import vst_denoise
    from fnflight.data import batch as K
    from fnflight.metrics.image_quality import render_for_metrics

    gain, cm = batch[K.GAIN], batch[K.COLOR_MATRIX]
    target = render_for_metrics(batch[K.TARGET], gain, cm)
    reference = render_for_metrics(batch[K.BURST][:, 0], gain, cm)
    inputs = {"reference frame": (reference, True)}
    if not opts.get("_floors", True):
        return target, inputs, {}
    floors = {"reference_frame": reference, "average": render_for_metrics(batch[K.BURST].mean(1), gain, cm)}
    if K.STD_READ in batch and K.STD_SHOT in batch:
        frame = batch[K.BURST][:, 0]
        den = vst_denoise(frame, torch.ones_like(gain), batch[K.STD_READ], batch[K.STD_SHOT])
        floors["reference_denoise"] = render_for_metrics(den, gain, cm)
    return target, inputs, floors
