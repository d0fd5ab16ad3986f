// Package fusion predicts the survival of brain-metastasis patients from
// multisequence MRI and clinical data, and trains, compares, serves and
// explains the models that do it.
//
// # Clinical data
//
// A Schema declares the clinical variables (Numeric, Categorical, Ordinal,
// Binary; StudySchema has the study's: age, KPS, primary histology,
// extracranial disease, number of metastases, prior treatment, molecular
// markers). ReadClinical validates a CSV against it — through the shared
// reader of internal/table, with a memory budget — and names the line,
// patient, column and value of any bad cell, duplicate id or unknown
// column, or skips and reports such rows when ReadOptions.SkipBadRows is
// set; nothing is silently read as zero. MatchIDs pairs the table with the
// patients that have images. FitEncoder learns standardisation and levels
// on the training split only; Encoder.Encode gives each patient a vector
// with missing-value indicators and an "unseen level" slot.
//
// # Models
//
// A Model combines any nn.Backbone (cnn, vit) — or precomputed embeddings
// — with the clinical vector: ClinicalOnly, ImageOnly, Early (concatenate),
// Late (average per-modality predictions) or Gated (attention over the
// available modalities). Modality and sequence dropout teach it to predict
// for patients missing all imaging, an MRI sequence or clinical fields.
// The survival head predicts the study's three ordered classes (<6, 6–21,
// >21 months) with class-weighted cross-entropy on patients whose class is
// known, or the censoring-aware CORAL loss; auxiliary Tasks (primary
// origin, relapse, molecular subtype) mask missing labels out of the loss.
//
// # Training and comparison
//
// Train runs AdamW with a cosine schedule on batches assembled and
// augmented (flips, small affine, intensity scale/shift, noise) by loader
// goroutines, deterministically for a seed; it stops early on a validation
// metric, writes atomic checkpoints, resumes, trains a frozen backbone on
// embeddings cached once, and reports every epoch to a callback. Compare
// trains several candidates under one split and tabulates C-index,
// balanced accuracy, macro-F1 and AUC with bootstrap intervals.
//
// # Serving
//
// A Bundle (weights, encoder, input shape, class survival curves,
// preprocessing settings, version, checksum) is one safetensors file.
// Load returns a Predictor, safe for concurrent use, whose Predict takes
// raw sequences (run through norm.Preprocess) or a preprocessed stack plus
// a clinical Record and returns class probabilities, a risk score, a
// survival curve and the inputs that were missing. Explain adds a saliency
// volume (Grad-CAM for backbones implementing FeatureMapper, gradient
// saliency otherwise) on the input grid and on the patient's T1c grid,
// writable as NIfTI, and the occlusion contribution of each clinical
// variable and modality.
package fusion
