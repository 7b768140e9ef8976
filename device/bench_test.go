package device

import (
	"fmt"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// BenchmarkMatmul2048 multiplies two 2048×2048 fp32 matrices through gotch
// at 1 and 2 libtorch threads and reports GFLOP/s (2·n³ flops per product).
//
//	go test -run '^$' -bench Matmul2048 -benchtime 20x ./device
func BenchmarkMatmul2048(b *testing.B) {
	const n = 2048
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			w, err := Start(Config{Threads: threads})
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			err = w.Do(func() error {
				x := ts.MustRandn([]int64{n, n}, gotch.Float, gotch.CPU)
				y := ts.MustRandn([]int64{n, n}, gotch.Float, gotch.CPU)
				defer x.MustDrop()
				defer y.MustDrop()
				z := x.MustMatmul(y, false) // warm up
				z.MustDrop()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					z := x.MustMatmul(y, false)
					z.MustDrop()
				}
				b.StopTimer()
				b.ReportMetric(2*n*n*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}
