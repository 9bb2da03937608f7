import torch, time, statistics, sys
import sys as _s, fnflight.ops.basis_filter; bf = _s.modules["fnflight.ops.basis_filter"]
from fnflight.ops import two_scale_basis_filter
torch.manual_seed(0)
s, j, c, k, d = 448, 90, 3, 15, 4
x = torch.randn(1, c, s, s, requires_grad=True)
a = (0.05*torch.randn(1, j, c, k, k)).requires_grad_()
b = (0.05*torch.randn(1, j, c, k, k)).requires_grad_()
co = torch.randn(1, j, s, s, requires_grad=True)
m = torch.randn(2048, 2048)
def run():
    for t in (x, a, b, co): t.grad = None
    t0 = time.perf_counter(); out = two_scale_basis_filter(x, a, b, co, d); out.backward(torch.ones_like(out)); return time.perf_counter() - t0
configs = sys.argv[1:] or ["default"]
ts = {cfg: [] for cfg in configs}; mm = []
orig_init = bf._Workspace.__init__
for rep in range(5):
    for cfg in configs:
        bf.STRIP_PIXELS = 65536; bf._Workspace.__init__ = orig_init
        if cfg.startswith("strip") and not cfg.endswith("rows"): bf.STRIP_PIXELS = int(cfg[5:])
        bf.MIX_ROWS = cfg.endswith("rows")
        if cfg.startswith("strip") and cfg.endswith("rows"): bf.STRIP_PIXELS = int(cfg[5:-4])
        if cfg == "noscratch":
            def init(self, like): self.like = like; self.bufs = {}
            bf._Workspace.__init__ = init
        run() if rep == 0 else None
        ts[cfg].append(run())
    t0 = time.perf_counter(); m @ m; mm.append(time.perf_counter() - t0)
sg = 2*2048**3/statistics.median(mm)/1e9
for cfg, v in ts.items():
    med = statistics.median(v)
    print(cfg, round(med*1000), "ms", "roofline", round(146.3/med/sg, 3), "sgemm", round(sg))
