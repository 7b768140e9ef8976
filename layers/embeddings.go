package layers

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// PatchEmbeddings mirrors Hugging Face's ViTPatchEmbeddings: a P×P
// convolution with stride P that cuts the image into patches and projects
// each flattened patch (P²·C values) to D dimensions.
//
// https://github.com/huggingface/transformers/blob/v4.41.2/src/transformers/models/vit/modeling_vit.py
type PatchEmbeddings struct {
	Projection  *Conv2d // "projection": [D, C, P, P]
	NumChannels int64
	PatchSize   int64
	Name        string // checkpoint path, e.g. "vit.embeddings.patch_embeddings"
}

// NewPatchEmbeddings builds "projection" under p.
func NewPatchEmbeddings(p *nn.Path, channels, patch, hidden int64) (*PatchEmbeddings, error) {
	if channels <= 0 || patch <= 0 || hidden <= 0 {
		return nil, fmt.Errorf("patch embeddings %s: channels %d, patch size %d and hidden size %d must be positive", key(p, "projection"), channels, patch, hidden)
	}
	c, err := NewConv2d(p.Sub("projection"), channels, hidden, patch, patch, 0, true)
	if err != nil {
		return nil, err
	}
	return &PatchEmbeddings{Projection: c, NumChannels: channels, PatchSize: patch, Name: PathName(p)}, nil
}

// Grid checks pixels [B, C, H, W] and returns the patch grid (H/P, W/P).
func (e *PatchEmbeddings) Grid(pixels *ts.Tensor) (gh, gw int64, err error) {
	s, err := pixels.Size()
	if err != nil {
		return 0, 0, fmt.Errorf("patch embeddings: %w", err)
	}
	if len(s) != 4 || s[1] != e.NumChannels {
		return 0, 0, fmt.Errorf("patch embeddings: want pixels [B, %d, H, W], got %v", e.NumChannels, s)
	}
	if s[2] < e.PatchSize || s[3] < e.PatchSize || s[2]%e.PatchSize != 0 || s[3]%e.PatchSize != 0 {
		return 0, 0, fmt.Errorf("patch embeddings: image %d×%d is not a positive multiple of the patch size %d", s[2], s[3], e.PatchSize)
	}
	return s[2] / e.PatchSize, s[3] / e.PatchSize, nil
}

// Forward maps pixels [B, C, H, W] to patch embeddings [B, N, D], N = HW/P²,
// eq. (1): x_p^i = E_patch(x_p^i).
func (e *PatchEmbeddings) Forward(pixels *ts.Tensor) (*ts.Tensor, error) {
	s := NewScope(e.Name)
	if _, _, err := e.Grid(pixels); err != nil {
		s.Fail(err)
	}
	y := s.Apply(e.Projection, pixels)                     // [B, D, H/P, W/P]
	return s.Result(s.Transpose(s.Flatten(y, 2, 3), 1, 2)) // [B, N, D], a strided view
}

// ViTEmbeddings mirrors Hugging Face's ViTEmbeddings: patch embeddings, a
// learnable class token in front and learnable position embeddings added.
//
// https://github.com/huggingface/transformers/blob/v4.41.2/src/transformers/models/vit/modeling_vit.py
type ViTEmbeddings struct {
	ClsToken           *ts.Tensor       // "cls_token": [1, 1, D]
	PositionEmbeddings *ts.Tensor       // "position_embeddings": [1, 1+G², D]
	Patches            *PatchEmbeddings // "patch_embeddings"
	Grid               int64            // G: the position grid is G×G (image_size/patch_size)
	DropoutProb        float64
	Name               string // checkpoint path, e.g. "vit.embeddings"
}

