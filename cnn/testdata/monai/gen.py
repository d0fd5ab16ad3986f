"""MONAI reference outputs of the full-size 3-D CNNs (and option variants) for
cnn's parity tests, of ViT options for internal/modelspec's, and of training
mode, without committing any weights.

Every parameter and buffer of a model is set from an integer hash of (its
index in state-dict order, the element's index), so Go fills the same model
with bit-identical values (internal/modelspec.HashInit) and only the outputs
(a few numbers per fixture) are stored here. The input is hashed the same way
(tensor index INPUT_TAG).

Rerun (CPU, a few minutes; MONAI is not installed system-wide):
    git -C MONAI-mirror archive 1.3.2 monai | tar -x -C /tmp/monai132
    git -C einops-mirror archive v0.8.2 einops | tar -x -C /tmp/einops   (perceptron ViTs only)
    cd cnn/testdata/monai && PYTHONPATH=/tmp/monai132 /usr/bin/python3 gen.py [name ...]
    PYTHONPATH=/tmp/monai132:/tmp/einops /usr/bin/python3 gen.py --vit [name ...]   (ViTs, into VIT_DIR)
    PYTHONPATH=/tmp/monai132 /usr/bin/python3 gen.py --train [name ...]   (training mode, into train/)
Generated with MONAI 1.3.2, torch 1.13 (Debian python3-torch), numpy 1.24,
float32, model.eval(), torch.no_grad(). Writes manifest.json and
<name>.logits.npy, <name>.embed.npy (the penultimate features: the input of the
final Linear, or the output when feed_forward=False), and per output
torch_f32_vs_f64: max |float32 - float64| / max(1, max|float64|) of torch itself,
to show that rounding alone stays well inside the tolerance.

The hash (splitmix64 finaliser, all arithmetic mod 2^64):
    z = (t << 40) ^ i;  z += 0x9E3779B97F4A7C15
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB
    z ^= z >> 31
    v = float32(z >> 40) * 2^-24 * 2 - 1          (exact: v in [-1, 1))
and the value of element i of tensor t (float32 arithmetic, each step rounded):
    weight with >= 2 dims:  v * float32(sqrt(gain / fan_in)), fan_in = numel / shape[0]
    1-dim "weight" (norm):  v * gamma_spread + gamma_mean
    "bias":                 v * bias_scale
    "running_mean":         v * bias_scale
    "running_var":          v * 0.25 + 1
    num_batches_tracked:    left as is (not used in eval)
gain, gamma_mean, gamma_spread, bias_scale are per fixture in the manifest
("init"), chosen so the logits of the deepest nets stay O(1-100) and differ
between the two batch items (GAMMA_MEAN below). Each step is one correctly
rounded float32 operation, so Go gets the same bits (it must not fuse the
multiply-add; see HashInit.Fill).
"""
import json, math, os, re, sys, time

import numpy as np
import torch

import monai
from monai.networks import nets  # noqa: F401  (the constructors below)
from monai.networks.nets import (ViT, ViTAutoEnc, ResNet, resnet10, resnet18, resnet34, resnet50, resnet101, resnet152,  # noqa: F401
                                 resnet200, DenseNet, DenseNet121, DenseNet169, DenseNet201, DenseNet264, SENet,
                                 SENet154, SEResNet50, SEResNet101, SEResNet152, SEResNext50, SEResNext101,
                                 EfficientNetBN)

INPUT_TAG = (1 << 24) - 1


def hash_uniform(t, n):
    """v in [-1, 1) for elements 0..n-1 of tensor t (float32)."""
    with np.errstate(over="ignore"):
        z = (np.uint64(t) << np.uint64(40)) ^ np.arange(n, dtype=np.uint64)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -24)
    return u * np.float32(2) - np.float32(1)


DEFAULT_INIT = {"gain": 2.0, "gamma_mean": 1.0, "gamma_spread": 0.25, "bias_scale": 0.02}


