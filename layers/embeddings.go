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
	return &PatchEmbeddings{Projection: c, NumChannels: channels, PatchSize: patch}, nil
}

// pixelsBatch is B of pixels [B, C, H, W] already checked by Grid.
func pixelsBatch(pixels *ts.Tensor) int64 {
	s, _ := pixels.Size()
	return s[0]
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
	if _, _, err := e.Grid(pixels); err != nil {
		return nil, err
	}
	y, err := e.Projection.Forward(pixels) // [B, D, H/P, W/P]
	if err != nil {
		return nil, fmt.Errorf("patch embeddings: %w", err)
	}
	f, err := y.Flatten(2, 3, true) // [B, D, N]
	if err != nil {
		return nil, fmt.Errorf("patch embeddings: %w", err)
	}
	t, err := f.Transpose(1, 2, true) // [B, N, D], a strided view
	if err != nil {
		return nil, fmt.Errorf("patch embeddings: %w", err)
	}
	return t, nil
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
}

// NewViTEmbeddings builds the embeddings of a ViT for square images of
// imageSize pixels under p. The class token and position embeddings are
// initialised truncated normal with std InitStd, as Hugging Face does.
func NewViTEmbeddings(p *nn.Path, channels, imageSize, patch, hidden int64, dropout float64) (*ViTEmbeddings, error) {
	if patch <= 0 || imageSize < patch || imageSize%patch != 0 {
		return nil, fmt.Errorf("vit embeddings %s: image size %d is not a positive multiple of patch size %d", key(p, ""), imageSize, patch)
	}
	g := imageSize / patch
	e := &ViTEmbeddings{Grid: g, DropoutProb: dropout}
	var err error
	if e.ClsToken, err = newVar(p, "cls_token", []int64{1, 1, hidden}, NewTruncNormal(InitStd)); err != nil {
		return nil, err
	}
	if e.PositionEmbeddings, err = newVar(p, "position_embeddings", []int64{1, 1 + g*g, hidden}, NewTruncNormal(InitStd)); err != nil {
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
	gh, gw, err := e.Patches.Grid(pixels)
	if err != nil {
		return nil, err
	}
	// Eq. (1): patch embeddings [B, N, D].
	x, err := e.Patches.Forward(pixels)
	if err != nil {
		return nil, err
	}
	cls, err := e.ClsToken.Expand([]int64{pixelsBatch(pixels), 1, -1}, false, false)
	if err != nil {
		drop(x)
		return nil, fmt.Errorf("vit embeddings: class token: %w", err)
	}
	// Eq. (2): z_0 = [x_class; x_p^1; …; x_p^N] + E_pos.
	z, err := ts.Cat([]*ts.Tensor{cls, x}, 1)
	drop(cls, x)
	if err != nil {
		return nil, fmt.Errorf("vit embeddings: %w", err)
	}
	pos := e.PositionEmbeddings
	if gh != e.Grid || gw != e.Grid {
		if pos, err = InterpolatePositions(e.PositionEmbeddings, gh, gw); err != nil {
			drop(z)
			return nil, fmt.Errorf("vit embeddings: %w", err)
		}
		defer drop(pos)
	}
	if err := z.Add_(pos); err != nil {
		drop(z)
		return nil, fmt.Errorf("vit embeddings: position embeddings: %w", err)
	}
	return dropoutOwned(z, e.DropoutProb, train)
}

// InterpolatePositions resizes ViT position embeddings pos [1, 1+G², D]
// (class position first, then a G×G grid) to a gh×gw grid with bicubic
// interpolation, returning a new [1, 1+gh·gw, D] tensor. It follows Hugging
// Face's ViTEmbeddings.interpolate_pos_encoding (transformers 4.41): the
// scale factors are (g+0.1)/G, passed to the kernel, and the output size is
// their floor times G, so the results agree to float rounding.
func InterpolatePositions(pos *ts.Tensor, gh, gw int64) (*ts.Tensor, error) {
	s, err := pos.Size()
	if err != nil || len(s) != 3 || s[0] != 1 {
		return nil, fmt.Errorf("interpolate positions: want [1, 1+G², D], got %v (%v)", s, err)
	}
	n, d := s[1]-1, s[2]
	g := int64(math.Sqrt(float64(n)))
	if g*g != n {
		return nil, fmt.Errorf("interpolate positions: %d patch positions are not a square grid", n)
	}
	if gh == g && gw == g {
		return pos.ShallowClone()
	}
	sh := (float64(gh) + 0.1) / float64(g)
	sw := (float64(gw) + 0.1) / float64(g)
	oh, ow := int64(float64(g)*sh), int64(float64(g)*sw)
	if oh != gh || ow != gw {
		return nil, fmt.Errorf("interpolate positions: %d×%d grid gives %d×%d, want %d×%d", g, g, oh, ow, gh, gw)
	}
	cls, err := pos.Narrow(1, 0, 1, false) // [1, 1, D]
	if err != nil {
		return nil, fmt.Errorf("interpolate positions: %w", err)
	}
	defer drop(cls)
	grid, err := pos.Narrow(1, 1, n, false)
	if err != nil {
		return nil, fmt.Errorf("interpolate positions: %w", err)
	}
	if grid, err = grid.Reshape([]int64{1, g, g, d}, true); err != nil {
		return nil, fmt.Errorf("interpolate positions: %w", err)
	}
	if grid, err = grid.Permute([]int64{0, 3, 1, 2}, true); err != nil { // [1, D, G, G]
		return nil, fmt.Errorf("interpolate positions: %w", err)
	}
	if grid, err = grid.UpsampleBicubic2d([]int64{gh, gw}, false, []float64{sh}, []float64{sw}, true); err != nil {
		return nil, fmt.Errorf("interpolate positions: bicubic: %w", err)
	}
	if grid, err = grid.Permute([]int64{0, 2, 3, 1}, true); err != nil { // [1, gh, gw, D]
		return nil, fmt.Errorf("interpolate positions: %w", err)
	}
	if grid, err = grid.Reshape([]int64{1, gh * gw, d}, true); err != nil {
		return nil, fmt.Errorf("interpolate positions: %w", err)
	}
	out, err := ts.Cat([]*ts.Tensor{cls, grid}, 1)
	drop(grid)
	if err != nil {
		return nil, fmt.Errorf("interpolate positions: %w", err)
	}
	return out, nil
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
		e   = &BertEmbeddings{DropoutProb: c.Dropout}
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
	s, err := ids.Size()
	if err != nil || len(s) != 2 {
		return nil, fmt.Errorf("bert embeddings: want ids [B, L], got %v (%v)", s, err)
	}
	l := s[1]
	ps, err := e.Position.Weight.Size()
	if err != nil {
		return nil, fmt.Errorf("bert embeddings: %w", err)
	}
	maxPos := ps[0]
	if l > maxPos {
		return nil, fmt.Errorf("bert embeddings: sequence length %d exceeds max_position_embeddings %d", l, maxPos)
	}
	// Eq. (8): x_i = E_token(t_i) + E_segment(s_i) + E_pos(p_i).
	x, err := e.Word.Forward(ids)
	if err != nil {
		return nil, fmt.Errorf("bert embeddings: tokens: %w", err)
	}
	var seg *ts.Tensor
	if tokenTypes != nil {
		seg, err = e.TokenType.Forward(tokenTypes)
	} else {
		seg, err = e.TokenType.Weight.Narrow(0, 0, 1, false) // segment 0, broadcast
	}
	if err != nil {
		drop(x)
		return nil, fmt.Errorf("bert embeddings: segments: %w", err)
	}
	err = x.Add_(seg)
	drop(seg)
	if err != nil {
		drop(x)
		return nil, fmt.Errorf("bert embeddings: segments: %w", err)
	}
	// Positions 0..L-1 are the first L rows of the table: no index tensor.
	pos, err := e.Position.Weight.Narrow(0, 0, l, false)
	if err != nil {
		drop(x)
		return nil, fmt.Errorf("bert embeddings: positions: %w", err)
	}
	err = x.Add_(pos)
	drop(pos)
	if err != nil {
		drop(x)
		return nil, fmt.Errorf("bert embeddings: positions: %w", err)
	}
	n, err := e.LayerNorm.Forward(x)
	drop(x)
	if err != nil {
		return nil, fmt.Errorf("bert embeddings: %w", err)
	}
	return dropoutOwned(n, e.DropoutProb, train)
}