// NewViTEmbeddings builds the embeddings of a ViT for square images of
// imageSize pixels under p. The class token and position embeddings are
// initialised truncated normal with std InitStd, as Hugging Face does.
func NewViTEmbeddings(p *nn.Path, channels, imageSize, patch, hidden int64, dropout float64) (*ViTEmbeddings, error) {
	if patch <= 0 || imageSize < patch || imageSize%patch != 0 {
		return nil, fmt.Errorf("vit embeddings %s: image size %d is not a positive multiple of patch size %d", key(p, ""), imageSize, patch)
	}
	g := imageSize / patch
	e := &ViTEmbeddings{Grid: g, DropoutProb: dropout, Name: PathName(p)}
	var err error
	if e.ClsToken, err = newParam(p, "cls_token", []int64{1, 1, hidden}, NewTruncNormal(InitStd)); err != nil {
		return nil, err
	}
	if e.PositionEmbeddings, err = newParam(p, "position_embeddings", []int64{1, 1 + g*g, hidden}, NewTruncNormal(InitStd)); err != nil {
		return nil, err
	}
	if e.Patches, err = NewPatchEmbeddings(p.Sub("patch_embeddings"), channels, patch, hidden); err != nil {
		return nil, err
	}
	return e, nil
}

// Forward maps pixels [B, C, H, W] to z_0 [B, 1+N, D]. H and W may differ
// from the configured image size (multiples of the patch size): the position
// grid is then resized bicubically (InterpolatePositions).
func (e *ViTEmbeddings) Forward(pixels *ts.Tensor, train bool) (*ts.Tensor, error) {
	s := NewScope(e.Name)
	gh, gw, err := e.Patches.Grid(pixels)
	s.Fail(err)
	size := s.Size(pixels)
	// Eq. (1): patch embeddings [B, N, D].
	x := s.Apply(e.Patches, pixels)
	cls := s.Do(func() (*ts.Tensor, error) { return e.ClsToken.Expand([]int64{size[0], 1, -1}, false, false) })
	// Eq. (2): z_0 = [x_class; x_p^1; …; x_p^N] + E_pos.
	z := s.Cat(1, cls, x)
	pos := e.PositionEmbeddings
	if gh != e.Grid || gw != e.Grid {
		pos = s.Do(func() (*ts.Tensor, error) { return InterpolatePositions(e.PositionEmbeddings, gh, gw) })
	}
	return s.Result(s.Dropout(s.Add(z, pos), e.DropoutProb, train))
}

// InterpolatePositions resizes ViT position embeddings pos [1, 1+G², D]
// (class position first, then a G×G grid) to a gh×gw grid with bicubic
// interpolation, returning a new [1, 1+gh·gw, D] tensor. It follows Hugging
// Face's ViTEmbeddings.interpolate_pos_encoding (transformers 4.41): the
// scale factors are (g+0.1)/G, passed to the kernel, and the output size is
// their floor times G, so the results agree to float rounding.
func InterpolatePositions(pos *ts.Tensor, gh, gw int64) (*ts.Tensor, error) {
	s := NewScope("interpolate positions")
	size := s.Size(pos)
	if s.Failed() || len(size) != 3 || size[0] != 1 {
		s.Failf("want [1, 1+G², D], got %v", size)
		return s.Keep(nil)
	}
	n, d := size[1]-1, size[2]
	g := int64(math.Sqrt(float64(n)))
	sh, sw := (float64(gh)+0.1)/float64(g), (float64(gw)+0.1)/float64(g)
	switch oh, ow := int64(float64(g)*sh), int64(float64(g)*sw); {
	case g*g != n:
		s.Failf("%d patch positions are not a square grid", n)
	case gh == g && gw == g:
		return s.Keep(s.Do(pos.ShallowClone))
	case oh != gh || ow != gw:
		s.Failf("%d×%d grid gives %d×%d, want %d×%d", g, g, oh, ow, gh, gw)
	}
	cls := s.Narrow(pos, 1, 0, 1)                                                // [1, 1, D]
	grid := s.Permute(s.Reshape(s.Narrow(pos, 1, 1, n), 1, g, g, d), 0, 3, 1, 2) // [1, D, G, G]
	grid = s.Do(func() (*ts.Tensor, error) {
		return grid.UpsampleBicubic2d([]int64{gh, gw}, false, []float64{sh}, []float64{sw}, false)
	})
	grid = s.Reshape(s.Permute(grid, 0, 2, 3, 1), 1, gh*gw, d) // [1, gh·gw, D]
	return s.Keep(s.Cat(1, cls, grid))
}

