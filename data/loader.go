package data

import (
	"fmt"
	"image/color"
	"io"
	"iter"
	"runtime"
	"sync"

	"github.com/vbg-museum/vbg/seed"
)

// LoaderConfig configures a Loader. Start from DefaultLoaderConfig.
type LoaderConfig struct {
	// ImageSize is the output height and width (224).
	ImageSize int
	// ResizeSize is the shorter side before the evaluation centre crop; 0 means
	// ImageSize*8/7 (256 for 224).
	ResizeSize int
	// BaseSize: images whose shorter side is larger are first shrunk to it, once, and that
	// base image is what the cache stores and what crops are taken from. 0 means ResizeSize;
	// a negative value keeps full resolution.
	BaseSize int
	// Mean and Std normalise each RGB channel on the 0..1 scale (ImageNetMean/ImageNetStd,
	// or HalfMean/HalfStd for Hugging Face ViT).
	Mean, Std [3]float32
	// Background fills transparent pixels; nil means white.
	Background color.Color

	// Train turns on augmentation (Augment) and random text choice.
	Train   bool
	Augment Augment
	// Shuffle reorders the records every epoch, deterministically given (Seed, epoch).
	Shuffle bool
	// BatchSize is the number of records per batch (32). DropLast drops a short last batch.
	BatchSize int
	DropLast  bool
	// Workers is the number of decoding goroutines (0: GOMAXPROCS); Prefetch the number of
	// batches decoded ahead of the consumer (0: 2).
	Workers  int
	Prefetch int
	// Seed fixes shuffling, augmentation and text choice.
	Seed uint64
	// CacheDir, when set, keeps base images as PNG files so that large images are decoded
	// and shrunk only once. Records with a stored base image (Record.Base, from a dataset
	// prepared with a base size of at least BaseSize) read that instead.
	CacheDir string
	// MaxImagePixels bounds width × height of an image, read from its header before it is
	// decoded (0: DefaultMaxImagePixels); a larger image is an *ImageError naming the file.
	MaxImagePixels int64
	// Quiet silences the progress bar of FillCache; Progress is where it goes (nil: stderr).
	Quiet    bool
	Progress io.Writer
}

// Bounds of LoaderConfig: a batch of MaxBatchSize images of MaxImageSize pixels would
// already take 12 GiB.
const (
	MaxBatchSize = 4096
	MaxImageSize = 4096
)

// DefaultLoaderConfig returns a 224-pixel ImageNet-normalised configuration; train turns on
// shuffling, DefaultAugment and random text choice.
func DefaultLoaderConfig(train bool) LoaderConfig {
	c := LoaderConfig{
		ImageSize: 224,
		Mean:      ImageNetMean,
		Std:       ImageNetStd,
		Train:     train,
		Shuffle:   train,
		BatchSize: 32,
		Seed:      DefaultSeed,
	}
	if train {
		c.Augment = DefaultAugment()
	}
	return c
}

// Batch is one batch of records as plain buffers, ready to be copied into tensors.
type Batch struct {
	// Epoch and Index locate the batch: Index counts batches within the epoch.
	Epoch, Index int
	// Size is the image height and width.
	Size int
	// Images holds len(IDs) images as float32 CHW, one after another (B*3*Size*Size).
	Images []float32
	// Labels holds the label ids.
	Labels []int64
	// Texts holds one text per record: the first one, or a random one when training.
	// The consumer tokenizes them.
	Texts []string
	// IDs are the record ids.
	IDs []string
}

// Len returns the number of records in the batch.
func (b Batch) Len() int { return len(b.IDs) }

// Image returns the i-th image (3*Size*Size floats, CHW), sharing memory with Images.
func (b Batch) Image(i int) []float32 {
	n := 3 * b.Size * b.Size
	return b.Images[i*n : (i+1)*n]
}

// Loader decodes, transforms and batches records. It is safe to run one epoch at a time;
// the data order and augmentation depend only on (Seed, epoch), not on timing or Workers.
type Loader struct {
	recs  []Record
	cfg   LoaderConfig
	tf    *imageTransform
	cache *diskCache
}

