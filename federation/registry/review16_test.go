package registry

import (
	"math"
	"slices"
	"testing"

	"github.com/accordfed/accord/federation/matching"
)

// fillComparisons adds every comparison of the matcher that e lacks, not
// observed, in the model's order.
func fillComparisons(e *Explanation) {
	names, _ := matching.Vocabulary()
	var out []ComparisonWeight
	for _, n := range names {
		i := slices.IndexFunc(e.Comparisons, func(c ComparisonWeight) bool { return c.Name == n })
		if i >= 0 {
			out = append(out, e.Comparisons[i])
		} else {
			out = append(out, ComparisonWeight{Name: n, Level: -1})
		}
	}
	e.Comparisons = out
}

// reviewExplanation builds an explanation that adds up, after mutate.
func reviewExplanation(mutate func(e *Explanation)) (*Explanation, float64) {
	e := &Explanation{Prior: 0.1, PriorWeight: math.Log2(0.1 / 0.9), Comparisons: []ComparisonWeight{
		{Name: "time", Level: 0, Label: "same hour", Weight: 2.5},
		{Name: "place", Level: 1, Label: "same name up to vowels", Weight: 3.25},
	}}
	fillComparisons(e)
	mutate(e)
	e.Weight = e.PriorWeight
	for _, c := range e.Comparisons {
		e.Weight += c.Weight
	}
	e.Probability = 1 / (1 + math.Exp2(-e.Weight))
	return e, math.Round(e.Probability*10000) / 10000
}

// TestReviewExplanationLabelsAreTheModelsWords: explanation names and
// labels are replicated to every member's registry server; the docs say
// they "name levels, never values of a record", but a dishonest member can
// put a person's name (any line of up to 200 characters) there. The
// registry must accept only the matcher's comparisons and level names.
func TestReviewExplanationLabelsAreTheModelsWords(t *testing.T) {
	cases := []CaseRef{cref("PL", "1"), cref("UA", "1")}
	for name, mutate := range map[string]func(e *Explanation){
		"label is a person": func(e *Explanation) { e.Comparisons[0].Label = "Ivan Petrenko, born 1975, witness" },
		"name is a person":  func(e *Explanation) { e.Comparisons[0].Name = "Olena Kovalenko" },
		"label of another level": func(e *Explanation) {
			e.Comparisons[0].Label = "within 1 km" // a level of distance, not time
		},
		"level past the model's": func(e *Explanation) { e.Comparisons[0].Level = 40 },
		"comparison twice":       func(e *Explanation) { e.Comparisons[1] = e.Comparisons[0] },
		// Leaving out a comparison that spoke against the match (and
		// raising the prior to make up for it) hides it from the reader.
		"comparison left out": func(e *Explanation) {
			e.Comparisons = slices.DeleteFunc(e.Comparisons, func(c ComparisonWeight) bool { return c.Name == "distance" })
		},
	} {
		e, score := reviewExplanation(mutate)
		t.Run(name, func(t *testing.T) {
			h := bootstrapped(t, Policy{}, "UA", "PL")
			h.refuse("UA", ProposeMatch{Cases: cases, Score: score, Explanation: e}, ErrInvalidArgument)
		})
	}
}

// TestReviewExplanationPriorWeightAddsUp: the prior's weight must be
// log2(prior/(1-prior)); otherwise a proposer can show a modest prior and
// hide a large weight in it (the numbers do not add up for the reader).
func TestReviewExplanationPriorWeightAddsUp(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL")
	cases := []CaseRef{cref("PL", "1"), cref("UA", "1")}
	e, score := reviewExplanation(func(e *Explanation) { e.PriorWeight = 25 }) // prior 0.1 shown, weight of 1-3e-8
	h.refuse("UA", ProposeMatch{Cases: cases, Score: score, Explanation: e}, ErrInvalidArgument)
}

// TestReviewAnswerHistoryIsBounded: every answer a member gives again is
// kept in Earlier, replicated on every server and in every snapshot; a
// dishonest member can flip its answer without end and grow one decision
// (and every clone of it per change, and every WatchMatches event and
// cluster update that carries it) without bound. The registry must bound
// how often a member answers one decision.
func TestReviewAnswerHistoryIsBounded(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL")
	id := h.ok("UA", ProposeMatch{Cases: []CaseRef{cref("PL", "1"), cref("UA", "1")}, Score: 0.9}).ID
	long := make([]byte, maxReasonLen)
	for i := range long {
		long[i] = 'x'
	}
	refused := false
	for i := 0; i < 500 && !refused; i++ {
		c := h.command("UA", DecideMatch{Match: id, Confirm: i%2 == 0, Reason: string(long)})
		if out := h.applyCommand(c); out.Err != nil {
			refused = true
		}
	}
	var n int
	h.read(func(v View) {
		d, _ := v.GetMatchDecision(id, "UA")
		n = len(d.Earlier)
	})
	if !refused {
		t.Fatalf("500 answers of one member on one decision accepted; history holds %d answers of up to %d bytes each", n, maxReasonLen)
	}
}
