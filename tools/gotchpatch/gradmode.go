package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// gradModeFixes are exact source replacements for gotch v0.9.1's grad-mode
// handling:
//   - libtch.AtGradSetEnabled read the 4-byte C int it got back as an 8-byte
//     Go int, so the "previous state" was garbage and GradSetEnabled always
//     reported false;
//   - ts.NoGrad switched grad mode back on unconditionally, so a NoGrad
//     nested in another (or called with grad already off) turned it on.
var gradModeFixes = []struct {
	file, old, new string
}{
	{"libtch/tensor.go",
		"\treturn *(*int)(unsafe.Pointer(&cretVal))\n}\n\n/*\n * optimizer ato_adam",
		"\treturn int(cretVal) // VBG: C int is 4 bytes; upstream read 8\n}\n\n/*\n * optimizer ato_adam"},
	{"ts/tensor.go",
		"\t// Switch off Grad\n\tMustGradSetEnabled(false)\n\n\tfn()\n\n\t// Switch on Grad\n\tMustGradSetEnabled(true)\n}",
		"\t// VBG: restore the previous mode (upstream always switched grad on).\n\tprev := MustGradSetEnabled(false)\n\tdefer MustGradSetEnabled(prev)\n\tfn()\n}"},
}

// FixGradMode applies gradModeFixes.
func FixGradMode(gotchDir string) error {
	for _, f := range gradModeFixes {
		path := filepath.Join(gotchDir, f.file)
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Count(string(src), f.old) != 1 {
			return fmt.Errorf("%s: grad-mode code not found as expected; is this gotch v0.9.1?", path)
		}
		if err := os.WriteFile(path, []byte(strings.Replace(string(src), f.old, f.new, 1)), 0o644); err != nil {
			return err
		}
	}
	return nil
}
