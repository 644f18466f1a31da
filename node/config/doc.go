// Package config is the node's configuration: one YAML file format
// (documented with an annotated example in docs/configuration.md), with
// defaults, overrides from ACCORD_* environment variables and from flags
// (in that order: defaults < file < environment < flags), and Validate,
// which names the field and the reason of the first problem. accordctl reads
// the same file to act with the node's identity.
//
// The package reads no flags or environment on its own: callers pass the
// environment and own the flag set.
package config
