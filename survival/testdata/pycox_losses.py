# Generates pycox_losses.json: pycox's loss functions (pycox/models/loss.py,
# imported unchanged from the pycox repository) on random inputs, with the
# gradients from torch autograd, in float64. Run with PYCOX_SRC pointing at
# a directory holding pycox/models/{loss,utils}.py:
#   PYCOX_SRC=/tmp/pycoxsrc python3 pycox_losses.py > pycox_losses.json
import json, os, sys, types
import numpy as np
import torch

# pycox imports torchtuples only for type names; stub it.
tt = types.ModuleType("torchtuples")
tt.TupleTree = tuple
tt.utils = types.SimpleNamespace()
sys.modules["torchtuples"] = tt
sys.path.insert(0, os.environ["PYCOX_SRC"])
pkg = types.ModuleType("pycox"); pkg.__path__ = [os.path.join(os.environ["PYCOX_SRC"], "pycox")]
sys.modules["pycox"] = pkg
from pycox.models import loss as L  # noqa: E402

rng = np.random.default_rng(20240601)
torch.set_default_dtype(torch.float64)


def pair_rank_mat(idx, ev):
    # pycox.models.data._pair_rank_mat
    n = len(idx)
    mat = np.zeros((n, n))
    for i in range(n):
        if ev[i] == 0:
            continue
        for j in range(n):
            if idx[i] < idx[j] or (idx[i] == idx[j] and ev[j] == 0):
                mat[i, j] = 1
    return mat


def case(name, n, m):
    phi = rng.normal(size=(n, m)) * 1.5
    idx = rng.integers(0, m, size=n)
    ev = (rng.random(n) < 0.6).astype(float)
    out = {"phi": phi.tolist(), "idx": idx.tolist(), "event": ev.tolist()}
    t_idx = torch.tensor(idx)
    t_ev = torch.tensor(ev)
    for key, fn in [
        ("logistic_hazard", lambda p: L.nll_logistic_hazard(p, t_idx, t_ev)),
        ("pmf", lambda p: L.nll_pmf(p, t_idx, t_ev)),
        ("deephit", lambda p: L.DeepHitSingleLoss(0.2, 0.1)(p, t_idx, t_ev, torch.tensor(pair_rank_mat(idx, ev)))),
        ("deephit_a05_s1", lambda p: L.DeepHitSingleLoss(0.5, 1.0)(p, t_idx, t_ev, torch.tensor(pair_rank_mat(idx, ev)))),
    ]:
        p = torch.tensor(phi, requires_grad=True)
        v = fn(p)
        v.backward()
        out[key] = {"value": v.item(), "grad": p.grad.tolist()}
    return out


def cox_case(n):
    log_h = rng.normal(size=n)
    dur = rng.permutation(n).astype(float) + 1.0  # no ties
    ev = (rng.random(n) < 0.7).astype(float)
    ev[0] = 1
    h = torch.tensor(log_h, requires_grad=True)
    v = L.cox_ph_loss(h, torch.tensor(dur), torch.tensor(ev))
    v.backward()
    return {"log_h": log_h.tolist(), "time": dur.tolist(), "event": ev.tolist(),
            "value": v.item(), "grad": h.grad.tolist()}


json.dump({"generator": "pycox loss.py (git HEAD), torch " + torch.__version__,
           "grid": [case("a", 12, 6), case("b", 30, 10)],
           "cox": [cox_case(25), cox_case(60)]}, sys.stdout, indent=1)
