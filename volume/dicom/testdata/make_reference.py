"""Build DICOM reference exports from the real scans in ../shared.

Usage: /usr/bin/python3 make_reference.py SHARED_NIFTI_DIR OUTDIR [--big]

Writes one folder per case under OUTDIR, each a PACS-like export (opaque
file names, shuffled order) made with pydicom from ch2 (Colin27 T1, 1 mm)
and inia19 (0.5 mm), then re-encoded with dcmtk/gdcm where the case says
so. cases.json lists every case with what the Go test expects of it
(number of series, or that it must be refused). reference_test.go converts
each case with dcm2niix and with this package and compares them in world
space.

Cases (small crops unless --big):
  axial        uint16, BitsStored 12, explicit VR LE
  oblique      signed int16 with negative values, rotated 20/-10/15 degrees
  reversed     sagittal slices, slice axis pointing left-to-right reversed,
               InstanceNumber opposite to the positions
  rescaled     constant RescaleSlope 0.5, RescaleIntercept -20
  rescalevar   RescaleSlope varying slice by slice (float output)
  philips      Philips private scale slope (dcm2niix's default precise scaling)
  gapped       one slice missing (must be refused, naming the position)
  multiecho    one SeriesInstanceUID, two echoes (TE 12 and 90 ms)
  multiseries  T1 axial + T2 coronal + 3-plane localizer in one folder
  enhanced     one Enhanced MR multi-frame file (functional groups)
  enhanced2echo    two echoes in one Enhanced MR file (per-frame echo times)
  enhancedimplicit the enhanced file in Implicit VR Little Endian
  mosaic       one Siemens mosaic (CSA header) of 16 slices of 32x32
  jpegsv1, jpeg14sv7, rle, gdcmjpeg, implicit, bigendian, deflated
               the axial case re-encoded by dcmcjpeg, dcmcrle, gdcmconv,
               dcmconv
  --big: big200 coronal ch2, 217 slices of 181x181 (speed), and
         mixed: axial + coronal + sagittal + localizer of full ch2.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import uuid

import numpy as np
import nibabel as nib
import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

MR = "1.2.840.10008.5.1.4.1.1.4"
ENH_MR = "1.2.840.10008.5.1.4.1.1.4.1"
rng = random.Random(20261206)


def ds_str(x):
    """A DS value of at most 16 characters."""
    for prec in range(10, 2, -1):
        s = "%.*g" % (prec, x)
        if len(s) <= 16:
            return s
    raise ValueError(x)


def rot(ax, deg):
    t = np.deg2rad(deg)
    c, s = np.cos(t), np.sin(t)
    m = np.eye(4)
    i, j = [(1, 2), (0, 2), (0, 1)][ax]
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


def base_ds(sop_class, series_uid, study_uid, number, desc, meta):
    fm = FileMetaDataset()
    fm.MediaStorageSOPClassUID = sop_class
    fm.MediaStorageSOPInstanceUID = generate_uid()
    fm.TransferSyntaxUID = ExplicitVRLittleEndian
    fm.ImplementationClassUID = generate_uid()
    ds = FileDataset(None, {}, file_meta=fm, preamble=b"\0" * 128)
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = fm.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.Modality = "MR"
    ds.Manufacturer = "SIEMENS"
    ds.PatientID = "phantom"
    ds.PatientName = "Colin^27"
    ds.StudyDate, ds.SeriesDate, ds.StudyTime, ds.SeriesTime = "20260101", "20260101", "120000", "120000"
    ds.SeriesNumber = number
    ds.SeriesDescription = desc
    ds.ProtocolName = desc
    ds.MagneticFieldStrength = "3"
    ds.ScanningSequence = meta.get("seq", "GR")
    ds.SequenceVariant = "SP"
    ds.MRAcquisitionType = meta.get("acq", "3D")
    ds.RepetitionTime = ds_str(meta.get("tr", 2300))
    ds.EchoTime = ds_str(meta.get("te", 3))
    if "ti" in meta:
        ds.InversionTime = ds_str(meta["ti"])
    ds.FlipAngle = ds_str(meta.get("flip", 9))
    if meta.get("contrast"):
        ds.ContrastBolusAgent = meta["contrast"]
    ds.ImageType = meta.get("imagetype", ["ORIGINAL", "PRIMARY", "M", "ND"])
    return ds


def set_pixels(ds, arr, signed, bits_stored):
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = arr.shape[-2], arr.shape[-1]
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.PixelData = arr.astype("<i2" if signed else "<u2").tobytes()


def write_series(out, vol, affine, desc, number, meta=None, series_uid=None, study_uid=None,
                 signed=False, bits=16, slopes=None, inters=None, drop=(), reverse_instance=False,
                 echo=None, philips_ss=None):
    """Write vol[i,j,k] as one classic MR slice per k, placed by the RAS affine."""
    meta = meta or {}
    series_uid = series_uid or generate_uid()
    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine
    ci, cj = lps[:3, 0], lps[:3, 1]
    rowcos, colcos = ci / np.linalg.norm(ci), cj / np.linalg.norm(cj)
    ps = [np.linalg.norm(cj), np.linalg.norm(ci)]
    nk = vol.shape[2]
    for k in range(nk):
        if k in drop:
            continue
        ds = base_ds(MR, series_uid, study_uid, number, desc, meta)
        ds.InstanceNumber = (nk - k) if reverse_instance else k + 1
        ds.AcquisitionNumber = 1
        if echo is not None:
            ds.EchoNumbers = echo
        pos = lps @ np.array([0, 0, k, 1.0])
        ds.ImagePositionPatient = [ds_str(x) for x in pos[:3]]
        ds.ImageOrientationPatient = [ds_str(x) for x in list(rowcos) + list(colcos)]
        ds.PixelSpacing = [ds_str(x) for x in ps]
        ds.SliceThickness = ds_str(np.linalg.norm(lps[:3, 2]))
        ds.SliceLocation = ds_str(pos[2])
        if slopes is not None:
            ds.RescaleSlope = ds_str(slopes[k])
            ds.RescaleIntercept = ds_str(inters[k])
            ds.RescaleType = "US"
        if philips_ss is not None:
            ds.Manufacturer = "Philips Medical Systems"
            ds.add_new(0x20050010, "LO", "Philips MR Imaging DD 001")
            ds.add_new(0x2005100E, "FL", float(philips_ss))
        set_pixels(ds, vol[:, :, k].T, signed, bits)
        ds.save_as(os.path.join(out, uuid.uuid4().hex[:12].upper()), write_like_original=False)
    return series_uid


def write_enhanced(out, vol, affine, desc, number, meta, slope=1.0, inter=0.0, echoes=None):
    """Write vol as one Enhanced MR file; echoes = [(te, volume), ...]
    puts several echoes in the same file (per-frame MREchoSequence)."""
    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine
    ci, cj = lps[:3, 0], lps[:3, 1]
    rowcos, colcos = ci / np.linalg.norm(ci), cj / np.linalg.norm(cj)
    ps = [np.linalg.norm(cj), np.linalg.norm(ci)]
    nk = vol.shape[2]
    ds = base_ds(ENH_MR, generate_uid(), generate_uid(), number, desc, meta)
    ds.InstanceNumber = 1
    shared = Dataset()
    pm = Dataset()
    pm.PixelSpacing = [ds_str(x) for x in ps]
    pm.SliceThickness = ds_str(np.linalg.norm(lps[:3, 2]))
    shared.PixelMeasuresSequence = [pm]
    po = Dataset()
    po.ImageOrientationPatient = [ds_str(x) for x in list(rowcos) + list(colcos)]
    shared.PlaneOrientationSequence = [po]
    pvt = Dataset()
    pvt.RescaleSlope, pvt.RescaleIntercept, pvt.RescaleType = ds_str(slope), ds_str(inter), "US"
    shared.PixelValueTransformationSequence = [pvt]
    if echoes is None:
        echo = Dataset()
        echo.EffectiveEchoTime = float(meta.get("te", 3))
        shared.MREchoSequence = [echo]
        echoes = [(None, vol)]
    ds.SharedFunctionalGroupsSequence = [shared]
    order = [(e, k) for e in range(len(echoes)) for k in range(nk)]
    ds.NumberOfFrames = len(order)
    rng.shuffle(order)  # frames stored out of spatial order
    if len(echoes) > 1:
        from pydicom.tag import Tag
        dims = []
        for ptr, grp in [((0x0020, 0x9056), (0x0020, 0x9111)), ((0x0018, 0x9082), (0x0018, 0x9114)),
                         ((0x0020, 0x9057), (0x0020, 0x9111))]:
            it = Dataset()
            it.DimensionIndexPointer = Tag(*ptr)
            it.FunctionalGroupPointer = Tag(*grp)
            dims.append(it)
        ds.DimensionIndexSequence = dims
    frames = []
    for f, (e, k) in enumerate(order):
        g = Dataset()
        if echoes[e][0] is not None:
            me = Dataset()
            me.EffectiveEchoTime = float(echoes[e][0])
            g.MREchoSequence = [me]
        pp = Dataset()
        pos = lps @ np.array([0, 0, k, 1.0])
        pp.ImagePositionPatient = [ds_str(x) for x in pos[:3]]
        g.PlanePositionSequence = [pp]
        fc = Dataset()
        fc.StackID = "1"
        fc.InStackPositionNumber = k + 1
        fc.DimensionIndexValues = [1, e + 1, k + 1]
        g.FrameContentSequence = [fc]
        frames.append(g)
    ds.PerFrameFunctionalGroupsSequence = frames
    arr = np.stack([echoes[e][1][:, :, k].T for e, k in order])
    set_pixels(ds, arr, False, 16)
    ds.save_as(os.path.join(out, uuid.uuid4().hex[:12].upper()), write_like_original=False)


def csa_header(tags):
    """A Siemens CSA2 ("SV10") header holding {name: (vr, [values])}."""
    import struct
    out = b"SV10" + b"\x04\x03\x02\x01" + struct.pack("<2I", len(tags), 77)
    for name, (vr, vals) in tags.items():
        out += struct.pack("<64si4s3i", name.encode(), len(vals), vr.encode(), 0, len(vals), 77)
        for v in vals:
            b = v.encode() + b"\0"
            out += struct.pack("<4i", len(b), len(b), 77, len(b))
            out += b + b"\0" * ((4 - len(b) % 4) % 4)
    return out


def write_mosaic(out, vol, affine, desc, number, meta):
    """Write vol as one Siemens mosaic file (tiles in a ceil(sqrt(n)) grid)."""
    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine
    ci, cj = lps[:3, 0], lps[:3, 1]
    rowcos, colcos = ci / np.linalg.norm(ci), cj / np.linalg.norm(cj)
    ps = [np.linalg.norm(cj), np.linalg.norm(ci)]
    normal = np.cross(rowcos, colcos)
    nx, ny, nk = vol.shape
    grid = int(np.ceil(np.sqrt(nk)))
    mos = np.zeros((ny * grid, nx * grid), dtype=np.int32)
    for k in range(nk):
        r, c = divmod(k, grid)
        mos[r * ny:(r + 1) * ny, c * nx:(c + 1) * nx] = vol[:, :, k].T
    p0 = (lps @ np.array([0, 0, 0, 1.0]))[:3]
    fix_r = (ny * grid - ny) / 2.0
    fix_c = (nx * grid - nx) / 2.0
    ipp = p0 - colcos * ps[0] * fix_r - rowcos * ps[1] * fix_c
    ds = base_ds(MR, generate_uid(), generate_uid(), number, desc, meta)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND", "MOSAIC"]
    ds.InstanceNumber = 1
    ds.AcquisitionNumber = 1
    ds.ImagePositionPatient = [ds_str(x) for x in ipp]
    ds.ImageOrientationPatient = [ds_str(x) for x in list(rowcos) + list(colcos)]
    ds.PixelSpacing = [ds_str(x) for x in ps]
    dz = float(np.dot(lps[:3, 2], normal))
    ds.SliceThickness = ds_str(dz)
    ds.SpacingBetweenSlices = ds_str(dz)
    ds.AcquisitionMatrix = [0, nx, ny, 0]
    ds.add_new(0x00190010, "LO", "SIEMENS MR HEADER")
    ds.add_new(0x0019100A, "US", nk)
    ds.add_new(0x00290010, "LO", "SIEMENS CSA HEADER")
    ds.add_new(0x00291010, "OB", csa_header({
        "NumberOfImagesInMosaic": ("US", [str(nk)]),
        "SliceNormalVector": ("FD", ["%.8f" % x for x in normal]),
        "AcquisitionMatrixText": ("SH", ["%dp*%ds" % (ny, nx)]),
    }))
    set_pixels(ds, mos, False, 16)
    ds.save_as(os.path.join(out, uuid.uuid4().hex[:12].upper()), write_like_original=False)


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def reencode(src, dst, tool):
    os.makedirs(dst, exist_ok=True)
    for f in os.listdir(src):
        a, b = os.path.join(src, f), os.path.join(dst, f)
        run(tool(a, b))


def main():
    nifti_dir, out = sys.argv[1], sys.argv[2]
    big = "--big" in sys.argv
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    ch2 = nib.load(os.path.join(nifti_dir, "ch2.nii.gz"))
    data = np.asarray(ch2.dataobj).astype(np.int32)
    aff = ch2.affine
    cases = {}

    def case(name, **expect):
        d = os.path.join(out, name)
        os.makedirs(d)
        cases[name] = expect
        return d

    # A crop through the brain, 80 x 96 x 40 voxels.
    lo = np.array([50, 60, 70])
    crop = data[lo[0]:lo[0] + 80, lo[1]:lo[1] + 96, lo[2]:lo[2] + 40]
    caff = aff.copy()
    caff[:3, 3] = (aff @ np.append(lo, 1.0))[:3]
    t1 = crop * 10 + 7  # 12-bit unsigned values

    d = case("axial", series=1)
    write_series(d, t1, caff, "t1_mprage_sag", 2, {"ti": 900})
    d = case("oblique", series=1)
    obl = rot(0, 20) @ rot(1, -10) @ rot(2, 15)
    write_series(d, crop * 10 - 600, obl @ caff, "T1 oblique", 3, {"ti": 900}, signed=True)
    d = case("reversed", series=1)
    # Sagittal: slices along x (RAS), slice axis pointing left (-x), rows
    # down (-z), columns anterior->posterior (-y).
    sag = np.transpose(crop, (1, 2, 0))[::-1, ::-1, ::-1] * 10
    saff = np.zeros((4, 4))
    saff[:3, 0] = [0, -1, 0]
    saff[:3, 1] = [0, 0, -1]
    saff[:3, 2] = [-1, 0, 0]
    saff[:3, 3] = (caff @ np.array([79, 95, 39, 1.0]))[:3]
    saff[3, 3] = 1
    write_series(d, sag, saff, "T2 sag", 4, {"te": 95, "tr": 3200, "seq": "SE", "acq": "2D"},
                 reverse_instance=True)
    d = case("rescaled", series=1)
    nk = crop.shape[2]
    write_series(d, t1, caff, "T1 post +C", 5, {"contrast": "Gadovist"}, slopes=[0.5] * nk, inters=[-20] * nk)
    d = case("rescalevar", series=1)
    write_series(d, t1, caff, "T1 rescale varies", 6, {}, slopes=[0.25 + 0.125 * (k % 5) for k in range(nk)],
                 inters=[-(k % 3) * 16.0 for k in range(nk)])
    d = case("philips", series=1)
    write_series(d, t1, caff, "T1W_3D_TFE", 13, {}, slopes=[1.5] * nk, inters=[-30] * nk, philips_ss=0.03125)
    d = case("gapped", refused=True, missing=[17])
    write_series(d, t1, caff, "T1 gapped", 7, {}, drop={17})
    d = case("multiecho", series=2)
    uid = generate_uid()
    study = generate_uid()
    write_series(d, t1, caff, "dual echo", 8, {"te": 12, "tr": 3000, "seq": "SE", "acq": "2D"},
                 series_uid=uid, study_uid=study, echo=1)
    write_series(d, t1 // 2 + 3, caff, "dual echo", 8, {"te": 90, "tr": 3000, "seq": "SE", "acq": "2D"},
                 series_uid=uid, study_uid=study, echo=2)
    d = case("multiseries", series=5, localizers=3)
    study = generate_uid()
    write_series(d, t1, caff, "T1_axial", 2, {}, study_uid=study)
    cor = np.transpose(crop, (0, 2, 1))[:, ::-1, :] * 10  # i=x, j=-z, k=y
    caff2 = np.zeros((4, 4))
    caff2[:3, 0] = caff[:3, 0]
    caff2[:3, 1] = -caff[:3, 2]
    caff2[:3, 2] = caff[:3, 1]
    caff2[:3, 3] = (caff @ np.array([0, 0, 39, 1.0]))[:3]
    caff2[3, 3] = 1
    write_series(d, cor, caff2, "T2_FLAIR_cor", 3, {"te": 85, "tr": 9000, "ti": 2500, "seq": "SE\\IR", "acq": "2D"},
                 study_uid=study)
    loc = generate_uid()
    for k, (v, a) in enumerate([(t1[:, :, 20:21], caff), (cor[:, :, 48:49], caff2), (sag[:, :, 40:41], saff)]):
        a2 = a.copy()
        a2[:3, 3] = (a @ np.array([0, 0, [20, 48, 40][k], 1.0]))[:3]
        write_series(d, v, a2, "localizer", 1, {"imagetype": ["ORIGINAL", "PRIMARY", "LOCALIZER"]},
                     series_uid=loc, study_uid=study)
    d = case("enhanced", series=1)
    write_enhanced(d, t1, caff, "T1 enhanced", 9, {"te": 4.5}, slope=1.5, inter=-3)

    # dcm2niix (v1.0.20220720) merges the two echoes of this file into one
    # 80-slice volume; the test compares with the truth written here.
    d = case("enhanced2echo", series=2, truth=["enhanced2echo_e1.nii", "enhanced2echo_e2.nii"],
             peer_wrong="dcm2niix stacks both echoes into one volume of 80 slices")
    os.makedirs(os.path.join(out, "truth"), exist_ok=True)
    for i, v in enumerate([t1, t1 // 3 + 1]):
        nib.save(nib.Nifti1Image(v.astype(np.int16), caff), os.path.join(out, "truth", "enhanced2echo_e%d.nii" % (i + 1)))
    write_enhanced(d, t1, caff, "T2 dual echo enhanced", 12, {"seq": "SE", "acq": "2D", "tr": 3000},
                   echoes=[(15.0, t1), (95.0, t1 // 3 + 1)])
    d = case("enhancedimplicit", series=1, same_as="enhanced")
    for f in os.listdir(os.path.join(out, "enhanced")):
        run(["dcmconv", "+ti", os.path.join(out, "enhanced", f), os.path.join(d, f)])
    d = case("mosaic", series=1)
    write_mosaic(d, t1[8:72:2, 16:80:2, 4:36:2] // 4, caff @ np.diag([2.0, 2.0, 2.0, 1.0]) @ np.array(
        [[1, 0, 0, 4], [0, 1, 0, 8], [0, 0, 1, 2], [0, 0, 0, 1.0]]), "ep2d_bold mosaic", 11, {"te": 30, "tr": 2000, "seq": "EP", "acq": "2D"})

    enc = [
        ("jpegsv1", lambda a, b: ["dcmcjpeg", "+e1", a, b]),
        ("jpeg14sv7", lambda a, b: ["dcmcjpeg", "+el", "+sv", "7", a, b]),
        ("rle", lambda a, b: ["dcmcrle", a, b]),
        ("gdcmjpeg", lambda a, b: ["gdcmconv", "--jpeg", a, b]),
        ("implicit", lambda a, b: ["dcmconv", "+ti", a, b]),
        ("bigendian", lambda a, b: ["dcmconv", "+tb", a, b]),
        ("deflated", lambda a, b: ["dcmconv", "+td", a, b]),
    ]
    for name, tool in enc:
        reencode(os.path.join(out, "axial"), os.path.join(out, name), tool)
        cases[name] = {"series": 1, "same_as": "axial"}

    if big:
        full = data * 10
        d = case("big200", series=1)
        cor = np.transpose(full, (0, 2, 1))[:, ::-1, :]
        a2 = np.zeros((4, 4))
        a2[:3, 0] = aff[:3, 0]
        a2[:3, 1] = -aff[:3, 2]
        a2[:3, 2] = aff[:3, 1]
        a2[:3, 3] = (aff @ np.array([0, 0, full.shape[2] - 1, 1.0]))[:3]
        a2[3, 3] = 1
        write_series(d, cor, a2, "T1 coronal 217", 10, {})
        d = case("mixed", series=4, localizers=1)
        study = generate_uid()
        write_series(d, full, aff, "T1 axial", 2, {}, study_uid=study)
        write_series(d, cor, a2, "T1 coronal", 3, {}, study_uid=study)
        s = np.transpose(full, (1, 2, 0))[::-1, ::-1, :]
        a3 = np.zeros((4, 4))
        a3[:3, 0] = [0, -1, 0]
        a3[:3, 1] = [0, 0, -1]
        a3[:3, 2] = [1, 0, 0]
        a3[:3, 3] = (aff @ np.array([0, full.shape[1] - 1, full.shape[2] - 1, 1.0]))[:3]
        a3[3, 3] = 1
        write_series(d, s, a3, "T1 sagittal", 4, {}, study_uid=study)
        write_series(d, full[:, :, 90:91], aff @ np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 90], [0, 0, 0, 1.0]]),
                     "localizer", 1, {"imagetype": ["ORIGINAL", "PRIMARY", "LOCALIZER"]}, study_uid=study)
    json.dump(cases, open(os.path.join(out, "cases.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
