// Package synth makes procedural brain MRI phantoms in memory, so that the
// quickstart, the examples and the tests of the whole pipeline run without
// downloads.
//
// A phantom is a continuous function of world position (RAS+ mm): a head of
// nested ellipsoids (scalp, skull, cerebrospinal fluid, grey and white
// matter, two lateral ventricles) carrying one brain metastasis (necrotic
// core, contrast-enhancing rim, surrounding oedema). Each tissue has an
// intensity per MRI sequence chosen to mimic the relative contrasts of T1,
// T1 post-contrast, T2 and FLAIR, so that registration across sequences is
// genuinely multimodal. Tissue borders are ramps one millimetre wide, which
// keeps the phantom band-limited enough that grids of different spacing and
// orientation sample the same anatomy.
//
// Because the phantom is defined in world space, sampling it on any grid —
// any dims, spacing, axis order or flip, or a rigid motion of the head —
// gives images that agree wherever their grids overlap: the ground truth
// that registration and reorientation tests need.
//
// # Cohorts
//
// NewCohort draws a whole synthetic study population from a seed: heads
// that vary in size and ventricle width, 1–10 metastases each (HeadOptions
// Lesions), four acquisitions per patient on the hospital Protocols (each
// with its own axis order, voxel size, head motion, bias field, noise and
// scanner gain; about half the patients miss a sequence), a clinical table
// with missing values, and survival times from a known Weibull
// proportional-hazards model (Hazard) of lesion burden and clinical
// variables, censored by the end of the study and by loss to follow-up.
// Cohort.Scan renders one acquisition; Cohort.Export writes the cohort as a
// hospital export (one folder per patient, NIfTI files named by protocol,
// clinical.csv), atomically. A Cox fit on the true covariates of a large
// cohort recovers the generating coefficients (see the tests).
package synth
