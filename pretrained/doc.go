// Package pretrained moves weights and tokenizers in and out of VBG.
//
// It reads and writes safetensors files (single files and sharded checkpoints
// with a model.safetensors.index.json), reads PyTorch pytorch_model.bin files
// through gotch's pickle reader, copies named tensors into a model's variables
// while reporting missing, unexpected and mis-shaped keys the way Hugging Face
// transformers does (LoadInto), translates timm and torchvision ViT layouts onto
// the Hugging Face ViTModel names, parses config.json, loads Hugging Face model
// folders, downloads them from a Hugging Face compatible hub into the standard
// cache layout (Download, Resolve), and tokenizes text with a BERT WordPiece
// tokenizer whose ids match transformers' BertTokenizerFast (Tokenizer).
//
// Tensor work follows the rules of the device package: call it from one
// goroutine locked to its OS thread, and drop tensors explicitly. Nothing here
// calls gotch's Must* functions; every failure is returned as an error that
// names the file and the tensor involved.
package pretrained
