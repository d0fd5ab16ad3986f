# Peer side of internal/peerbench: for each stdin line "<workload> <calls>" it runs
# that many back-to-back calls (as ../shared/bench/peers_torch.py times them) and
# prints the best in seconds. Workloads: sgemmN (N×N), stem, conv64, conv256, attention.
import sys, time, torch, torch.nn as nn
torch.set_num_threads(2); torch.manual_seed(0)
W = {}
def make(name):
    if name.startswith("sgemm"):
        n = int(name[5:]); a, b = torch.randn(n, n), torch.randn(n, n); return lambda: a @ b
    if name == "attention":
        q, k, v = (torch.randn(1, 12, 216, 64) for _ in range(3))
        return lambda: (q @ k.transpose(-2, -1) * 0.125).softmax(-1) @ v
    spec = {"stem": (4, 64, 7, 2, 3, (1, 4, 96, 96, 96)), "conv64": (64, 64, 3, 1, 1, (1, 64, 24, 24, 24)),
            "conv256": (256, 256, 3, 1, 1, (1, 256, 6, 6, 6))}[name]
    c = nn.Conv3d(*spec[:5], bias=False); y = torch.randn(*spec[5]); return lambda: c(y)
with torch.no_grad():
    for line in sys.stdin:
        parts = line.split(); name = parts[0]; reps = int(parts[1]) if len(parts) > 1 else 1
        if name not in W:
            W[name] = make(name); W[name]()
        b = 1e9
        for _ in range(reps):
            s = time.perf_counter(); W[name](); b = min(b, time.perf_counter() - s)
        print(b, flush=True)
