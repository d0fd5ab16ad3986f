#!/usr/bin/env python3
"""Writes the synthetic torch.save files of this directory WITHOUT torch.

Python's stdlib pickle writes the pickles, exactly as torch.save's
Pickler does (torch only contributes persistent_id and the reduce
functions, which are re-created here as stubs with torch's names):

  zip_p4.pt      zip format (torch >= 1.6), pickle protocol 4, "archive/"
                 prefix, byteorder file, wrapped {"state_dict": ..., "epoch"}
                 with "module." prefixes (DataParallel)
  zip_p2_big.pt  zip format, protocol 2, byteorder "big" (big-endian bytes)
  zip_extras.pt  zip format, protocol 2; "conv.weight" goes through
                 torch._tensor._rebuild_from_type_v2 (tensor with Python
                 state) and the wrapper holds a numpy scalar (a global
                 outside the allow-list) under "best"
  legacy.pth     legacy format (torch < 1.6 / _use_new_zipfile_serialization
                 =False), protocol 2, with a storage view (view_metadata)
  expected.json  every tensor of the state dict: dtype, shape, values in
                 C order as float (the value torch would give; bfloat16 and
                 float16 values are exactly representable in float32)

Tensor contents cover float32, float64, float16, bfloat16, int64 (scalar,
like num_batches_tracked), int32, uint8, bool, a transposed view, a view
with a storage offset, an expanded (stride 0) view and a Parameter.

    cd nn/checkpoint/testdata && python3 gen.py
"""
import collections, io, json, pickle, struct, sys, types, zipfile

torch = types.ModuleType("torch"); utils = types.ModuleType("torch._utils")
sys.modules["torch"], sys.modules["torch._utils"] = torch, utils
torch._utils = utils
KINDS = {"FloatStorage": ("f", 4), "DoubleStorage": ("d", 8), "HalfStorage": ("e", 2),
         "BFloat16Storage": (None, 2), "LongStorage": ("q", 8), "IntStorage": ("i", 4),
         "ByteStorage": ("B", 1), "BoolStorage": ("?", 1)}
for k in KINDS:
    setattr(torch, k, type(k, (), {"__module__": "torch"}))
def _rebuild_tensor_v2(*a): pass
def _rebuild_parameter(*a): pass
for f in (_rebuild_tensor_v2, _rebuild_parameter):
    f.__module__ = "torch._utils"; setattr(utils, f.__name__, f)

def bf16(x):
    return struct.unpack("<I", struct.pack("<f", x))[0] >> 16

class Storage:
    def __init__(self, key, kind, values):
        self.key, self.kind, self.values = key, kind, values
    def raw(self, order="<"):
        fmt, size = KINDS[self.kind]
        if fmt is None:
            return b"".join(struct.pack(order + "H", bf16(v)) for v in self.values)
        return struct.pack(order + "%d%s" % (len(self.values), fmt), *self.values)
    def value(self, i):
        v = self.values[i]
        if self.kind == "BFloat16Storage":
            return struct.unpack("<f", struct.pack("<I", bf16(v) << 16))[0]
        if self.kind == "HalfStorage":
            return struct.unpack("<e", struct.pack("<e", v))[0]
        return float(v)

class Tensor:
    def __init__(self, st, off, size, stride, param=False):
        self.st, self.off, self.size, self.stride, self.param = st, off, size, stride, param
    def __reduce_ex__(self, proto):
        t = (_rebuild_tensor_v2, (self.st, self.off, tuple(self.size), tuple(self.stride), self.param, collections.OrderedDict()))
        if self.param:
            return (_rebuild_parameter, (Tensor(self.st, self.off, self.size, self.stride), True, collections.OrderedDict()))
        return t
    def values(self):
        idx = [self.off]
        for s, st in zip(self.size, self.stride):
            idx = [i + k * st for i in idx for k in range(s)]
        return [self.st.value(i) for i in idx]

def contig(size):
    st, acc = [], 1
    for s in reversed(size):
        st.insert(0, acc); acc *= s
    return st

S = {
    "w": Storage("0", "FloatStorage", [0.5 * i - 3 for i in range(24)]),
    "d": Storage("1", "DoubleStorage", [1 / 3, -2.5e-8, 1e300, 7.0]),
    "h": Storage("2", "HalfStorage", [1.5, -0.000061035156, 65504.0, 5.96e-08, -0.0, 3.140625]),
    "b": Storage("3", "BFloat16Storage", [1.0, -2.75, 3.0e38, 1.0e-39]),
    "n": Storage("4", "LongStorage", [123456789012]),
    "i": Storage("5", "IntStorage", [-7, 0, 2147483647]),
    "u": Storage("6", "ByteStorage", [0, 200, 255]),
    "t": Storage("7", "BoolStorage", [True, False, True, True]),
}
W = S["w"]
state = collections.OrderedDict([
    ("conv.weight", Tensor(W, 0, [2, 3, 4], contig([2, 3, 4]), param=True)),
    ("conv.weight_t", Tensor(W, 0, [4, 3, 2], [1, 4, 12])),          # permuted view
    ("conv.bias", Tensor(W, 5, [3], [2])),                            # offset + step
    ("row", Tensor(W, 8, [2, 2], [0, 1])),                            # expanded rows
    ("d", Tensor(S["d"], 0, [2, 2], [2, 1])),
    ("h", Tensor(S["h"], 0, [6], [1])),
    ("b", Tensor(S["b"], 0, [2, 2], [2, 1])),
    ("bn.num_batches_tracked", Tensor(S["n"], 0, [], [])),
    ("i", Tensor(S["i"], 0, [3], [1])),
    ("u", Tensor(S["u"], 0, [3], [1])),
    ("t", Tensor(S["t"], 1, [3], [1])),
])
wrapped = {"epoch": 7, "best": 0.5, "arch": "resnet", "state_dict":
           collections.OrderedDict(("module." + k, v) for k, v in state.items())}

class ZipPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", getattr(torch, obj.kind), obj.key, "cpu", len(obj.values))
        return None

def write_zip(path, obj, proto, prefix, order):
    buf = io.BytesIO(); ZipPickler(buf, protocol=proto).dump(obj)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(prefix + "data.pkl", buf.getvalue())
        z.writestr(prefix + "byteorder", "little" if order == "<" else "big")
        for st in S.values():
            z.writestr(prefix + "data/" + st.key, st.raw(order))
        z.writestr(prefix + "version", "3\n")

# Legacy: the bias and the expanded rows use a storage view of W.
class LegacyPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", getattr(torch, obj.kind), obj.key, "cpu", len(obj.values), None)
        if isinstance(obj, tuple) and len(obj) == 2 and obj[0] == "view":
            st, off, n = obj[1]
            return ("storage", getattr(torch, st.kind), st.key, "cpu", len(st.values), ("v" + str(off), off, n))
        return None

class ViewTensor(Tensor):
    def __init__(self, t, voff, vn):
        super().__init__(t.st, t.off, t.size, t.stride); self.voff, self.vn = voff, vn
    def __reduce_ex__(self, proto):
        return (_rebuild_tensor_v2, (("view", (self.st, self.voff, self.vn)), self.off - self.voff,
                tuple(self.size), tuple(self.stride), False, collections.OrderedDict()))

def write_legacy(path):
    legacy = collections.OrderedDict(state)
    legacy["conv.bias"] = ViewTensor(state["conv.bias"], 4, 8)
    legacy["row"] = ViewTensor(state["row"], 8, 2)
    with open(path, "wb") as f:
        pickle.dump(0x1950a86a20f9469cfc6c, f, protocol=2)
        pickle.dump(1001, f, protocol=2)
        pickle.dump({"protocol_version": 1001, "little_endian": True,
                     "type_sizes": {"short": 2, "int": 4, "long": 4}}, f, protocol=2)
        LegacyPickler(f, protocol=2).dump({"state_dict": legacy})
        keys = sorted(st.key for st in S.values())
        pickle.dump(keys, f, protocol=2)
        for k in keys:
            st = [s for s in S.values() if s.key == k][0]
            f.write(struct.pack("<q", len(st.values))); f.write(st.raw())

tensor_mod = types.ModuleType("torch._tensor"); sys.modules["torch._tensor"] = tensor_mod
def _rebuild_from_type_v2(*a): pass
_rebuild_from_type_v2.__module__ = "torch._tensor"; tensor_mod._rebuild_from_type_v2 = _rebuild_from_type_v2
torch.Tensor = type("Tensor", (), {"__module__": "torch"})
np_mod = types.ModuleType("numpy.core.multiarray"); sys.modules["numpy.core.multiarray"] = np_mod
sys.modules["numpy"] = types.ModuleType("numpy"); sys.modules["numpy.core"] = types.ModuleType("numpy.core")
sys.modules["numpy"].core = sys.modules["numpy.core"]; sys.modules["numpy.core"].multiarray = np_mod
def scalar(*a): pass
scalar.__module__ = "numpy.core.multiarray"; np_mod.scalar = scalar

class StateTensor(Tensor):
    def __reduce_ex__(self, proto):
        inner = (self.st, self.off, tuple(self.size), tuple(self.stride), False, collections.OrderedDict())
        return (_rebuild_from_type_v2, (_rebuild_tensor_v2, torch.Tensor, inner, {"tag": 1}))

class NumpyScalar:
    def __reduce__(self):
        return (scalar, ("<f8", b"\x00\x00\x00\x00\x00\x00\xe0?"))

extras = collections.OrderedDict(state)
w = state["conv.weight"]
extras["conv.weight"] = StateTensor(w.st, w.off, w.size, w.stride)

write_zip("zip_p4.pt", wrapped, 4, "archive/", "<")
write_zip("zip_extras.pt", {"state_dict": extras, "best": NumpyScalar(), "epoch": 3}, 2, "archive/", "<")
write_zip("zip_p2_big.pt", state, 2, "zip_p2_big/", ">")
write_legacy("legacy.pth")
exp = {k: {"dtype": t.st.kind, "shape": t.size, "values": t.values()} for k, t in state.items()}
with open("expected.json", "w") as f:
    json.dump(exp, f, indent=1, sort_keys=True)