// BertEmbeddings mirrors Hugging Face's BertEmbeddings: token, segment
// (token type) and absolute position embeddings, summed, then LayerNorm and
// dropout.
//
// https://github.com/huggingface/transformers/blob/v4.41.2/src/transformers/models/bert/modeling_bert.py
type BertEmbeddings struct {
	Word        *Embedding // "word_embeddings": [vocab, D], pad row zero at init
	Position    *Embedding // "position_embeddings": [max positions, D]
	TokenType   *Embedding // "token_type_embeddings": [type vocab, D]
	LayerNorm   *LayerNorm // "LayerNorm"
	DropoutProb float64
	Name        string // checkpoint path, e.g. "bert.embeddings"
}

// BertEmbeddingsConfig sizes BertEmbeddings.
type BertEmbeddingsConfig struct {
	VocabSize, Hidden, MaxPositions, TypeVocabSize int64
	PadTokenID                                     int64 // -1 for none
	Eps, Dropout                                   float64
}

// NewBertEmbeddings builds the embeddings under p.
func NewBertEmbeddings(p *nn.Path, c BertEmbeddingsConfig) (*BertEmbeddings, error) {
	if c.VocabSize <= 0 || c.Hidden <= 0 || c.MaxPositions <= 0 || c.TypeVocabSize <= 0 {
		return nil, fmt.Errorf("bert embeddings %s: vocab %d, hidden %d, max positions %d and type vocab %d must be positive",
			key(p, ""), c.VocabSize, c.Hidden, c.MaxPositions, c.TypeVocabSize)
	}
	var (
		e   = &BertEmbeddings{DropoutProb: c.Dropout, Name: PathName(p)}
		err error
	)
	if e.Word, err = NewEmbedding(p.Sub("word_embeddings"), c.VocabSize, c.Hidden, c.PadTokenID); err != nil {
		return nil, err
	}
	if e.Position, err = NewEmbedding(p.Sub("position_embeddings"), c.MaxPositions, c.Hidden, -1); err != nil {
		return nil, err
	}
	if e.TokenType, err = NewEmbedding(p.Sub("token_type_embeddings"), c.TypeVocabSize, c.Hidden, -1); err != nil {
		return nil, err
	}
	if e.LayerNorm, err = NewLayerNorm(p.Sub("LayerNorm"), c.Hidden, c.Eps); err != nil {
		return nil, err
	}
	return e, nil
}

// Forward embeds ids [B, L] (int64) with segment ids tokenTypes [B, L] (nil:
// all segment 0) at positions 0..L-1 and returns [B, L, D].
func (e *BertEmbeddings) Forward(ids, tokenTypes *ts.Tensor, train bool) (*ts.Tensor, error) {
	s := NewScope(e.Name)
	size, table := s.Shape(ids, 2), s.Size(e.Position.Weight)
	if s.Failed() {
		return s.Result(nil)
	}
	l := size[1]
	if l > table[0] {
		s.Failf("sequence length %d exceeds max_position_embeddings %d", l, table[0])
	}
	// Eq. (8): x_i = E_token(t_i) + E_segment(s_i) + E_pos(p_i).
	seg := func() *ts.Tensor {
		if tokenTypes != nil {
			return s.Apply(e.TokenType, tokenTypes)
		}
		return s.Narrow(e.TokenType.Weight, 0, 0, 1) // segment 0, broadcast
	}
	x := s.Add(s.Apply(e.Word, ids), seg())
	// Positions 0..L-1 are the first L rows of the table: no index tensor.
	x = s.Add(x, s.Narrow(e.Position.Weight, 0, 0, l))
	return s.Result(s.Dropout(s.Apply(e.LayerNorm, x), e.DropoutProb, train))
}
