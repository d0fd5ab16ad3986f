package cnn_test

import (
	"context"
	"fmt"

	"github.com/metasurv/metasurv/cnn"
	"github.com/metasurv/metasurv/nn"
)

// Build two architectures by name and embed one four-sequence volume with
// each: the loop of an architecture comparison.
func Example() {
	x := nn.NewTensor(1, 4, 32, 32, 32) // (N, sequences, D, H, W)
	nn.InitNormal(x, 0, 1, nn.NewRNG(1))
	for _, name := range []string{"resnet10", "densenet121"} {
		m, err := cnn.New(name, cnn.Config{InChannels: 4, Classes: 3, Seed: 1})
		if err != nil {
			fmt.Println(err)
			return
		}
		nn.SetTraining(m, false) // evaluation: running batch-norm statistics
		g := nn.NewGraph(nn.Options{})
		logits, emb := m.Forward(g, x), m.Embed(g, x)
		if err := g.Err(); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(name, logits.Shape, emb.Shape)
	}
	// Output:
	// resnet10 [1 3] [1 512]
	// densenet121 [1 3] [1 1024]
}

// Load MedicalNet's one-channel weights into a model for four MRI
// sequences and three survival classes: the stem is averaged over the new
// channels and the classifier starts fresh.
func ExampleOpenResNet() {
	m, info, err := cnn.OpenResNet(context.Background(), "testdata/medicalnet_a.pth", 4, 3, cnn.LoadOptions{Stem: cnn.StemAverage})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(info.MedicalNet, info.Config.Geometry, info.Config.Shortcut, info.Config.Layers)
	fmt.Println(m.Config.InChannels, m.Config.Classes, m.EmbedDim())
	// Output:
	// true MedicalNet A [2 1 1 1]
	// 4 3 64
}
