// Package layers holds the transformer building blocks that VBG's encoders
// are made of: linear, layer-norm, embedding and convolution layers with
// explicit initialisation, multi-head self-attention on libtorch's
// scaled_dot_product_attention, pre-norm (ViT) and post-norm (BERT) encoder
// blocks, ViT patch/class/position embeddings (with bicubic interpolation of
// the position grid), BERT token/segment/position embeddings and the pooler;
// the cross-attention of VBG's fusion layer; and the DCGAN blocks of the GAN
// module (transposed convolution with libtorch's weight layout, 2-D batch
// norm, the Gram matrix of the style loss).
//
// Every struct mirrors one Hugging Face transformers module and is built at an
// nn.Path whose key is the Hugging Face checkpoint key: the path a module is
// constructed at is its state-dict prefix, so loading and exporting weights is
// a name lookup. Parameters are initialised the way Hugging Face's
// _init_weights does (truncated normal, std 0.02, for weights; zeros for
// biases; ones and zeros for LayerNorm), never with gotch's default init.
//
// Forwards are written with a Scope (scope.go): each reads like its
// equations, the first error stops the chain and comes back as a
// ModuleError naming the innermost failing module by its checkpoint path
// ("vit.encoder.layer.3.attention.attention: ..."). Every attention layer
// computes Scope.Attention (sdpa.go), the one implementation of scaled
// dot-product attention. A Pass says whether a forward trains and may carry
// a Trace, which collects each attention layer's probabilities under its
// path (like Hugging Face's output_attentions) from the same forward that
// trains.
//
// Ownership: every Forward returns a new tensor owned by the caller and frees
// every intermediate it created before returning, on success and on error.
// Inputs are never freed. All tensor work must run on one goroutine locked to
// its OS thread (see package device).
package layers
