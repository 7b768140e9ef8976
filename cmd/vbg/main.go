// Command vbg trains, evaluates and exports VBG multimodal classifiers for
// museum artifacts. Run `vbg --help`.
package main

import (
	"os"

	"github.com/vbg-museum/vbg/cli"
)

func main() {
	if err := cli.Run(cli.App(), os.Args); err != nil {
		os.Exit(1)
	}
}
