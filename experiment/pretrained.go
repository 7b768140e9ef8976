package experiment

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sugarme/gotch/nn"

	"github.com/vbg-museum/vbg/config"
	"github.com/vbg-museum/vbg/pretrained"
)

// ModelFolder resolves an experiment's pretrained name: a local folder, or
// a hub repo id already in the Hugging Face cache (`vbg pretrained
// download` puts it there).
func ModelFolder(key, name string) (string, error) {
	if st, err := os.Stat(name); err == nil && st.IsDir() {
		return name, nil
	}
	dir, err := resolveHub(name)
	if err != nil {
		return "", fmt.Errorf("%s: %q is neither a folder nor a downloaded hub model (`vbg pretrained download %s` fetches it): %w", key, name, name, err)
	}
	return dir, nil
}

// resolveHub finds a hub repo id in the local Hugging Face cache.
var resolveHub = pretrained.Resolve

// fromFolderConfig decodes a model folder's config.json over v.
func fromFolderConfig(key, name string, v any) error {
	dir, err := ModelFolder(key, name)
	if err != nil {
		return err
	}
	f, err := pretrained.InspectFolder(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	if f.Config == nil {
		return fmt.Errorf("%s: %s has no config.json", key, dir)
	}
	if err := f.Config.Decode(v); err != nil {
		return fmt.Errorf("%s: %s: %w", key, dir, err)
	}
	return nil
}

// LoadPretrained copies the encoders' pretrained weights named in the
// experiment into vs and reports what was loaded to log. A missing or
// mis-shaped encoder weight is an error; checkpoint tensors the model does
// not use (a pooler, a task head) are only counted.
func LoadPretrained(vs *nn.VarStore, cfg *config.Config, log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
	for _, e := range []struct {
		key, name, prefix string
	}{
		{"model.image.pretrained", cfg.Model.Image.Pretrained, "vit."},
		{"model.text.pretrained", cfg.Model.Text.Pretrained, "bert."},
	} {
		if e.name == "" {
			continue
		}
		if (e.prefix == "vit." && cfg.Model.Fusion.Type == "text") || (e.prefix == "bert." && cfg.Model.Fusion.Type == "image") {
			continue
		}
		dir, err := ModelFolder(e.key, e.name)
		if err != nil {
			return err
		}
		src, _, err := pretrained.OpenFolderWeights(dir)
		if err != nil {
			return fmt.Errorf("%s: %w", e.key, err)
		}
		rep, err := pretrained.LoadIntoVarStore(vs, src, pretrained.LoadOptions{ModelPrefix: e.prefix})
		src.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", e.key, err)
		}
		if len(rep.Missing) > 0 || len(rep.Mismatched) > 0 {
			return fmt.Errorf("%s: %s does not fit the model: %s", e.key, dir, strings.ReplaceAll(rep.String(), "\n", "; "))
		}
		fmt.Fprintf(log, "vbg: loaded %s from %s (%d tensors; unused in the checkpoint: %d)\n", e.key, dir, len(rep.Loaded), len(rep.Unexpected))
	}
	return nil
}
