#!/usr/bin/python3
"""Produces the PyTorch reference numbers pasted into nn/parity_test.go
(TestTrainingStepPyTorchParity), nn/loss_test.go (TestCrossEntropyPyTorch,
TestBCEWithLogitsPyTorch) and nn/module_test.go (TestMultiHeadAttentionPyTorch),
printed as JSON.

Run with the Debian python3-torch (1.13):  /usr/bin/python3 nn/testdata/torch_reference.py
TestTorchReferenceScript (METASURV_TORCH=1) runs it and compares its output
with the constants in the tests.
"""
import json
import math

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float32)


def fill_sin(t, a, s, add=0.0):
    """w[i] = s*sin(a*i + 0.3) + add over the flat (row-major) index, as fillSin in parity_test.go."""
    n = t.numel()
    v = torch.tensor([s * math.sin(a * i + 0.3) + add for i in range(n)], dtype=torch.float64)
    with torch.no_grad():
        t.copy_(v.to(torch.float32).reshape(t.shape))


def training_step():
    c1 = torch.nn.Conv3d(2, 3, 3, padding=1, bias=True)
    bn = torch.nn.BatchNorm3d(3)
    c2 = torch.nn.Conv3d(3, 4, 3, stride=2, padding=1, bias=False)
    gn = torch.nn.GroupNorm(2, 4)
    fc = torch.nn.Linear(4, 3)
    fill_sin(c1.weight, 0.37, 0.3)
    fill_sin(c1.bias, 0.5, 0.1)
    fill_sin(bn.weight, 0.9, 0.2, 1)
    fill_sin(bn.bias, 0.7, 0.1)
    fill_sin(c2.weight, 0.23, 0.3)
    fill_sin(gn.weight, 1.1, 0.3, 1)
    fill_sin(gn.bias, 0.4, 0.1)
    fill_sin(fc.weight, 0.61, 0.5)
    fill_sin(fc.bias, 0.8, 0.1)
    n = 2 * 2 * 6 * 6 * 6
    x = torch.tensor([math.cos(0.13 * i) for i in range(n)], dtype=torch.float64).to(torch.float32).reshape(2, 2, 6, 6, 6)
    bn.train()
    h = F.max_pool3d(F.relu(bn(c1(x))), 2)
    h = F.gelu(gn(c2(h)))
    h = torch.flatten(F.adaptive_avg_pool3d(h, 1), 1)
    loss = F.cross_entropy(fc(h), torch.tensor([2, 0]), weight=torch.tensor([1.0, 2.0, 0.5]), label_smoothing=0.1)
    loss.backward()
    grads = []
    for name, p in [("c1.w", c1.weight), ("c1.b", c1.bias), ("bn.w", bn.weight), ("bn.b", bn.bias),
                    ("c2.w", c2.weight), ("gn.w", gn.weight), ("gn.b", gn.bias), ("fc.w", fc.weight), ("fc.b", fc.bias)]:
        g = p.grad.detach().to(torch.float64).flatten()
        grads.append([name, g.sum().item(), g.abs().sum().item(), g[0].item()])
    return {"loss": loss.item(), "grads": grads,
            "running_mean": bn.running_mean.tolist(), "running_var": bn.running_var.tolist()}


def cross_entropy():
    x = torch.tensor([[1, -.5, 2], [.3, .2, -1], [-2, 1.5, .5], [0, 0, 0]], requires_grad=True)
    y = torch.tensor([2, 0, -100, 1])
    loss = F.cross_entropy(x, y, weight=torch.tensor([.5, 2, 1.5]), label_smoothing=.2, ignore_index=-100)
    loss.backward()
    return {"loss": loss.item(), "grad": x.grad.flatten().tolist()}


def bce_with_logits():
    x = torch.tensor([[.5, -1], [2, .1]], requires_grad=True)
    y = torch.tensor([[1., 0], [0, 1]])
    loss = F.binary_cross_entropy_with_logits(x, y, pos_weight=torch.tensor([3, .5]))
    loss.backward()
    return {"loss": loss.item(), "grad": x.grad.flatten().tolist()}


def self_attention():
    """MONAI SABlock's arithmetic: qkv Linear without bias, (B,N,3,H,d), softmax(q·kᵀ/√d)·v, out_proj."""
    b, n, c, heads = 1, 3, 8, 2
    d = c // heads
    qkv_w = torch.tensor([0.5 * math.sin(0.37 * i) for i in range(3 * c * c)]).reshape(3 * c, c)
    out_w = torch.tensor([0.5 * math.cos(0.23 * i) for i in range(c * c)]).reshape(c, c)
    out_b = torch.tensor([0.01 * i for i in range(c)])
    x = torch.tensor([math.cos(0.51 * i) for i in range(b * n * c)]).reshape(b, n, c)
    qkv = F.linear(x, qkv_w).reshape(b, n, 3, heads, d).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d), dim=-1)
    y = (att @ v).permute(0, 2, 1, 3).reshape(b, n, c)
    return {"out": F.linear(y, out_w, out_b).flatten().tolist()}


if __name__ == "__main__":
    print(json.dumps({"training_step": training_step(), "cross_entropy": cross_entropy(),
                      "bce_with_logits": bce_with_logits(), "self_attention": self_attention()}, indent=1))
