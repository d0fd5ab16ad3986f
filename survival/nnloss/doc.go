// Package nnloss makes the survival losses of package survival
// differentiable in nn's autograd. Each function computes the loss in
// float64 from the float32 network outputs with the survival function of
// the same name, returns a scalar tensor recorded on the graph through nn's
// custom-operation hook (Graph.Custom), and back-propagates the analytic
// gradient scaled by the incoming one. An invalid batch (for example a Cox
// batch without events) is an error, returned and recorded on the graph.
//
// It is a separate package so that package survival, the statistics,
// builds and is used without the autograd engine.
package nnloss
