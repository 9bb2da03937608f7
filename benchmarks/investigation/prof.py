import torch, time
from fnflight.ops import two_scale_basis_filter
torch.manual_seed(0)
s, j, c, k, d = 448, 90, 3, 15, 4
x = torch.randn(1, c, s, s, requires_grad=True)
a = (0.05*torch.randn(1, j, c, k, k)).requires_grad_()
b = (0.05*torch.randn(1, j, c, k, k)).requires_grad_()
co = torch.randn(1, j, s, s, requires_grad=True)
def run():
    out = two_scale_basis_filter(x, a, b, co, d); out.backward(torch.ones_like(out))
run()
from torch.profiler import profile, ProfilerActivity
with profile(activities=[ProfilerActivity.CPU]) as p:
    run(); run()
print(p.key_averages().table(sort_by="self_cpu_time_total", row_limit=18))
