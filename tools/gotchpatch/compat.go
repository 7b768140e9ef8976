package main

import "fmt"

// Compat is filled in by the compatibility work (see scripts/check-compat.sh).
func Compat(gotchDir string, l Libtorch, cxx string) ([]string, error) {
	return nil, fmt.Errorf("compat mode is not available yet")
}