def hash_init(model, init):
    f32 = np.float32
    sd = model.state_dict()
    with torch.no_grad():
        for t, (name, ten) in enumerate(sd.items()):
            if name.endswith("num_batches_tracked"):
                continue
            assert ten.dtype == torch.float32, name
            n = ten.numel()
            v = hash_uniform(t, n)
            leaf = name.rsplit(".", 1)[-1]
            if ten.dim() >= 2:
                fan_in = n // ten.shape[0]
                val = v * f32(math.sqrt(init["gain"] / fan_in))
            elif leaf == "weight":
                val = v * f32(init["gamma_spread"]) + f32(init["gamma_mean"])
            elif leaf in ("bias", "running_mean"):
                val = v * f32(init["bias_scale"])
            elif leaf == "running_var":
                val = v * f32(0.25) + f32(1)
            else:
                raise ValueError("no hash rule for " + name)
            ten.copy_(torch.from_numpy(val.reshape(tuple(ten.shape))))


# name: (constructor, input shape, init overrides)
R = "spatial_dims=3"
FIXTURES = {
    # ResNet: every depth, widen_factor, shortcut A/B, conv1_t_size/stride,
    # no_max_pool, bias_downsample, feed_forward.
    "resnet10_w05_stem3s2": (f"resnet10({R}, n_input_channels=4, num_classes=3, widen_factor=0.5, conv1_t_size=3, conv1_t_stride=2)", [2, 4, 24, 24, 24], {}),
    "resnet18_A_nomaxpool_w075": (f"resnet18({R}, n_input_channels=4, num_classes=3, shortcut_type='A', no_max_pool=True, widen_factor=0.75)", [2, 4, 16, 16, 16], {}),
    "resnet34_noff_aniso": (f"resnet34({R}, n_input_channels=1, num_classes=2, conv1_t_size=[7, 5, 3], conv1_t_stride=[2, 1, 2], feed_forward=False)", [2, 1, 20, 16, 24], {}),
    "resnet50_nobias_w05": (f"resnet50({R}, n_input_channels=4, num_classes=3, bias_downsample=False, widen_factor=0.5)", [2, 4, 16, 16, 16], {}),
    "resnet101_A_s2": (f"resnet101({R}, n_input_channels=4, num_classes=3, shortcut_type='A', conv1_t_stride=2, widen_factor=0.5)", [2, 4, 32, 32, 32], {}),
    "resnet152": (f"resnet152({R}, n_input_channels=4, num_classes=3)", [2, 4, 16, 16, 16], {}),
    "resnet200_nobias": (f"resnet200({R}, n_input_channels=4, num_classes=3, bias_downsample=False, conv1_t_stride=2)", [2, 4, 32, 32, 32], {}),
    "resnet_custom_w13": (f"ResNet(block='bottleneck', layers=[1, 2, 2, 1], block_inplanes=[10, 20, 30, 40], {R}, n_input_channels=2, num_classes=4, widen_factor=1.3, conv1_t_size=5, no_max_pool=True)", [2, 2, 12, 12, 12], {}),
    # DenseNet
    "densenet121": (f"DenseNet121({R}, in_channels=4, out_channels=3)", [2, 4, 32, 32, 32], {}),
    "densenet169": (f"DenseNet169({R}, in_channels=4, out_channels=3)", [2, 4, 32, 32, 32], {}),
    "densenet201": (f"DenseNet201({R}, in_channels=4, out_channels=3)", [2, 4, 32, 32, 32], {}),
    "densenet264": (f"DenseNet264({R}, in_channels=4, out_channels=3)", [2, 4, 32, 32, 32], {}),
    "densenet121_opts": (f"DenseNet121({R}, in_channels=1, out_channels=5, init_features=32, growth_rate=16, bn_size=2, dropout_prob=0.2)", [2, 1, 32, 32, 32], {}),
    # SENet
    "senet154": (f"SENet154({R}, in_channels=4, num_classes=3)", [2, 4, 16, 16, 16], {}),
    "seresnet50": (f"SEResNet50({R}, in_channels=4, num_classes=3)", [2, 4, 32, 32, 32], {}),
    "seresnet101": (f"SEResNet101({R}, in_channels=4, num_classes=3)", [2, 4, 16, 16, 16], {}),
    "seresnet152": (f"SEResNet152({R}, in_channels=4, num_classes=3)", [2, 4, 16, 16, 16], {}),
    "seresnext50": (f"SEResNext50({R}, in_channels=4, num_classes=3)", [2, 4, 32, 32, 32], {}),
    "seresnext101": (f"SEResNext101({R}, in_channels=4, num_classes=3)", [2, 4, 16, 16, 16], {}),
    "senet_resnetblock_3x3": (f"SENet({R}, in_channels=2, block='se_resnet_bottleneck', layers=(1, 2, 1, 1), groups=1, reduction=8, dropout_prob=0.3, inplanes=32, downsample_kernel_size=3, input_3x3=True, num_classes=4)", [2, 2, 24, 24, 24], {}),
    # EfficientNetBN b0 with other channels, b1-b7
    "efficientnet_b0_c1_k5": (f"EfficientNetBN('efficientnet-b0', pretrained=False, {R}, in_channels=1, num_classes=5)", [2, 1, 32, 32, 32], {"gain": 4.0}),
    **{f"efficientnet_b{k}": (f"EfficientNetBN('efficientnet-b{k}', pretrained=False, {R}, in_channels=4, num_classes=3)", [2, 4, 32, 32, 32], {"gain": 4.0}) for k in range(1, 8)},
    # Odd, non-cubic inputs (MRI volumes are rarely powers of two): pooling
    # and SAME-padding conventions at odd sizes, per axis.
    "resnet18_odd": (f"resnet18({R}, n_input_channels=4, num_classes=3, conv1_t_stride=2)", [1, 4, 37, 45, 29], {}),
    "densenet121_odd": (f"DenseNet121({R}, in_channels=4, out_channels=3)", [1, 4, 45, 53, 39], {}),
    "seresnext50_odd": (f"SEResNext50({R}, in_channels=4, num_classes=3)", [1, 4, 37, 45, 51], {}),
    "seresnet50_odd": (f"SEResNet50({R}, in_channels=1, num_classes=2)", [1, 1, 35, 41, 33], {}),
    "efficientnet_b0_odd": (f"EfficientNetBN('efficientnet-b0', pretrained=False, {R}, in_channels=4, num_classes=3)", [1, 4, 41, 45, 53], {"gain": 4.0}),
    "efficientnet_b3_odd": (f"EfficientNetBN('efficientnet-b3', pretrained=False, {R}, in_channels=4, num_classes=3)", [1, 4, 41, 49, 50], {"gain": 4.0}),
}

