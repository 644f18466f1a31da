//go:build tools

// Package accord pins, through blank imports that only the "tools" build tag
// compiles, the core modules that no package imports yet: the Raft library
// and its BoltDB log store for the strategy registry, at the pair of versions
// chosen in go.mod. `go mod tidy` keeps them because it considers all build
// tags.
package accord

import (
	_ "github.com/hashicorp/raft"
	_ "github.com/hashicorp/raft-boltdb/v2"
)
