import sys, torch
sys.argv = ["x", "direct", "linear", "0"]
exec(open("/tmp/exp/exp.py").read().split("def evaluate")[0])
import kornia
from fnflight.tasks.metrics import render_for_metrics, psnr_per_image
def score(out, b):
    l = loss({"output": out}, b)
    p = psnr_per_image(render_for_metrics(out, b[keys.GAIN], b[keys.COLOR_MATRIX]), render_for_metrics(b[keys.TARGET], b[keys.GAIN], b[keys.COLOR_MATRIX])).mean()
    return round(float(l["loss"]),4), round(float(l["l2"]),4), round(float(l["grad"]),4), round(float(p),2)
for b in val[:2]:
    x = b["noflash"]
    print("dims", b.get("dim", None))
    print(" noisy", score(x, b))
    print(" black", score(torch.zeros_like(x), b))
    for s in (1.0, 2.0, 4.0):
        print(f" blur{s}", score(kornia.filters.gaussian_blur2d(x, (int(6*s)|1,)*2, (s, s), border_type="reflect"), b))
    print(" target", score(b["target"], b))