# gamma_mean per fixture, from `gen.py --tune NAME` (bisection for max|logit|
# near 10, 2 for EfficientNet: below it the hashed nets fade to their biases,
# above it they blow up and amplify rounding; EfficientNet's swish and SE
# gates turn chaotic sooner: at max|logit| ~20 torch's own float32 logits
# differ from float64 by 1e-4 relative, at ~2 by 3e-6). efficientnet_b1, b6
# and b7 were set by hand between bisection points so that the recorded
# torch_f32_vs_f64 stays below 1e-5 with the items still clearly apart.
GAMMA_MEAN = {
    "resnet18_odd": 1.8,
    "densenet121_odd": 2.12,
    "seresnext50_odd": 1.848,
    "seresnet50_odd": 1.769,
    "efficientnet_b0_odd": 1.575,
    "efficientnet_b3_odd": 1.4,
    "densenet121": 2.12,
    "densenet121_opts": 2.199,
    "densenet169": 2.159,
    "densenet201": 2.199,
    "densenet264": 2.042,
    "efficientnet_b0_c1_k5": 1.575,
    "efficientnet_b1": 1.515,
    "efficientnet_b2": 1.535,
    "efficientnet_b3": 1.458,
    "efficientnet_b4": 1.458,
    "efficientnet_b5": 1.418,
    "efficientnet_b6": 1.39,
    "efficientnet_b7": 1.33,
    "resnet101_A_s2": 1.497,
    "resnet10_w05_stem3s2": 2.591,
    "resnet152": 1.34,
    "resnet18_A_nomaxpool_w075": 2.199,
    "resnet200_nobias": 1.261,
    "resnet34_noff_aniso": 1.458,
    "resnet50_nobias_w05": 1.535,
    "resnet_custom_w13": 2.042,
    "senet154": 1.925,
    "senet_resnetblock_3x3": 2.12,
    "seresnet101": 1.848,
    "seresnet152": 1.769,
    "seresnet50": 1.769,
    "seresnext101": 1.808,
    "seresnext50": 1.848,
}

