import torch, time, statistics
S = 4*448*37  # ~ strip of 37 rows? use real strip
S = 112*448
def bench(f, n=7):
    f(); ts=[]
    for _ in range(n):
        t0=time.perf_counter(); f(); ts.append(time.perf_counter()-t0)
    return statistics.median(ts)
A = torch.randn(90, 450); P = torch.randn(450, S); R = torch.empty(90, S); G = torch.randn(90, S)
Pt = torch.randn(S, 450); Rt = torch.empty(S, 90); GP = torch.empty(450, S); GPt = torch.empty(S, 450); Gt = torch.randn(S, 90)
fl = 2*90*450*S/1e9
cases = {
 "fwd R=A@P": lambda: torch.mm(A, P, out=R),
 "fwd Rt=Pt_view@At (P row-major)": lambda: torch.mm(P.t(), A.t(), out=Rt),
 "fwd Rt=Pt@At (Pt contiguous)": lambda: torch.mm(Pt, A.t(), out=Rt),
 "bwd GP=At@G": lambda: torch.mm(A.t(), G, out=GP),
 "bwd GPt=Gt@A": lambda: torch.mm(Gt, A, out=GPt),
 "bwd GPt=G.t()@A": lambda: torch.mm(G.t(), A, out=GPt),
 "gb A+=G@P.t()": lambda: A.addmm_(G, P.t()),
 "gb A+=Gt.t()@Pt": lambda: A.addmm_(Gt.t(), Pt),
 "m 2048": lambda: torch.mm(torch.ones(1), torch.ones(1)) if False else None,
}
m = torch.randn(2048, 2048)
print("sgemm", round(2*2048**3/bench(lambda: m@m)/1e9,1))
for k, f in cases.items():
    if k.startswith("m "): continue
    print(k, round(fl/bench(f),1), "GFLOPS")
x = torch.randn(90, S); c = torch.randn(90, S); o = torch.empty(S); prod = torch.empty(90, S)
def mix1(): torch.sum(torch.mul(x, c, out=prod), 0, out=o)
def mix2():
    torch.mul(x[0], c[0], out=o)
    for jj in range(1, 90): o.addcmul_(x[jj], c[jj])
def mix3(): torch.linalg.vecdot(x, c, dim=0, out=o)
for f in (mix1, mix2, mix3): print(f.__name__, round(bench(f)*1000,2), "ms")
