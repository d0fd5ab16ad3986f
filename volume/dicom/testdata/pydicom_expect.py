"""Write what pydicom decodes from each DICOM file named on the command line.

Usage: python3 pydicom_expect.py OUTDIR FILE...

For every file whose pixels pydicom can decode with its own handlers (no
plugins), OUTDIR/<index>.npy holds the stored values (before rescale) as
float64, shape (frames, rows, columns); OUTDIR/expect.json lists, per file,
the transfer syntax, rows, columns, frames, and the error text when pydicom
could not decode it. Used by pydicom_test.go.
"""
import json
import os
import sys

import numpy as np
import pydicom

out = sys.argv[1]
res = []
for i, path in enumerate(sys.argv[2:]):
    r = {"path": path}
    try:
        ds = pydicom.dcmread(path, force=True)
        r["ts"] = str(ds.file_meta.TransferSyntaxUID) if "TransferSyntaxUID" in getattr(ds, "file_meta", {}) else ""
        r["rows"] = int(ds.get("Rows", 0) or 0)
        r["cols"] = int(ds.get("Columns", 0) or 0)
        r["frames"] = int(ds.get("NumberOfFrames", 1) or 1)
        r["spp"] = int(ds.get("SamplesPerPixel", 1) or 1)
        a = ds.pixel_array.astype(np.float64)
        a = a.reshape((r["frames"], r["rows"], r["cols"]) if r["spp"] == 1 else a.shape)
        np.save(os.path.join(out, "%d.npy" % i), a)
        r["npy"] = "%d.npy" % i
    except Exception as e:  # noqa: BLE001 - record why pydicom failed
        r["error"] = "%s: %s" % (type(e).__name__, e)
    res.append(r)
json.dump(res, open(os.path.join(out, "expect.json"), "w"), indent=1)
