// Package data turns raw multimodal sources into prepared datasets and prepared datasets into
// batches of plain Go buffers.
//
// It has three parts:
//
//   - Prepare: PrepareMET, PrepareCOCO, PrepareManifest and PrepareEmoji read a published source
//     (MetObjects.csv plus an image folder, COCO caption and instance JSON, any CSV/JSONL
//     manifest, the npm emoji-datasource packages), check every record, choose the labels,
//     split stratified by label and grouped by Record.Group (8:1:1, seed 42 by default) and
//     write a prepared folder: manifest.jsonl, labels.json, splits/{train,val,test}.txt,
//     dataset.json, problems.jsonl and a data card (card.json, card.md). Open reads it back.
//     Inputs are refused as a whole when they cannot be read as text (UTF-16, NUL bytes) or
//     would be overwritten by the output; every CSV line is accounted for (a quote left
//     open is reported with the lines it swallowed); every image is confined to its root
//     (symbolic links resolved), must be a regular file, and its size is read from the
//     header and checked against a pixel limit before anything is decoded. Text fields are
//     measured for label leakage (FieldLeak). With a base size, prepare also stores every
//     large image shrunk (BaseImages), so that training never decodes a full-size photo.
//   - Split: a deterministic, stratified, grouped train/val/test split with its own PRNG, so
//     the same inputs give the same split on every run and machine.
//   - Loader: decodes JPEG and PNG in parallel goroutines, resizes, crops, augments and
//     normalises images into float32 CHW buffers and yields Batch values in a data order
//     that depends only on (seed, epoch), so a resumed run sees the same order. Records from
//     Open stay confined: each file is resolved and checked again when it is opened.
//
// The package never touches tensors: it hands plain slices to the goroutine that owns them.
// Synthetic builds a small deterministic image+text dataset that needs both modalities,
// for unit tests of the model.
package data
