package vit

import (
	"context"
	"regexp"
	"strings"

	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/nn/checkpoint"
)

// crossAttn matches the cross-attention weights MONAI ≥ 1.4 adds to
// every TransformerBlock (norm_cross_attn, cross_attn.{to_q,to_k,to_v,
// out_proj}); ViT and ViTAutoEnc never use them.
var crossAttn = regexp.MustCompile(`(^|\.)blocks\.[0-9]+\.(cross_attn|norm_cross_attn)\.`)

// MONAIName maps a state-dict key written by any MONAI version to the
// name this package uses: a DataParallel "module." prefix is removed, and
// the unused cross-attention keys of MONAI ≥ 1.4 map to "" (ignored).
func MONAIName(key string) string {
	key = strings.TrimPrefix(key, "module.")
	if crossAttn.MatchString(key) {
		return ""
	}
	return key
}

// LoadOptions configures Load.
type LoadOptions struct {
	// AllowMissing keeps the current values of tensors the checkpoint
	// lacks (a new classification head); AllowUnexpected skips checkpoint
	// tensors the model lacks. The report lists both.
	AllowMissing, AllowUnexpected bool
}

// Load streams a checkpoint (.pt/.pth zip or legacy, or safetensors) into
// m — a ViT, AutoEnc, LaMIMClassifier or any part of one — without a
// second copy of the weights in memory. Keys are mapped with MONAIName.
// Unless allowed by o, a checkpoint with missing, unexpected or
// mis-shaped tensors is refused before anything is copied, with an
// *nn.LoadError that names every offending key. ctx is checked between
// tensors and every few MB (the 2 GB LaMIM checkpoint takes seconds): a
// context done before copying starts leaves m unchanged, one cancelled
// during it leaves m partially loaded; the error wraps ctx.Err().
func Load(ctx context.Context, m nn.Module, path string, o LoadOptions) (nn.LoadReport, error) {
	return checkpoint.LoadInto(ctx, path, m, checkpoint.IntoOptions{
		Rename:       MONAIName,
		AllowMissing: o.AllowMissing, AllowUnexpected: o.AllowUnexpected,
	})
}

// LoadEncoder loads a foundation-model checkpoint (a ViTAutoEnc state
// dict such as SSL_ViT_Block16.pth, "module." prefixes allowed) into the
// classifier's encoder, leaving the head as it is: the start of
// fine-tuning.
func (m *LaMIMClassifier) LoadEncoder(ctx context.Context, path string) (nn.LoadReport, error) {
	return Load(ctx, m.Model, path, LoadOptions{})
}