// NewLoader checks the configuration and returns a loader over recs. Records need a
// resolved Image path and a LabelID (as Open returns them).
func NewLoader(recs []Record, cfg LoaderConfig) (*Loader, error) {
	if cfg.ResizeSize == 0 {
		cfg.ResizeSize = cfg.ImageSize * 8 / 7
	}
	if cfg.BaseSize == 0 {
		cfg.BaseSize = cfg.ResizeSize
	}
	if cfg.Std == ([3]float32{}) && cfg.Mean == ([3]float32{}) {
		cfg.Mean, cfg.Std = ImageNetMean, ImageNetStd
	}
	if cfg.BatchSize <= 0 || cfg.BatchSize > MaxBatchSize {
		return nil, fmt.Errorf("new loader: batch size %d: must be in [1, %d]", cfg.BatchSize, MaxBatchSize)
	}
	if cfg.Workers > MaxWorkers || cfg.Prefetch > MaxWorkers || cfg.MaxImagePixels < 0 {
		return nil, fmt.Errorf("new loader: workers %d, prefetch %d, max image pixels %d: want workers and prefetch in [0, %d], pixels >= 0",
			cfg.Workers, cfg.Prefetch, cfg.MaxImagePixels, MaxWorkers)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Prefetch <= 0 {
		cfg.Prefetch = 2
	}
	tf, err := newTransform(cfg)
	if err != nil {
		return nil, fmt.Errorf("new loader: %w", err)
	}
	for i, r := range recs {
		if r.LabelID < 0 {
			return nil, fmt.Errorf("new loader: record %d (id %s) has no label id", i, r.ID)
		}
		if r.Image == "" {
			return nil, fmt.Errorf("new loader: record %d (id %s) has no image", i, r.ID)
		}
	}
	l := &Loader{recs: recs, cfg: cfg, tf: tf}
	if cfg.CacheDir != "" {
		l.cache = &diskCache{dir: cfg.CacheDir, base: cfg.BaseSize, bg: tf.bg}
	}
	return l, nil
}

// Config returns the configuration with defaults filled in.
func (l *Loader) Config() LoaderConfig { return l.cfg }

// Records returns the loader's records.
func (l *Loader) Records() []Record { return l.recs }

// Len returns the number of batches per epoch.
func (l *Loader) Len() int {
	n, b := len(l.recs), l.cfg.BatchSize
	if l.cfg.DropLast {
		return n / b
	}
	return (n + b - 1) / b
}

// Order returns the record indices of an epoch in the order they are served.
func (l *Loader) Order(epoch int) []int {
	order := make([]int, len(l.recs))
	for i := range order {
		order[i] = i
	}
	if l.cfg.Shuffle {
		r := newRNG(seed.Mix(l.cfg.Seed, 0x6f72646572, uint64(epoch)))
		r.shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	return order
}

// Epoch yields the batches of one epoch in order. Stopping the loop early stops the
// workers. A record that cannot be loaded ends the epoch with an *ImageError.
func (l *Loader) Epoch(epoch int) iter.Seq2[Batch, error] {
	return l.EpochFrom(epoch, 0)
}

// EpochFrom is Epoch starting at batch index start, for resuming mid-epoch: the batches
// before start are skipped without decoding and the rest are identical to Epoch's.
func (l *Loader) EpochFrom(epoch, start int) iter.Seq2[Batch, error] {
	return func(yield func(Batch, error) bool) {
		order := l.Order(epoch)
		nb := l.Len()
		if start < 0 || start > nb {
			yield(Batch{}, fmt.Errorf("epoch %d: start batch %d out of range [0, %d]", epoch, start, nb))
			return
		}
		type job struct {
			p    *pending
			slot int
			rec  int
		}
		jobs := make(chan job, l.cfg.Workers*2)
		ready := make(chan *pending, l.cfg.Prefetch)
		done := make(chan struct{})
		var workers sync.WaitGroup
		for w := 0; w < l.cfg.Workers; w++ {
			workers.Add(1)
			go func() {
				defer workers.Done()
				for j := range jobs {
					select {
					case <-done:
						j.p.wg.Done()
						continue
					default:
					}
					j.p.setErr(j.slot, l.load(epoch, j.rec, j.p.b.Image(j.slot)))
					j.p.wg.Done()
				}
			}()
		}
		workers.Add(1)
		go func() { // producer: batches in order
			defer workers.Done()
			defer close(ready)
			defer close(jobs)
			bs := l.cfg.BatchSize
			for bi := start; bi < nb; bi++ {
				idx := order[bi*bs : min((bi+1)*bs, len(order))]
				p := l.newPending(epoch, bi, idx)
				p.wg.Add(len(idx))
				select {
				case ready <- p:
				case <-done:
					return
				}
				for s, ri := range idx {
					select {
					case jobs <- job{p, s, ri}:
					case <-done:
						p.wg.Add(-(len(idx) - s))
						return
					}
				}
			}
		}()
		defer func() { // on return (end, error or break): stop and join every goroutine
			close(done)
			for p := range ready { // unblock the producer
				p.wg.Wait()
			}
			workers.Wait()
		}()
		for p := range ready {
			p.wg.Wait()
			if err := p.firstErr(); err != nil {
				yield(Batch{}, fmt.Errorf("epoch %d batch %d: %w", epoch, p.b.Index, err))
				return
			}
			if !yield(p.b, nil) {
				return
			}
		}
	}
}

// pending is a batch being filled by the workers.
type pending struct {
	b    Batch
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

func (p *pending) setErr(slot int, err error) {
	if err == nil {
		return
	}
	p.mu.Lock()
	p.errs[slot] = err
	p.mu.Unlock()
}

func (p *pending) firstErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func (l *Loader) newPending(epoch, index int, idx []int) *pending {
	n, s := len(idx), l.cfg.ImageSize
	p := &pending{errs: make([]error, n)}
	p.b = Batch{
		Epoch: epoch, Index: index, Size: s,
		Images: make([]float32, n*3*s*s),
		Labels: make([]int64, n),
		Texts:  make([]string, n),
		IDs:    make([]string, n),
	}
	for k, ri := range idx {
		r := l.recs[ri]
		p.b.Labels[k] = int64(r.LabelID)
		p.b.IDs[k] = r.ID
		p.b.Texts[k] = l.pickText(epoch, ri)
	}
	return p
}

// sampleRNG returns the generator for one record in one epoch: independent of batch
// composition, worker count and scheduling.
func (l *Loader) sampleRNG(epoch, rec int, stream uint64) *rng {
	return newRNG(seed.Mix(l.cfg.Seed, stream, uint64(epoch), uint64(rec)))
}

func (l *Loader) pickText(epoch, rec int) string {
	texts := l.recs[rec].Texts
	switch {
	case len(texts) == 0:
		return ""
	case !l.cfg.Train || len(texts) == 1:
		return texts[0]
	}
	return texts[l.sampleRNG(epoch, rec, 0x74657874).intn(len(texts))]
}

// load decodes and transforms record rec into dst.
func (l *Loader) load(epoch, rec int, dst []float32) error {
	base, err := l.base(l.recs[rec])
	if err != nil {
		return err
	}
	var r *rng
	if l.cfg.Train {
		r = l.sampleRNG(epoch, rec, 0x696d616765)
	}
	l.tf.apply(base, l.cfg.Train, r, dst)
	return nil
}

// base returns the decoded base image of a record: its stored base image when the dataset
// has usable ones, else from the cache when there is one, else decoded from the original.
// The files of records from Open are confined to their dataset's folders.
func (l *Loader) base(r Record) (*rgbImage, error) {
	chk := imageCheck{maxPixels: l.cfg.MaxImagePixels}
	if l.usesBase(r) {
		chk.root = r.roots.prepared
		return decodeBase(r.Base, l.cfg.BaseSize, l.tf.bg, chk)
	}
	if r.roots != nil {
		chk.root = r.roots.images
	}
	if l.cache != nil {
		return l.cache.get(r.Image, chk)
	}
	return decodeBase(r.Image, l.cfg.BaseSize, l.tf.bg, chk)
}

// usesBase reports whether the loader reads the record's stored base image.
func (l *Loader) usesBase(r Record) bool {
	return r.roots != nil && r.Base != "" && r.roots.base.usable(l.cfg.BaseSize, l.tf.bg)
}

func decodeBase(path string, baseSize int, bg [3]uint8, chk imageCheck) (*rgbImage, error) {
	img, err := chk.decode(path)
	if err != nil {
		return nil, err
	}
	return shrinkTo(toRGB(img, bg), baseSize), nil
}

// FillCache decodes every record's image into the cache (a no-op without CacheDir), in
// parallel, with a progress bar.
func (l *Loader) FillCache() error {
	if l.cache == nil {
		return nil
	}
	bar := newProgress(l.cfg.Progress, l.cfg.Quiet, len(l.recs), "caching images")
	defer bar.finish()
	errs := parallel(len(l.recs), l.cfg.Workers, func(i int) error {
		if l.usesBase(l.recs[i]) {
			return nil // read from the dataset's base images, not cached
		}
		_, err := l.base(l.recs[i])
		return err
	}, func() { bar.add(1) })
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("fill cache: %w", err)
		}
	}
	return nil
}

// LoadImage applies the evaluation transform of cfg (no augmentation) to one image file and
// returns 3*ImageSize*ImageSize floats, CHW: what a predict command feeds the model. The file
// must be a regular file (a FIFO or device is refused without being read) whose header is
// within cfg.MaxImagePixels.
func LoadImage(path string, cfg LoaderConfig) ([]float32, error) {
	cfg.Train = false
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1
	}
	l, err := NewLoader(nil, cfg)
	if err != nil {
		return nil, fmt.Errorf("load image: %w", err)
	}
	base, err := l.base(Record{Image: path})
	if err != nil {
		return nil, fmt.Errorf("load image: %w", err)
	}
	s := l.cfg.ImageSize
	out := make([]float32, 3*s*s)
	l.tf.apply(base, false, nil, out)
	return out, nil
}

// parallel runs f(0..n-1) on workers goroutines and returns the errors by index; tick runs
// (on the calling goroutine) after each item.
func parallel(n, workers int, f func(i int) error, tick func()) []error {
	errs := make([]error, n)
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	next := make(chan int)
	doneCh := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = f(i)
				doneCh <- struct{}{}
			}
		}()
	}
	go func() {
		for i := 0; i < n; i++ {
			next <- i
		}
		close(next)
	}()
	for i := 0; i < n; i++ {
		<-doneCh
		if tick != nil {
			tick()
		}
	}
	wg.Wait()
	return errs
}
