// Package survival is the statistics of metasurv: right-censored outcomes,
// censoring-aware survival classes, estimators, the Cox model, concordance
// and calibration metrics, classification metrics for the study's 3-class
// framing, reproducible splits, and the loss functions used to train the
// networks.
//
// Numbers equal those of the reference tools researchers trust, so results
// can be compared with published analyses:
//
//   - KaplanMeier, NelsonAalen, LogRank, Cox and Concordance reproduce R's
//     survival package 3.5 (survfit, survdiff, coxph, concordance): the same
//     Greenwood variance, conf.type intervals, median rule, Newton–Raphson
//     path and convergence test, tie conventions and pair counts. The tests
//     compare every number of the shared R fixture to 1e-6 relative.
//   - Classify, MulticlassAUC, LogLoss and BrierMulticlass follow
//     scikit-learn 1.2 and are tested to 1e-9.
//   - The network losses follow pycox (LogisticHazardLoss, PMFLoss,
//     DeepHitLoss), DeepSurv (CoxLoss) and CORAL (CoralLoss); each returns
//     its value and its gradient, checked against finite differences and
//     against pycox under torch autograd. Package survival/nnloss makes
//     them differentiable operations of nn's autograd.
//   - BrierScore, IntegratedBrier, CumulativeDynamicAUC and Uno's C under
//     the GRight convention reproduce scikit-survival's published tests.
//
// # Censoring
//
// The study frames survival as 3 classes (<6, 6–21, >21 months). A patient
// censored at 4 months has an unknown class; ClassScheme.Label never
// guesses it. It reports a mask (Labels.Known), the possible classes
// (MinClass), inverse-probability-of-censoring weights for analyses of the
// known patients (IPCW), and class probabilities from the Kaplan–Meier tail
// for multiple imputation (Prob, Impute). Balance contrasts the naive class
// shares with the censoring-aware Kaplan–Meier ones.
//
// # Conventions
//
// Risk scores are "higher means shorter survival" throughout (R's
// concordance(..., reverse = TRUE), a Cox linear predictor). The censoring
// distribution G used by IPCW weights is the Kaplan–Meier estimate of the
// censoring times in which deaths leave the risk set before censorings at
// the same time (as in R's concordance); an event at T is weighted by
// 1/G(T−) unless IPCWConvention says otherwise, a patient still at risk at
// t by 1/G(t). Times are float64 in the unit of the data; Unit converts
// days, months (365.25/12 days) and years.
//
// Functions return errors for anything the data can get wrong (unequal
// lengths, negative times, no events, singular information matrix) and
// never print. Figures live in the subpackage survival/plot.
package survival
