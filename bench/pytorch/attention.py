"""PyTorch side of bench/attention.ts: causal attention as nanoGPT writes it (q·kᵀ·scale, masked_fill, softmax,
dropout, ·v) for each B,H,T,D shape given: the best forward and backward times (ms) and the bytes autograd saves
for the backward (unique storages, q/k/v excluded) plus the output's."""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(int(sys.argv[1]))
seconds, p = float(sys.argv[2]), float(sys.argv[3])
out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "results": {}}


def attention(q, k, v):
    t, s = q.shape[2], k.shape[2]
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.shape[-1]))
    mask = torch.ones(t, s, dtype=torch.bool).tril(diagonal=s - t)
    att = att.masked_fill(~mask, float("-inf"))
    return F.dropout(F.softmax(att, dim=-1), p, training=True) @ v


for spec in sys.argv[4:]:
    b, h, t, d = (int(x) for x in spec.split(","))
    torch.manual_seed(0)
    q, k, v = (torch.randn(b, h, t, d, requires_grad=True) for _ in range(3))
    w = torch.randn(b, h, t, d)
    inputs = {x.data_ptr() for x in (q, k, v)}
    saved = {}

    def pack(x):
        if x.data_ptr() not in inputs:
            saved[x.data_ptr()] = x.untyped_storage().nbytes() if hasattr(x, "untyped_storage") else x.storage().nbytes()
        return x

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
        y = attention(q, k, v)
    held = sum(saved.values()) + y.numel() * 4
    (y * w).sum().backward()
    fwd = bwd = float("inf")
    start, reps = time.perf_counter(), 0
    while reps < 3 or time.perf_counter() - start < seconds:
        q.grad = k.grad = v.grad = None
        t0 = time.perf_counter()
        y = attention(q, k, v)
        t1 = time.perf_counter()
        (y * w).sum().backward()
        fwd, bwd = min(fwd, t1 - t0), min(bwd, time.perf_counter() - t1)
        reps += 1
    out["results"][spec] = {"forward_ms": fwd * 1e3, "backward_ms": bwd * 1e3, "held_bytes": held}
print(json.dumps(out))
