package cnn_test

import (
	"fmt"
	"testing"

	"github.com/metasurv/metasurv/cnn"
)

// The compound scaling of b0–b7 (MONAI's round_filters and round_repeats
// of the width and depth coefficients) gives the published architectures:
// stem width, number of MBConv blocks and head width.
func TestEfficientNetScaling(t *testing.T) {
	for i, want := range []struct{ stem, blocks, head int }{
		{32, 16, 1280}, {32, 23, 1280}, {32, 23, 1408}, {40, 26, 1536},
		{48, 32, 1792}, {48, 39, 2048}, {56, 45, 2304}, {64, 55, 2560},
	} {
		name := fmt.Sprintf("efficientnet-b%d", i)
		m, err := cnn.NewEfficientNet(cnn.EfficientNetConfig{Model: name, InChannels: 1, Classes: 1})
		if err != nil {
			t.Fatal(err)
		}
		blocks := 0
		for _, s := range m.Stacks {
			blocks += len(s)
		}
		if stem := m.Stem.Weight.Shape[0]; stem != want.stem || blocks != want.blocks || m.EmbedDim() != want.head {
			t.Errorf("%s: stem %d, %d blocks, head %d; want %d, %d, %d", name, stem, blocks, m.EmbedDim(), want.stem, want.blocks, want.head)
		}
	}
}
