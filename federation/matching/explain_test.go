package matching

import (
	"math"
	"testing"
)

// TestExplanationAddsUp: every match's explanation adds up exactly to its
// weight, its probability rounds to its score, and its labels are the
// model's level names (never a value of a record).
func TestExplanationAddsUp(t *testing.T) {
	recs, _ := loadDataset(t, "dedup-small")
	ms, model, _, err := MatchAll(recs, Config{}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no matches")
	}
	_, _, comps := model.Describe()
	unobserved := 0
	for _, m := range ms {
		e, ok := m.Explain()
		if !ok || m.Model != model {
			t.Fatalf("%s-%s: no model, or not the run's", m.A, m.B)
		}
		if len(e.Comparisons) != len(comps) || e.Prior != model.Lambda {
			t.Fatalf("%s-%s: %+v", m.A, m.B, e)
		}
		total := e.PriorWeight
		for i, c := range e.Comparisons {
			if c.Name != comps[i].Name {
				t.Fatalf("comparison %d is %q, want %q", i, c.Name, comps[i].Name)
			}
			if c.Level < 0 {
				unobserved++
				if c.Label != "" || c.Weight != 0 {
					t.Fatalf("unobserved with label or weight: %+v", c)
				}
			} else if lv := comps[i].Levels[c.Level]; c.Label != lv.Label || c.Weight != lv.Weight {
				t.Fatalf("%+v is not the model's level %+v", c, lv)
			}
			total += c.Weight
		}
		if total != e.Weight || e.Weight != m.Weight {
			t.Fatalf("%s-%s: weights sum to %v, explanation %v, match %v", m.A, m.B, total, e.Weight, m.Weight)
		}
		if e.Probability != Probability(m.Weight) || math.Round(e.Probability*10000)/10000 != m.Score {
			t.Fatalf("%s-%s: probability %v, score %v", m.A, m.B, e.Probability, m.Score)
		}
	}
	if unobserved == 0 {
		t.Error("no comparison was ever unobserved: the -1 level is not exercised")
	}
}