# Training mode (batch statistics in the batch norms, running statistics
# updated with momentum, no dropout in these models): logits, the gradient
# of sum(logits * s) (s hashed with tensor SEED_TAG) for the final Linear's
# weight and bias, the stem convolution's weight gradient for its first two
# filters, and the first batch norm's running mean after the pass, from a
# float64 run of the same model (see run_train for the tolerance). Written
# with `gen.py --train` to train/ (tested by cnn's TestMONAIHashedTraining).
# Inputs leave layer4 at 2^3 voxels so that batch statistics are not over two
# values.
SEED_TAG = (1 << 24) - 2
TRAIN_FIXTURES = {
    "train_resnet18_w05": (f"resnet18({R}, n_input_channels=4, num_classes=3, widen_factor=0.5)", [2, 4, 32, 32, 32], 1.0),
    "train_resnet50_A_w025": (f"resnet50({R}, n_input_channels=2, num_classes=3, widen_factor=0.25, shortcut_type='A', conv1_t_stride=2)", [2, 2, 64, 64, 64], 1.0),
    "train_densenet_small": (f"DenseNet({R}, in_channels=4, out_channels=3, init_features=16, growth_rate=8, block_config=(2, 3, 4, 2), bn_size=2)", [2, 4, 64, 64, 64], 1.0),
    # drop-connect and the head's dropout switched off on both sides
    # ("no_dropout"), the rest of training mode as MONAI's.
    "train_efficientnet_b0_nodrop": (f"EfficientNetBN('efficientnet-b0', pretrained=False, {R}, in_channels=4, num_classes=3)", [2, 4, 64, 64, 64], 1.0),
    "train_seresnext_small": (f"SENet({R}, in_channels=4, block='se_resnetxt_bottleneck', layers=(1, 2, 1, 1), groups=8, reduction=4, dropout_prob=None, inplanes=32, downsample_kernel_size=1, input_3x3=False, num_classes=3)", [2, 4, 64, 64, 64], 1.0),
}

# ViT / ViTAutoEnc options the ../shared fixtures do not reach (perceptron
# patch embedding, anisotropic images and patches, post_activation=None,
# out_channels, deconv_chns, patch 4 with up-kernels of 2). MONAI refuses
# ViTAutoEnc patches that are not squares (8).
# Written with `gen.py --vit` to VIT_DIR (tested by internal/modelspec).
VIT_DIR = "../../../internal/modelspec/testdata/vit"
VIT_INIT = {"gain": 1.0, "gamma_mean": 1.0, "gamma_spread": 0.25, "bias_scale": 0.02}
VIT_FIXTURES = {
    "vit_cls_perceptron_aniso": ("ViT(in_channels=2, img_size=(32, 24, 16), patch_size=(8, 8, 4), hidden_size=48, mlp_dim=96, num_layers=3, num_heads=6, proj_type='perceptron', classification=True, num_classes=4, post_activation=None, qkv_bias=True)", [2, 2, 32, 24, 16]),
    "vit_cls_tanh_dropout": ("ViT(in_channels=4, img_size=32, patch_size=16, hidden_size=64, mlp_dim=80, num_layers=2, num_heads=8, classification=True, num_classes=3, dropout_rate=0.1)", [2, 4, 32, 32, 32]),
    "vit_feat_pos_embed_perceptron": ("ViT(in_channels=1, img_size=(16, 32, 32), patch_size=(8, 16, 8), hidden_size=32, mlp_dim=64, num_layers=2, num_heads=2, pos_embed='perceptron')", [2, 1, 16, 32, 32]),
    "vitautoenc_opts_aniso": ("ViTAutoEnc(in_channels=3, out_channels=2, deconv_chns=8, img_size=(32, 16, 16), patch_size=(16, 16, 4), hidden_size=48, mlp_dim=96, num_layers=2, num_heads=4, proj_type='perceptron', qkv_bias=True)", [1, 3, 32, 16, 16]),
    "vitautoenc_opts_p16_aniso": ("ViTAutoEnc(in_channels=3, out_channels=2, deconv_chns=8, img_size=(32, 16, 16), patch_size=16, hidden_size=48, mlp_dim=96, num_layers=2, num_heads=4, proj_type='perceptron', qkv_bias=True)", [1, 3, 32, 16, 16]),
    "vitautoenc_p4_aniso": ("ViTAutoEnc(in_channels=2, img_size=(16, 16, 8), patch_size=4, hidden_size=32, mlp_dim=64, num_layers=2, num_heads=4)", [2, 2, 16, 16, 8]),
}

