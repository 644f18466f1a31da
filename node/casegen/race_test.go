//go:build race

package casegen

const raceEnabled = true
