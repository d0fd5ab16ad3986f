// Package optim holds the optimizers that train nn modules — SGD (momentum,
// dampening, Nesterov, weight decay), Adam and AdamW with PyTorch's exact
// update formulas — plus learning-rate schedules (step, cosine, linear
// warm-up), gradient clipping by global norm and gradient accumulation.
//
// A training step is: build a graph with gradients on, compute the loss,
// Backward, optionally ClipGradNorm, Step, ZeroGrad.
package optim
