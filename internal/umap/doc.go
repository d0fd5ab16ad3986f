// Package umap embeds high-dimensional points (image embeddings of the
// study's patients) in two dimensions with UMAP, and scores embeddings
// with trustworthiness, for the study's Figure 2.
//
// # Overview
//
// Fit follows umap-learn 0.5.3 (McInnes, Healy & Melville 2018,
// arXiv:1802.03426) step for step, with the Euclidean metric:
//
//   - the k-nearest-neighbour graph: exact for up to ExactLimit points
//     (distances through one matrix multiply per block of rows, kept
//     neighbours re-measured in float64), NN-descent above (ExactKNN,
//     NNDescent);
//   - the fuzzy simplicial set: smooth-kNN rho and sigma by bisection to
//     log2(k) (SmoothKNNDist), memberships exp(−(d−rho)/sigma), and the
//     fuzzy union A + Aᵀ − A∘Aᵀ (FuzzyGraph);
//   - spectral initialisation from the normalised Laplacian (Lanczos with
//     full reorthogonalisation; several components are laid out around
//     meta positions), scaled to [0, 10];
//   - stochastic gradient descent with negative sampling on the curve
//     1/(1+a·d^2b), a and b fitted from MinDist and Spread (FitAB).
//
// The layout is parallel and deterministic: within an epoch each point
// moves by its own edges against the positions of the other points at the
// start of the epoch, with its own random stream, so a seed gives the same
// embedding on any number of cores. Trustworthiness reproduces
// sklearn.manifold.trustworthiness.
//
// The tests compare a, b, sigma, rho, the fuzzy graph and
// trustworthiness with umap-learn and scikit-learn (testdata/umaplearn.py
// writes the reference numbers), and check that our embeddings of a
// Gaussian mixture and of scikit-learn's digits are as trustworthy as
// umap-learn's (within 0.02).
package umap
