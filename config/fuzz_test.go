package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fuzz targets of the config package (see FUZZ.md). Their seeds run as ordinary tests.

// yamlSeeds are experiment files: good ones and the hostile shapes issue 12 and the tests
// name (duplicate keys, include cycles, billion laughs, wrong types, non-mappings).
var yamlSeeds = []string{
	good,
	"includes: [base.yaml]\ntrain:\n  lr: 0.01\n",
	"includes: [main.yaml]\n",
	"includes: base.yaml\n",
	"includes: [/dev/null]\n",
	"name: a\nname: b\n",
	"data:\n  image_size: 1\n  image_size: 2\n",
	"data:\n  source: synthetic\n  image_size: 100000\n  synthetic:\n    per_class: 1000000000\n",
	"train: 3\n",
	"- a\n- b\n",
	"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
	"data: &d\n  source: synthetic\nmodel: *d\n",
	"<<: {name: x}\n",
	"train:\n  lr: .nan\n  weight_decay: .inf\n",
	"data:\n  mean: [0.4, 0.4]\n  std: [0, -1, 2]\n",
	"gan:\n  text:\n    attributes:\n      Ru: [\" \"]\n",
	"train:\n  lr: [1,\n",
	"\ufeffname: bom\n",
	"name: \"\\xff\"\n",
	"? [a, b]\n: c\n",
	"!!binary aGVsbG8=: x\n",
	"",
	"---\n---\n",
}

// FuzzLoad loads any experiment file that may include a second one (base.yaml, also fuzzed):
// Load never panics, and a config it returns validates and survives a round trip through
// Marshal.
func FuzzLoad(f *testing.F) {
	for i, s := range yamlSeeds {
		f.Add([]byte(s), []byte(yamlSeeds[(i+1)%len(yamlSeeds)]))
	}
	f.Add([]byte("includes: [base.yaml]\n"), []byte("includes: [main.yaml]\n")) // a cycle
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, main, base []byte) {
		p := filepath.Join(dir, "main.yaml")
		if err := os.WriteFile(p, main, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "base.yaml"), base, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Load(p, nil)
		if err != nil {
			if lines := strings.Count(err.Error(), "\n"); lines > MaxShownProblems {
				t.Fatalf("error of %d lines", lines+1)
			}
			return
		}
		if ps := c.Validate(); len(ps) != 0 {
			t.Fatalf("loaded config does not validate: %v", ps)
		}
		out, err := c.Marshal()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		p2 := filepath.Join(dir, "resolved.yaml")
		if err := os.WriteFile(p2, out, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p2, nil); err != nil {
			t.Fatalf("the resolved config does not load: %v\n%s", err, out)
		}
	})
}

// FuzzSet applies any --set override to a good experiment: Load never panics.
func FuzzSet(f *testing.F) {
	for _, s := range []string{"train.lr=3e-4", "data.mean=[0.4,0.4,0.4]", "data.augment={flip: false}", "train.lr",
		"=1", "train..lr=1", "train.lr.x=1", "data=3", "data.image_size=100000", "a.b.c.d.e=[", "train.lr=*x",
		"gan.text.attributes.Ru=[a, b]", "model=&a {x: *a}", "train.lr=!!float nan", " data . dir = x "} {
		f.Add(s)
	}
	dir := f.TempDir()
	p := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(p, []byte(good), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, set string) {
		c, err := Load(p, []string{set})
		if err == nil {
			if ps := c.Validate(); len(ps) != 0 {
				t.Fatalf("loaded config does not validate: %v", ps)
			}
		}
	})
}
