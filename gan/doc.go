// Package gan is VBG's GAN module (paper, "GAN module: data augmentation
// and generation", eqs. 15–19): a class-conditional DCGAN that generates
// artifact images for scarce classes, the texts that go with them, and the
// pieces the training loop needs to feed them back into the classifier.
//
//   - Generator (eq. 15): noise plus a class embedding → fully connected
//     layer → four transposed convolutions with batch norm and ReLU, tanh
//     output, at 32, 64 or 128 pixels.
//   - Discriminator (eq. 18): four convolutions with LeakyReLU and batch
//     norm → a real/fake logit, plus an auxiliary head predicting the class
//     and the attributes of the category-attribute table.
//   - Losses: the adversarial loss (eq. 19, minimax or non-saturating for
//     G), the style constraint loss (Gram-matrix distance between the
//     features of generated images and of the class's texture library) and
//     the attribute consistency loss (in D on real pairs, in G on generated
//     images).
//   - Texts: an AttributeTable mined from the training texts (per class the
//     phrases frequent in it and rare elsewhere) or given in the YAML, and
//     generators of texts that never carry another class's attributes:
//     TemplateText, or the recurrent GRUText (eqs. 16–17) with a check.
//   - Stability, the criterion that ends a round's GAN training; Quotas,
//     the inverse-frequency split of a round's samples over classes;
//     WriteGrid, a PNG grid of samples with their texts.
//
// The Trainer takes plain Go buffers (RealBatch) and knows nothing of the
// classifier: package train runs the rounds, scores and filters the
// samples, and mixes them into the training set.
//
// Ownership: like package layers, every function that returns a tensor
// gives it to the caller and frees its intermediates; all tensor work must
// happen on one goroutine locked to its OS thread (package device).
package gan
