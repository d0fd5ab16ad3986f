#!/usr/bin/env python3
"""Reference digests of the torch.save fixtures, computed WITHOUT torch.

Python's own pickle machine (stdlib) loads data.pkl with stub torch
functions; storages are read from the zip; every tensor is materialised in
C order from (storage, offset, size, stride) and converted to float32.
Per file it prints: the number of tensors, the SHA-256 over, for each key in
sorted order, the key, its shape and its float32 little-endian bytes, and
the float64 sum of all values (summed in sorted key order, C order).

    python3 refsums.py ../../../../shared/golden/models/*.pt
"""
import collections, hashlib, pickle, struct, sys, zipfile, os

FMT = {"FloatStorage": ("f", 4), "DoubleStorage": ("d", 8), "HalfStorage": ("e", 2),
       "LongStorage": ("q", 8), "IntStorage": ("i", 4), "ByteStorage": ("B", 1),
       "BoolStorage": ("?", 1)}

class Storage:
    def __init__(self, kind): self.kind = kind

def rebuild(storage, offset, size, stride, *rest):
    return ("tensor", storage, offset, tuple(size), tuple(stride))

class Unpickler(pickle.Unpickler):
    def __init__(self, f, z, prefix):
        super().__init__(f); self.z, self.prefix = z, prefix
    def find_class(self, mod, name):
        if (mod, name) == ("collections", "OrderedDict"): return collections.OrderedDict
        if (mod, name) == ("torch._utils", "_rebuild_tensor_v2"): return rebuild
        if mod == "torch" and name in FMT: return Storage(name)
        raise pickle.UnpicklingError(mod + "." + name)
    def persistent_load(self, pid):
        _, st, key, loc, numel = pid
        fmt, size = FMT[st.kind]
        raw = self.z.read(self.prefix + "data/" + key)
        return struct.unpack("<%d%s" % (numel, fmt), raw[:numel * size])

def elems(t):
    _, vals, off, size, stride = t
    idx = [off]
    for s, st in zip(size, stride):
        idx = [i + k * st for i in idx for k in range(s)]
    return [float(vals[i]) for i in idx]

for path in sys.argv[1:]:
    z = zipfile.ZipFile(path)
    pkl = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
    sd = Unpickler(z.open(pkl), z, pkl[:-len("data.pkl")]).load()
    h, total, contig = hashlib.sha256(), 0.0, True
    for k in sorted(sd):
        v = elems(sd[k])
        h.update(k.encode() + repr(list(sd[k][3])).encode())
        h.update(struct.pack("<%df" % len(v), *v))
        for x in v:  # plain left-to-right float64 additions (not sum(), which compensates)
            total += x
        exp = 1
        for s, st in reversed(list(zip(sd[k][3], sd[k][4]))):
            contig &= s == 1 or st == exp; exp *= s
    print(os.path.basename(path), len(sd), h.hexdigest(), repr(total), "contiguous" if contig else "strided")