TOLERANCE = "max |go - torch| <= 1e-4 * max(1, max|torch|)"


def final_linear(model):
    for attr in ("fc", "last_linear", "_fc"):
        m = getattr(model, attr, None)
        if isinstance(m, torch.nn.Linear):
            return m
    if hasattr(model, "class_layers"):
        return model.class_layers.out
    return None


def atomic_write(path, write):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def run(name, ctor, shape, init_over):
    init = dict(DEFAULT_INIT, **init_over)
    init["gamma_mean"] = GAMMA_MEAN[name]
    t0 = time.time()
    model = eval(ctor)
    model.eval()
    hash_init(model, init)
    sd = model.state_dict()
    x = torch.from_numpy(hash_uniform(INPUT_TAG, int(np.prod(shape))).reshape(shape))
    captured = {}
    lin = final_linear(model)
    if lin is not None:
        lin.register_forward_hook(lambda m, i, o: captured.__setitem__("embed", i[0].detach().clone()))
    with torch.no_grad():
        logits = model(x)
    embed = captured.get("embed", logits)
    lg, em = logits.numpy().astype(np.float32), embed.numpy().astype(np.float32)
    # torch's own float32 rounding error (against float64, same weights): the
    # fixture is only meaningful if it is well below the tolerance.
    with torch.no_grad():
        model.double()
        lg64 = model(x.double()).numpy()
        em64 = captured.get("embed", torch.from_numpy(lg64)).numpy()
    cond = {"logits": float(np.abs(lg - lg64).max() / max(1.0, np.abs(lg64).max())),
            "embed": float(np.abs(em - em64).max() / max(1.0, np.abs(em64).max()))}
    np.save(f"{name}.logits.npy", lg)
    np.save(f"{name}.embed.npy", em)
    params = sum(p.numel() for p in model.parameters())
    diff = float(np.abs(lg[0] - lg[1]).max()) if lg.shape[0] > 1 else float("nan")
    print(f"{name}: {params} params, max|logit| {np.abs(lg).max():.4g}, max|embed| {np.abs(em).max():.4g}, "
          f"item difference {diff:.4g}, float32 vs float64 {cond['logits']:.2g} {cond['embed']:.2g}, "
          f"{time.time() - t0:.1f}s", flush=True)
    return {
        "monai": ctor,
        "input_shape": shape,
        "input": {"hash_tensor": INPUT_TAG},
        "init": init,
        "outputs": [
            {"name": "logits", "file": f"{name}.logits.npy", "shape": list(lg.shape)},
            {"name": "embed", "file": f"{name}.embed.npy", "shape": list(em.shape)},
        ],
        "max_abs": {"logits": float(np.abs(lg).max()), "embed": float(np.abs(em).max())},
        "torch_f32_vs_f64": cond,
        "params": params,
        "state_dict": {k: list(v.shape) for k, v in sd.items()},
    }


def tune(name, steps=7):
    """Bisects gamma_mean (other init values as in FIXTURES) for max|logit|
    near the target; prints the trace. Used once to fill GAMMA_MEAN."""
    ctor, shape, over = FIXTURES[name]
    target = 2.0 if name.startswith("efficientnet") else 10.0
    model = eval(ctor)
    model.eval()
    x = torch.from_numpy(hash_uniform(INPUT_TAG, int(np.prod(shape))).reshape(shape))
    lo, hi = 0.5, 3.0
    for _ in range(steps):
        gm = round((lo + hi) / 2, 3)
        hash_init(model, dict(DEFAULT_INIT, **dict(over, gamma_mean=gm)))
        with torch.no_grad():
            lg = model(x).numpy()
        m = float(np.abs(lg).max())
        d = float(np.abs(lg[0] - lg[1]).max())
        print(f"{name} gamma_mean {gm}: max|logit| {m:.3g}, item difference {d:.3g}", flush=True)
        if not np.isfinite(m) or m > target:
            hi = gm
        else:
            lo = gm


