"""Quick loss-variant experiment: manual Adam loop, clipped-sRGB PSNR on fixed val batches."""
import sys, time, torch, json
from fnflight.config import compose, to_container, instantiate
from fnflight.tasks.training import build_datamodule
from fnflight.tasks import losses
from fnflight.tasks.fnf import fnf_inputs
from fnflight.tasks.metrics import render_for_metrics, psnr_per_image
from fnflight.data import batch as keys
from fnflight.imaging import srgb as S

model, variant, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
extra = sys.argv[4:]
D = "/work/shared/data"
ov = [f"model={model}", "data=fnf_folder", f"data.init_args.source.init_args.path={D}/bsds500-trainval/train",
      "data.init_args.source.init_args.val_count=0", "data.init_args.source.init_args.split=all",
      f"data.init_args.val_source={{class_path: fnflight.data.sources.ImageFolder, init_args: {{path: {D}/bsds500-trainval/val, split: all}}}}",
      "data.init_args.crop=96", "data.init_args.batch_size=4", "data.init_args.val_batch_size=4", "data.init_args.limit_val=16",
      "data.init_args.num_workers=0"]
if model != "deepfnf_small":
    ov.append("model.net.init_args.width=0.125")
    if model not in ("direct", "kpn"):
        ov.append("model.net.init_args.num_basis=16")
ov += extra
cfg = compose("train", ov)
torch.manual_seed(0)
dm = build_datamodule(cfg); dm.setup("fit")
net = instantiate(to_container(cfg.model)["net"])
orig = S.srgb_from_linear
if variant == "odd":
    def f(x, linear_above_one=False):
        return torch.sign(x) * orig(x.abs(), linear_above_one)
    import fnflight.imaging.color as C
    C.srgb_from_linear = f
if variant == "dmatch":
    import fnflight.nets.fnf_baselines as FB
    state = {}
    def en(img, std):
        if "m" not in state:
            state["m"] = img.mean((1,2,3), keepdim=True).clamp_min(1e-6); return img, std, torch.ones_like(state["m"])
        r = state.pop("m") / img.mean((1,2,3), keepdim=True).clamp_min(1e-6); return img * r, std * r, None
    FB.exposure_normalize = en
if variant == "nonorm":
    import fnflight.nets.fnf_baselines as FB
    FB.exposure_normalize = lambda img, std: (img, std, torch.ones(img.shape[0],1,1,1))
if variant == "clamp":
    import fnflight.imaging.color as C
    C.srgb_from_linear = lambda x, linear_above_one=False: orig(x.clamp_min(0), linear_above_one)
if "dfnonorm" in variant:
    import fnflight.nets.deepfnf as DF
    DF.exposure_normalize = lambda img, std: (img, std, None)
if "gzero" in variant:
    with torch.no_grad():
        net.net.pixel_decoder.out.weight[net.num_basis:].zero_()
flashclean = "flashclean" in variant
if "czero" in variant:
    with torch.no_grad():
        net.net.pixel_decoder.out.weight.zero_(); net.net.pixel_decoder.out.bias[:net.num_basis].zero_()
if "fmatch" in variant:
    inner = net.net
    class Match(torch.nn.Module):
        def __init__(s, n): super().__init__(); s.n = n; s.stride = n.stride
        def forward(s, x):
            r = x[:, 0:3].mean((1,2,3), keepdim=True).clamp_min(1e-6) / x[:, 3:6].mean((1,2,3), keepdim=True).clamp_min(1e-6)
            x = torch.cat([x[:, 0:3], x[:, 3:6]*r, x[:, 6:9], x[:, 9:12]*r], 1)
            return s.n(x)
    net.net = Match(inner)
if "innorm" in variant:
    inner = net.net
    class Norm(torch.nn.Module):
        def __init__(s, n): super().__init__(); s.n = n; s.stride = n.stride
        def forward(s, x):
            m = x[:, 0:3].mean((1,2,3), keepdim=True).clamp_min(1e-6); mf = x[:, 3:6].mean((1,2,3), keepdim=True).clamp_min(1e-6)
            x = torch.cat([x[:, 0:3]/m, x[:, 3:6]/mf, x[:, 6:9]/m, x[:, 9:12]/mf], 1)
            return s.n(x)
    net.net = Norm(inner)
if "gone" in variant:
    import fnflight.nets.deepfnf as DF
    _f = DF.filter_with_basis
    class Wrap(torch.nn.Module):
        def __init__(s, n): super().__init__(); s.n = n
        def forward(s, *a, **k):
            o = s.n(*a, **k); o["output"] = o["filtered"]; return o
    net = Wrap(net)
loss = losses.DeepFnFLoss()
import fnflight.imaging.color as C
opt = torch.optim.Adam(net.parameters(), lr=float(cfg.optim.lr))
val = [dm.degrade_seeded(b, 0, 'val') for b in dm.val_dataloader()]
if 'noflashin' in variant:
    for b in val: b['flash'] = torch.zeros_like(b['flash']); b['flash_std'] = torch.zeros_like(b['flash_std'])
if 'flashclean' in variant:
    for b in val: b['flash'] = b['target'].clone()
g = torch.Generator().manual_seed(1)
def evaluate():
    net.eval(); ps = []
    with torch.no_grad():
        for b in val:
            out = net(**fnf_inputs(b))["output"]
            p = psnr_per_image(render_for_metrics(out, b[keys.GAIN], b[keys.COLOR_MATRIX]), render_for_metrics(b[keys.TARGET], b[keys.GAIN], b[keys.COLOR_MATRIX]))
            ps.append(p)
    net.train(); a = torch.stack(ps); return [round(float(a.mean()),2)] + [round(float(v),2) for v in a.mean(0)]
recent=[]
it = iter(dm.train_dataloader()); t0 = time.time()
log = [(0, evaluate())]
for s in range(1, steps + 1):
    try: b = next(it)
    except StopIteration: it = iter(dm.train_dataloader()); b = next(it)
    b = dm.degrade(b, g, 'train')
    if flashclean: b['flash'] = b['target'].clone()
    if 'noflashin' in variant: b['flash'] = torch.zeros_like(b['flash']); b['flash_std'] = torch.zeros_like(b['flash_std'])
    l = loss(net(**fnf_inputs(b)), b)["loss"]
    opt.zero_grad(); l.backward(); opt.step(); recent=(recent+[float(l)])[-20:]
    if s % (steps // 4) == 0: log.append((s, evaluate(), round(float(sum(recent)/len(recent)),4)))
print(json.dumps({"model": model, "variant": variant, "extra": extra, "log": log, "s": round(time.time() - t0)}))
