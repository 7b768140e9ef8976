// Command vbg trains, evaluates and exports VBG multimodal classifiers.
package main

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

func main() {
	x := ts.MustOnes([]int64{2, 2}, gotch.Float, gotch.CPU)
	fmt.Println(ts.NumThreads(), x.MustSum(gotch.Float, false).Float64Values())
	ts.SetNumThreads(2)
	fmt.Println(ts.NumThreads())
}
