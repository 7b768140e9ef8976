package config

import (
	"fmt"
	"math"
	"strings"
)

// Upper bounds of the numbers that size memory (and of a few that size time), so that a
// typo such as data.image_size: 100000 is a validation problem naming the bound instead of
// an allocation that kills the process.
const (
	MaxImageSize         = 4096     // data.image_size (the loader's limit)
	MaxTextLen           = 512      // data.max_text_len (BERT's positions)
	MaxWorkers           = 1024     // data.workers
	MaxImagePixels       = 1 << 31  // data.max_image_pixels: about 15 GB to decode one
	MaxSyntheticClasses  = 64       // data.synthetic.classes (8 colours x 8 words)
	MaxSyntheticPerClass = 100_000  // data.synthetic.per_class
	MaxBatchSize         = 4096     // train.batch_size, gan.batch_size
	MaxBatchBytes        = 16 << 30 // train.batch_size x 3 x image_size² x 4 bytes of images
	MaxAccumulate        = 1024     // train.accumulate
	MaxHidden            = 16384    // model hidden sizes and fusion.dim
	MaxMLP               = 65536    // model MLP widths
	MaxLayers            = 256      // encoder layers
	MaxHeads             = 256      // attention heads
	MaxSteps             = 10_000_000
	MaxCount             = 1_000_000 // counts of generated or sampled items
	MaxChannels          = 4096      // convolution widths and embedding sizes
)

// checker collects validation problems, each with a dotted key under prefix.
type checker struct {
	prefix string
	ps     []Problem
}

func (c *checker) bad(key, format string, args ...any) {
	c.ps = append(c.ps, Problem{Key: c.prefix + key, Msg: fmt.Sprintf(format, args...)})
}

func (c *checker) oneOf(key, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	c.bad(key, "%q is not one of %s", v, strings.Join(allowed, ", "))
}

func (c *checker) positive(key string, v int) {
	if v <= 0 {
		c.bad(key, "must be positive, got %d", v)
	}
}

func (c *checker) nonNeg(key string, v int) {
	if v < 0 {
		c.bad(key, "must not be negative, got %d", v)
	}
}

// intIn checks lo <= v <= hi; note, when given, explains a special value ("0 = off").
func (c *checker) intIn(key string, v, lo, hi int, note ...string) {
	if v < lo || v > hi {
		c.bad(key, "must be in [%d, %d]%s, got %d", lo, hi, paren(note), v)
	}
}

// floatIn checks lo <= v <= hi (NaN and infinities fail).
func (c *checker) floatIn(key string, v, lo, hi float64, note ...string) {
	if !(v >= lo && v <= hi) {
		c.bad(key, "must be in [%g, %g]%s, got %g", lo, hi, paren(note), v)
	}
}

// prob checks 0 <= v < 1.
func (c *checker) prob(key string, v float64) {
	if !(v >= 0 && v < 1) {
		c.bad(key, "must be in [0, 1), got %g", v)
	}
}

// finite checks that v is a finite number.
func (c *checker) finite(key string, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		c.bad(key, "must be a finite number, got %g", v)
	}
}

func paren(note []string) string {
	if len(note) == 0 {
		return ""
	}
	return " (" + strings.Join(note, ", ") + ")"
}
