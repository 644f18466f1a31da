//go:build !race

package persontoken_test

// attackRace: see attack_race_test.go.
const attackRace = false