def run_vit(name, ctor, shape):
    t0 = time.time()
    model = eval(ctor)
    model.eval()
    hash_init(model, VIT_INIT)
    sd = model.state_dict()
    x = torch.from_numpy(hash_uniform(INPUT_TAG, int(np.prod(shape))).reshape(shape))

    def named(m, inp):
        with torch.no_grad():
            out, hidden = m(inp)
        main_name = "recon" if isinstance(m, ViTAutoEnc) else ("logits" if m.classification else "features")
        return {main_name: out.numpy(), "hidden_first": hidden[0].numpy(), "hidden_last": hidden[-1].numpy()}

    outs = named(model, x)
    outs64 = named(model.double(), x.double())
    res = {"monai": ctor, "input_shape": shape, "input": {"hash_tensor": INPUT_TAG}, "init": VIT_INIT,
           "outputs": [], "max_abs": {}, "torch_f32_vs_f64": {}}
    for k, v in outs.items():
        v = v.astype(np.float32)
        np.save(os.path.join(VIT_DIR, f"{name}.{k}.npy"), v)
        res["outputs"].append({"name": k, "file": f"{name}.{k}.npy", "shape": list(v.shape)})
        res["max_abs"][k] = float(np.abs(v).max())
        res["torch_f32_vs_f64"][k] = float(np.abs(v - outs64[k]).max() / max(1.0, np.abs(outs64[k]).max()))
    res["params"] = sum(p.numel() for p in model.parameters())
    res["state_dict"] = {k: list(v.shape) for k, v in sd.items()}
    first = next(iter(outs.values()))
    diff = float(np.abs(first[0] - first[1]).max()) if first.shape[0] > 1 else float("nan")
    print(f"{name}: {res['params']} params, max|out| {res['max_abs']}, item difference {diff:.3g}, "
          f"float32 vs float64 {res['torch_f32_vs_f64']}, {time.time() - t0:.1f}s", flush=True)
    return res


def run_train(name, ctor, shape, gamma_mean):
    import copy
    t0 = time.time()
    init = dict(DEFAULT_INIT, gamma_mean=gamma_mean)
    model = eval(ctor)
    hash_init(model, init)
    model.train()
    no_dropout = False
    for mod in model.modules():
        if getattr(mod, "drop_connect_rate", None):
            mod.drop_connect_rate = 0.0
            no_dropout = True
        if isinstance(mod, torch.nn.Dropout) and mod.p > 0:
            mod.p = 0.0
            no_dropout = True
    sd = model.state_dict()
    keys = list(sd.keys())
    stem = keys[0]
    head = final_linear(model)
    head_name = [n for n, p in model.named_parameters() if p is head.weight][0]
    head_bias = head_name[: -len("weight")] + "bias"
    rm = [k for k in keys if k.endswith("running_mean")][0]
    x = torch.from_numpy(hash_uniform(INPUT_TAG, int(np.prod(shape))).reshape(shape))

    def once(m, inp):
        out = m(inp)
        seed = torch.from_numpy(hash_uniform(SEED_TAG, out.numel()).reshape(tuple(out.shape))).to(out.dtype)
        out.backward(seed)
        p = dict(m.named_parameters())
        b = dict(m.named_buffers())
        g = p[stem].grad
        return {"logits": out.detach().numpy(),
                f"grad:{head_name}": p[head_name].grad.numpy(),
                f"grad:{head_bias}": p[head_bias].grad.numpy(),
                f"grad2:{stem}": g[:2].numpy(),
                f"buffer:{rm}": b[rm].detach().numpy().copy()}

    m64 = copy.deepcopy(model).double()
    outs = once(model, x)
    outs64 = once(m64, x.double())
    res = {"monai": ctor, "input_shape": shape, "input": {"hash_tensor": INPUT_TAG}, "seed_tensor": SEED_TAG,
           "init": init, "reference": "float64", "no_dropout": no_dropout,
           "outputs": [], "max_abs": {}, "torch_f32_vs_f64": {}}
    for k, v64 in outs64.items():
        v = v64.astype(np.float32)
        cond = float(np.abs(outs[k] - v64).max() / max(1.0, np.abs(v64).max()))
        fn = f"{name}.{k.split(':')[0]}.{k.split(':')[-1]}.npy" if ":" in k else f"{name}.{k}.npy"
        np.save(os.path.join("train", fn), v)
        # Batch-norm backward cancels heavily: torch's own float32 stem
        # gradients are only good to ~1e-3, so the reference is the float64
        # pass and an output's tolerance is 4x torch's float32 error (at
        # least the usual 1e-4).
        res["outputs"].append({"name": k, "file": fn, "shape": list(v.shape), "tol_rel": max(1e-4, 4 * cond)})
        res["max_abs"][k] = float(np.abs(v).max())
        res["torch_f32_vs_f64"][k] = cond
    res["params"] = sum(p.numel() for p in model.parameters())
    res["state_dict"] = {k: list(v.shape) for k, v in sd.items()}
    lg = outs["logits"]
    print(f"{name}: {res['params']} params, max|out| {res['max_abs']}, item difference {np.abs(lg[0] - lg[1]).max():.3g}, "
          f"float32 vs float64 {res['torch_f32_vs_f64']}, {time.time() - t0:.1f}s", flush=True)
    return res


