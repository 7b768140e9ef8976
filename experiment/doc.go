// Package experiment turns a validated experiment file into the parts a run
// is made of: the dataset splits, the tokenizer, and the network named by
// model.arch with its pretrained weights.
//
// It is the one place where configuration becomes models: the registry of
// architectures (VBG, the baseline networks, the fitted baselines) lives
// here, VBG's encoders are resolved from their presets (package vbg defines
// them) or from a pretrained folder's config.json, and Check validates an
// experiment's model against them, so that config.Load reports a bad model
// with file and line before anything runs.
package experiment
