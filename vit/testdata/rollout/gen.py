"""Generates the attention-rollout fixture of vit/rollout_test.go.

A tiny ViT written in plain PyTorch with the layout and state-dict names of
MONAI 1.3.2's ViT (conv patch embedding, cls token, pre-norm
TransformerBlocks whose SABlock splits qkv as "b h (qkv l d) -> qkv b l h d",
final LayerNorm, classification head with Tanh). MONAI is not needed: the
forward pass is spelled out here. The attention matrices are the ones the
forward pass itself computes (softmax(q kᵀ · d^-0.5)); the rollout is
computed from them as Abnar & Zuidema (2020) and jacobgil/vit-explain do —
heads fused, the lowest entries discarded (sparing flat index 0), identity
added, rows renormalised (properly, per row), multiplied last block on the
left.

Run from this folder with /usr/bin/python3 gen.py; it writes weights.pt,
input.npy and rollout.npy (options, N, T, T) for the options listed in OPTIONS (mirrored in the test).
"""
import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(0)
C, IMG, PATCH, HID, MLP, LAYERS, HEADS, N = 2, (8, 8, 4), (4, 4, 2), 16, 32, 2, 4, 2
GRID = [i // p for i, p in zip(IMG, PATCH)]
NP = GRID[0] * GRID[1] * GRID[2]
T = NP + 1
# (head fusion, discard ratio, start block)
OPTIONS = [("mean", 0.0, 0), ("max", 0.5, 0), ("min", 0.0, 1), ("mean", 0.3, 1)]


def rnd(*shape, std=0.5, mean=0.0):
    return torch.randn(*shape) * std + mean


sd = {
    "cls_token": rnd(1, 1, HID),
    "patch_embedding.position_embeddings": rnd(1, NP, HID),
    "patch_embedding.patch_embeddings.weight": rnd(HID, C, *PATCH, std=0.3),
    "patch_embedding.patch_embeddings.bias": rnd(HID),
}
for l in range(LAYERS):
    p = f"blocks.{l}."
    sd[p + "mlp.linear1.weight"] = rnd(MLP, HID, std=0.2)
    sd[p + "mlp.linear1.bias"] = rnd(MLP, std=0.1)
    sd[p + "mlp.linear2.weight"] = rnd(HID, MLP, std=0.2)
    sd[p + "mlp.linear2.bias"] = rnd(HID, std=0.1)
    sd[p + "norm1.weight"] = rnd(HID, std=0.1, mean=1)
    sd[p + "norm1.bias"] = rnd(HID, std=0.1)
    sd[p + "attn.out_proj.weight"] = rnd(HID, HID, std=0.3)
    sd[p + "attn.out_proj.bias"] = rnd(HID, std=0.1)
    sd[p + "attn.qkv.weight"] = rnd(3 * HID, HID, std=0.5)
    sd[p + "norm2.weight"] = rnd(HID, std=0.1, mean=1)
    sd[p + "norm2.bias"] = rnd(HID, std=0.1)
sd["norm.weight"] = rnd(HID, std=0.1, mean=1)
sd["norm.bias"] = rnd(HID, std=0.1)
sd["classification_head.0.weight"] = rnd(2, HID, std=0.3)
sd["classification_head.0.bias"] = rnd(2, std=0.1)

x = torch.randn(N, C, *IMG)


def forward(x):
    t = F.conv3d(x, sd["patch_embedding.patch_embeddings.weight"], sd["patch_embedding.patch_embeddings.bias"], stride=PATCH)
    t = t.flatten(2).transpose(-1, -2) + sd["patch_embedding.position_embeddings"]
    t = torch.cat([sd["cls_token"].expand(x.shape[0], -1, -1), t], dim=1)
    atts = []
    d = HID // HEADS
    for l in range(LAYERS):
        p = f"blocks.{l}."
        h = F.layer_norm(t, (HID,), sd[p + "norm1.weight"], sd[p + "norm1.bias"], 1e-5)
        qkv = F.linear(h, sd[p + "attn.qkv.weight"])  # b t (qkv l d)
        qkv = qkv.reshape(x.shape[0], T, 3, HEADS, d).permute(2, 0, 3, 1, 4)  # qkv b l t d
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = (torch.einsum("blxd,blyd->blxy", q, k) * d ** -0.5).softmax(dim=-1)
        atts.append(att)
        y = torch.einsum("bhxy,bhyd->bhxd", att, v).permute(0, 2, 1, 3).reshape(x.shape[0], T, HID)
        t = t + F.linear(y, sd[p + "attn.out_proj.weight"], sd[p + "attn.out_proj.bias"])
        h = F.layer_norm(t, (HID,), sd[p + "norm2.weight"], sd[p + "norm2.bias"], 1e-5)
        h = F.linear(F.gelu(F.linear(h, sd[p + "mlp.linear1.weight"], sd[p + "mlp.linear1.bias"])),
                     sd[p + "mlp.linear2.weight"], sd[p + "mlp.linear2.bias"])
        t = t + h
    return atts


def rollout(atts, fusion, ratio, start):
    out = []
    for b in range(N):
        result = torch.eye(T, dtype=torch.float64)
        for l, att in enumerate(atts):
            if l < start:
                continue
            a = att[b].double()
            a = {"mean": a.mean(0), "max": a.max(0)[0], "min": a.min(0)[0]}[fusion]
            flat = a.flatten().clone()
            k = int(flat.numel() * ratio)
            if k:
                _, idx = flat.topk(k, largest=False)
                idx = idx[idx != 0]
                flat[idx] = 0
            a = flat.view(T, T) + torch.eye(T, dtype=torch.float64)
            a = a / a.sum(dim=-1, keepdim=True)
            result = a @ result
        out.append(result)
    return torch.stack(out)


with torch.no_grad():
    atts = forward(x)
    torch.save(sd, "weights.pt")
    np.save("input.npy", x.numpy().astype(np.float32))
    np.save("rollout.npy", torch.stack([rollout(atts, *o) for o in OPTIONS]).numpy().astype(np.float32))