def write_manifest(path, man):
    man["fixtures"] = dict(sorted(man["fixtures"].items()))
    text = json.dumps(man, indent=1)
    text = re.sub(r"\[\s*([-0-9.e,\s]*?)\s*\]", lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]", text)
    atomic_write(path, lambda f: f.write((text + "\n").encode()))


def main():
    torch.set_num_threads(2)
    only = sys.argv[1:]
    if only and only[0] == "--tune":
        for name in only[1:]:
            tune(name)
        return
    if only and only[0] == "--train":
        os.makedirs("train", exist_ok=True)
        path = os.path.join("train", "manifest.json")
        man = {"fixtures": {}}
        if os.path.exists(path):
            with open(path) as f:
                man = json.load(f)
        man["generator"] = (f"MONAI {monai.__version__}, torch {torch.__version__} CPU, numpy {np.__version__}, float32, "
                            "model.train(), one forward and backward; weights, input and output seed from the hash in gen.py")
        man["tolerance"] = TOLERANCE
        for name, (ctor, shape, gm) in TRAIN_FIXTURES.items():
            if len(only) == 1 or name in only[1:]:
                man["fixtures"][name] = run_train(name, ctor, shape, gm)
        write_manifest(path, man)
        return
    if only and only[0] == "--vit":
        os.makedirs(VIT_DIR, exist_ok=True)
        path = os.path.join(VIT_DIR, "manifest.json")
        man = {"fixtures": {}}
        if os.path.exists(path):
            with open(path) as f:
                man = json.load(f)
        man["generator"] = (f"MONAI {monai.__version__}, torch {torch.__version__} CPU, numpy {np.__version__}, float32, "
                            "model.eval(), torch.no_grad(); weights and input from the hash in cnn/testdata/monai/gen.py")
        man["tolerance"] = TOLERANCE
        for name, (ctor, shape) in VIT_FIXTURES.items():
            if len(only) == 1 or name in only[1:]:
                man["fixtures"][name] = run_vit(name, ctor, shape)
        write_manifest(path, man)
        return
    path = "manifest.json"
    man = {"fixtures": {}}
    if os.path.exists(path):
        with open(path) as f:
            man = json.load(f)
    man["generator"] = (f"MONAI {monai.__version__}, torch {torch.__version__} CPU, numpy {np.__version__}, "
                        "float32, model.eval(), torch.no_grad(); weights and input from the hash in gen.py")
    man["tolerance"] = TOLERANCE
    for name, (ctor, shape, over) in FIXTURES.items():
        if only and name not in only:
            continue
        man["fixtures"][name] = run(name, ctor, shape, over)
    write_manifest(path, man)


if __name__ == "__main__":
    main()
