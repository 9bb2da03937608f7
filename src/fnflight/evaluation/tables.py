"""Evaluation records -> the papers' table layouts (markdown), and the files ``fnflight eval`` writes.

A record is ``{"method", <level key>, "psnr", "ssim"[, "lpips"][, "chroma_off"][, "count"]}`` (one method
at one level; ``chroma_off``: :func:`fnflight.metrics.color_artifacts.chroma_off`, a share in [0, 1]).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["NOT_AVAILABLE", "clean_record", "table", "write_text"]


def _fmt_level(value: float, key: str) -> str:
    """A column's level: ``100x`` (dimming, amplification ratio), ``gain 4`` (burst noise level)."""
    return f"gain {value:g}" if key == "level" else f"{value:g}x"


NOT_AVAILABLE = "n/a"


def table(
    records: list[dict[str, Any]], key: str | None = "dim", mean: bool = False, lpips_column: bool = False
) -> str:
    """Markdown table in the paper's layout: a row per method, PSNR / SSIM per level of ``key`` (highest
    first; ``None``: one PSNR / SSIM pair per method); ``mean`` adds the mean over all images (weighted by
    each level's ``count`` when records carry one). An LPIPS column follows each SSIM when records carry
    ``lpips`` or ``lpips_column`` asks for one (cells without a value: ``n/a``)."""
    with_lpips = lpips_column or any("lpips" in r for r in records)
    if key is None:
        key, records = "_one", [{**r, "_one": 1.0} for r in records]
        names_only = True
    else:
        names_only = False
    levels = sorted({float(r[key]) for r in records}, reverse=True)
    methods: list[str] = []
    for r in records:
        if r["method"] not in methods:
            methods.append(r["method"])
    names = [_fmt_level(d, key) for d in levels] + (["mean"] if mean else [])
    metrics = ("PSNR", "SSIM", "LPIPS") if with_lpips else ("PSNR", "SSIM")
    head = "| Method | " + " | ".join(f"{n} {m}" for n in names for m in metrics) + " |"
    if names_only:
        head = "| Method | " + " | ".join(metrics) + " |"
    rule = "|---|" + "---:|" * (len(metrics) * len(names))

    def lpips_cell(rows: list[dict[str, Any]]) -> list[str]:
        if not with_lpips:
            return []
        if not rows or any("lpips" not in r for r in rows):
            return [NOT_AVAILABLE]
        n = sum(float(r.get("count", 1)) for r in rows)
        return [f"{sum(float(r['lpips']) * float(r.get('count', 1)) for r in rows) / n:.3f}"]

    # chroma_off (the share of output pixels whose colour no input has, issue 22): one column over all images,
    # for the methods that report it (learned nets of tasks with input panels; not the floors)
    with_chroma = any("chroma_off" in r for r in records)
    if with_chroma:
        head += " chroma_off |"
        rule += "---:|"
    lines = [head, rule]
    for m in methods:
        cells = []
        rows = [r for r in records if r["method"] == m]
        for d in levels:
            hit = [r for r in rows if float(r[key]) == d]
            cells += [f"{hit[0]['psnr']:.2f} dB", f"{hit[0]['ssim']:.3f}"] if hit else ["-", "-"]
            cells += lpips_cell(hit[:1])
        if mean:
            n = sum(float(r.get("count", 1)) for r in rows)
            psnr = sum(float(r["psnr"]) * float(r.get("count", 1)) for r in rows) / n
            ssim = sum(float(r["ssim"]) * float(r.get("count", 1)) for r in rows) / n
            cells += [f"{psnr:.2f} dB", f"{ssim:.3f}"] + lpips_cell(rows)
        if with_chroma:
            have = [r for r in rows if "chroma_off" in r]
            n = sum(float(r.get("count", 1)) for r in have)
            off = sum(float(r["chroma_off"]) * float(r.get("count", 1)) for r in have) / n if have else None
            cells.append("-" if off is None else f"{100 * off:.3f}%")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def clean_record(record: dict[str, Any], key: str | None = "dim") -> dict[str, Any]:
    out: dict[str, Any] = {"method": str(record["method"])}
    if key is not None:
        level = float(record[key])
        out[key] = int(level) if level.is_integer() else level
    out = {**out, "psnr": round(float(record["psnr"]), 4), "ssim": round(float(record["ssim"]), 5)}
    if "lpips" in record:
        out["lpips"] = round(float(record["lpips"]), 5)
    if "chroma_off" in record:
        out["chroma_off"] = round(float(record["chroma_off"]), 7)
    return out


def write_text(path: Path, text: str) -> None:
    """Write a small text file through a hidden temporary renamed into place: an interrupt or a full disk
    leaves the old file or none, never half of one."""
    tmp = path.with_name(f".{path.name}.part")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
