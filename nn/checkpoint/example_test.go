package checkpoint_test

import (
	"bytes"
	"context"
	"fmt"

	"github.com/metasurv/metasurv/nn"
	"github.com/metasurv/metasurv/nn/checkpoint"
)

// Save a state dict as safetensors and load it back, removing the
// "module." prefix DataParallel adds to every name.
func Example() {
	w, _ := nn.FromData([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b, _ := nn.FromData([]float32{0.5, -0.5}, 2)
	sd := map[string]*nn.Tensor{"module.fc.weight": w, "module.fc.bias": b}

	var buf bytes.Buffer
	if err := checkpoint.Write(&buf, sd, checkpoint.SaveOptions{Format: checkpoint.FormatSafetensors, Meta: map[string]string{"epoch": "3"}}); err != nil {
		fmt.Println(err)
		return
	}
	c, err := checkpoint.Read(context.Background(), bytes.NewReader(buf.Bytes()), int64(buf.Len()), checkpoint.Options{StripPrefix: "module."})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, k := range c.Keys() {
		fmt.Println(k, c.Tensors[k].Shape, c.Tensors[k].Data, c.DTypes[k])
	}
	fmt.Println("epoch", c.Meta["epoch"])
	// Output:
	// fc.bias [2] [0.5 -0.5] float32
	// fc.weight [2 3] [1 2 3 4 5 6] float32
	// epoch 3
}
