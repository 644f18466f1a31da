// Package buildinfo tells the commands which version they are. The Makefile
// sets it at link time:
//
//	-ldflags "-X github.com/accordfed/accord/cmd/internal/buildinfo.version=v0.1.0"
//
// otherwise the module version recorded by the Go toolchain is used.
package buildinfo

import "runtime/debug"

var version = ""

// Version returns the build's version: the one set at link time, else the
// module version, else "devel".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
