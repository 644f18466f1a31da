//go:build race

package persontoken_test

// attackRace: the attack tests run under the race detector, where the
// VOPRF is about fifteen times slower; they use smaller sizes.
const attackRace = true
