"""PyTorch side of bench/matmul.ts: f32 matmul GFLOP/s (best of timed repeats) for the shapes given as MxKxN."""
import json
import sys
import time

import torch

torch.set_num_threads(int(sys.argv[1]))
min_seconds = float(sys.argv[2])
out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "results": {}}
for spec in sys.argv[3:]:
    m, k, n = (int(v) for v in spec.split("x"))
    a = torch.randn(m, k)
    b = torch.randn(k, n)
    c = torch.matmul(a, b)
    best = float("inf")
    start = time.perf_counter()
    reps = 0
    while reps < 3 or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        torch.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
        reps += 1
    out["results"][spec] = 2 * m * n * k / best / 1e9
print(json.dumps(out))
