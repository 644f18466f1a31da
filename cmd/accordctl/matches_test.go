package main

import (
	"bytes"
	"strings"
	"testing"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestPrintWaterfall: the prior, then each comparison's level, signed
// weight and running total, then the probability; a comparison not
// observed says so and adds nothing.
func TestPrintWaterfall(t *testing.T) {
	e := &accordv1.MatchExplanation{Prior: 0.1, PriorWeight: -3.17, Weight: 7.08, Probability: 0.9926, Comparisons: []*accordv1.ComparisonWeight{
		{Name: "time", Observed: true, Level: 0, Label: "same hour", Weight: 4.5},
		{Name: "persons", Level: -1},
		{Name: "place", Observed: true, Level: 1, Label: "same name up to vowels", Weight: 5.75},
	}}
	var b bytes.Buffer
	printWaterfall(&b, e)
	out := b.String()
	lines := strings.Split(out, "\n")
	for i, want := range [][]string{
		{"COMPARISON", "LEVEL", "WEIGHT", "TOTAL"},
		{"prior", "0.1000 of candidate pairs match", "-3.17", "-3.17", "---"},
		{"time", "same hour", "+4.50", "+1.33", "++++"},
		{"persons", "(not observed)", "+0.00", "+1.33"},
		{"place", "same name up to vowels", "+5.75", "+7.08", "++++++"},
		{"total weight +7.08", "= 0.9926"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("line %d %q lacks %q\n%s", i+1, lines[i+1], w, out)
			}
		}
	}
	b.Reset()
	printWaterfall(&b, nil)
	if !strings.Contains(b.String(), "none") {
		t.Errorf("no explanation: %q", b.String())
	}
}
