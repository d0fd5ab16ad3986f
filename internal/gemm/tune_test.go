package gemm

import (
	"fmt"
	"testing"

	"github.com/metasurv/metasurv/internal/cpu"
	"github.com/metasurv/metasurv/internal/parallel"
)

func BenchmarkTune(b *testing.B) {
	bl := blockings[cpu.AVX512]
	orig := *bl
	defer func() { *bl = orig }()
	for _, nc := range []int{256, 512, 1024, 4096} {
		for _, s := range benchShapes {
			if s.name != "conv_64x13824x1728" && s.name != "2048" && s.name != "1024" {
				continue
			}
			b.Run(fmt.Sprintf("nc%d/%s", nc, s.name), func(b *testing.B) {
				bl.nc = nc
				defer parallel.SetMaxWorkers(1)()
				benchSgemm(b, s)
			})
		}
	}
}
