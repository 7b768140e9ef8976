package compare

import "github.com/vbg-museum/vbg/config"

func testConfig(arch string) *config.Config {
	c := config.Default()
	c.Model.Arch = arch
	return c
}
