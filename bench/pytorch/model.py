"""PyTorch side of bench/model.ts: a plain nanoGPT-style GPT-2 (no transformers library) with the same shapes.

Prints one JSON line: forward tokens/s (batch 1 x seq, no_grad), training step tokens/s (forward + backward +
AdamW, given batch), and greedy decoding tokens/s with a KV cache (prompt + new tokens, argmax; for each batch of
rows in gen_batches, every row on its own argmax).
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, d, heads, dropout):
        super().__init__()
        self.heads = heads
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.attn_dropout = nn.Dropout(dropout)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x, cache=None):
        b, t, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        q, k, v = (y.view(b, t, self.heads, d // self.heads).transpose(1, 2) for y in (q, k, v))
        if cache is not None:
            if cache.get("k") is not None:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        s = k.shape[2]
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.shape[-1]))
        mask = torch.ones(t, s, dtype=torch.bool).tril(diagonal=s - t)
        att = att.masked_fill(~mask, float("-inf"))
        att = self.attn_dropout(F.softmax(att, dim=-1))
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, d)
        return self.resid_dropout(self.c_proj(y))


class Block(nn.Module):
    def __init__(self, d, heads, dropout):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = Attention(d, heads, dropout)
        self.ln_2 = nn.LayerNorm(d)
        self.c_fc = nn.Linear(d, 4 * d)
        self.c_proj = nn.Linear(4 * d, d)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, cache=None):
        x = x + self.attn(self.ln_1(x), cache)
        return x + self.dropout(self.c_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh")))


class GPT(nn.Module):
    def __init__(self, vocab, positions, d, layers, heads, dropout=0.1):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(positions, d)
        self.drop = nn.Dropout(dropout)
        self.h = nn.ModuleList([Block(d, heads, dropout) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.lm_head.weight = self.wte.weight  # tied, as GPT-2
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.dim() >= 2:
                nn.init.normal_(p, 0.0, 0.02)

    def forward(self, idx, caches=None, past=0):
        b, t = idx.shape
        pos = torch.arange(past, past + t)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        for i, block in enumerate(self.h):
            x = block(x, None if caches is None else caches[i])
        return self.lm_head(self.ln_f(x))


# Training steps warm up longer: the first few grow the allocator's heap to the steady state (page faults).
TRAIN_WARMUPS = 3


def best_time(fn, min_seconds, min_reps=3, warmups=1):
    for _ in range(warmups):
        fn()
    best, reps, start = float("inf"), 0, time.perf_counter()
    while reps < min_reps or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        reps += 1
    return best


def main():
    cfg = json.loads(sys.argv[1])
    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(0)
    d, layers, heads = cfg["n_embd"], cfg["n_layer"], cfg["n_head"]
    model = GPT(cfg["vocab_size"], cfg["n_positions"], d, layers, heads)
    seq, secs = cfg["seq"], cfg["seconds"]
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "params": sum(p.numel() for p in model.parameters())}
    g = torch.Generator().manual_seed(1)

    if cfg.get("forward"):
        model.eval()
        ids = torch.randint(0, cfg["vocab_size"], (1, seq), generator=g)
        with torch.no_grad():
            out["forward_tokens_per_s"] = seq / best_time(lambda: model(ids), secs)

    if cfg.get("train_batch"):
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        ids = torch.randint(0, cfg["vocab_size"], (cfg["train_batch"], seq), generator=g)

        def step():
            logits = model(ids)
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        out["train_tokens_per_s"] = cfg["train_batch"] * seq / best_time(step, secs, 2, TRAIN_WARMUPS)

    model.eval()
    for rows in cfg.get("gen_batches", [1] if cfg.get("gen_new") else []):
        prompt = torch.randint(0, cfg["vocab_size"], (rows, cfg["gen_prompt"]), generator=g)

        def generate():
            with torch.no_grad():
                caches = [{} for _ in range(layers)]
                logits = model(prompt, caches, 0)
                past = prompt.shape[1]
                for _ in range(cfg["gen_new"]):
                    nxt = logits[:, -1].argmax(-1, keepdim=True)
                    logits = model(nxt, caches, past)
                    past += 1

        t = best_time(generate, secs, 2)
        if rows == 1:
            out["generate_s"] = t
            # decode rate: the new tokens over the whole call, prefill included (as lmforge's side reports it)
            out["generate_tokens_per_s"] = cfg["gen_new"] / t
        else:
            out["generate_batched_tokens_per_s"] = rows * cfg["gen_new"] / t

    print(json.dumps(out))


main()
