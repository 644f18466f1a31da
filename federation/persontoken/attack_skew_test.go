package persontoken_test

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/accordfed/accord/federation/personenc"
)

// Zipf exponents of the skewed population: first names and surnames are
// drawn independently, the r-th of the attacker's lists (roughly in order of
// commonness) with weight 1/r^s.
const (
	skewFirstExponent   = 1.0
	skewSurnameExponent = 0.7
)

// skewedPopulation draws n persons (Cyrillic names, no birth year) from the
// attacker's own lists with Zipf-distributed first names and surnames, with
// a fixed seed, and returns them together with the exact probability of
// each folded full name under that distribution.
func skewedPopulation(n int) ([]attackPerson, map[string]float64, error) {
	type word struct {
		raw  string
		toks []string
		w    float64
	}
	weigh := func(list []string, s float64) ([]word, float64, error) {
		var out []word
		total := 0.0
		for r, raw := range list {
			toks, err := personenc.Fold(raw)
			if err != nil {
				return nil, 0, err
			}
			w := math.Pow(float64(r+1), -s)
			out = append(out, word{raw, toks, w})
			total += w
		}
		return out, total, nil
	}
	firsts, ft, err := weigh(attackFirstNames, skewFirstExponent)
	if err != nil {
		return nil, nil, err
	}
	lasts, lt, err := weigh(attackSurnames, skewSurnameExponent)
	if err != nil {
		return nil, nil, err
	}
	fold := func(f, l word) string {
		toks := append(slices.Clone(f.toks), l.toks...)
		slices.Sort(toks)
		return strings.Join(slices.Compact(toks), " ")
	}
	prob := map[string]float64{}
	for _, f := range firsts {
		for _, l := range lasts {
			prob[fold(f, l)] += f.w / ft * l.w / lt
		}
	}
	draw := func(rng *rand.Rand, ws []word, total float64) word {
		u := rng.Float64() * total
		for _, w := range ws {
			if u -= w.w; u < 0 {
				return w
			}
		}
		return ws[len(ws)-1]
	}
	rng := rand.New(rand.NewPCG(20261207, 2))
	out := make([]attackPerson, n)
	for i := range out {
		f, l := draw(rng, firsts, ft), draw(rng, lasts, lt)
		out[i] = attackPerson{Name: f.raw + " " + l.raw, Fold: fold(f, l)}
	}
	return out, prob, nil
}

// TestAttackFrequencySkewed is attack 5 of docs/person-attacks.md: the
// frequency attack of TestAttackFrequency on a population whose names are
// not uniform, as real names are not.
//
// This is the honest residual risk of the new design. Both designs are
// deterministic in the folded name, because matching needs equal names to
// give equal codes: equal filters and equal name tokens form the same
// groups, and the attacker who knows how names are distributed names the
// largest groups by rank on either design, without any key. Per-node keys
// do not change that; they only keep the attacker from confirming a guess
// offline (attack 1). The test asserts that the rate is not zero on the
// first design (the attack is live) and that this design is not worse.
func TestAttackFrequencySkewed(t *testing.T) {
	w := attackSetup(t)
	n := 3000
	if testing.Short() || attackRace {
		n = 1000
	}
	pop, prob, err := skewedPopulation(n)
	if err != nil {
		t.Fatal(err)
	}
	// The attacker's model is the exact distribution (the strongest
	// assumption), most probable folded name first.
	var expected []string
	for f := range prob {
		expected = append(expected, f)
	}
	slices.SortFunc(expected, func(a, b string) int { return cmp.Or(cmp.Compare(prob[b], prob[a]), cmp.Compare(a, b)) })

	// First design: UA's filters. This design: UA's name tokens, computed
	// once per distinct name (they do not depend on the year).
	var oldCodes, newCodes [][]byte
	idx := map[string]int{}
	var distinct []attackPerson
	for _, p := range pop {
		e, err := w.oldEnc.Encode(personenc.Person{Name: p.Name})
		if err != nil {
			t.Fatal(err)
		}
		oldCodes = append(oldCodes, e.Bits)
		if _, ok := idx[p.Name]; !ok {
			idx[p.Name] = len(distinct)
			distinct = append(distinct, p)
		}
	}
	toks, err := originTokens(w.uaKey, "UA/node-1#1", distinct)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pop {
		newCodes = append(newCodes, toks[idx[p.Name]].Name[:])
	}

	old := scoreGuesses(pop, frequencyAttack(oldCodes, expected))
	nw := scoreGuesses(pop, frequencyAttack(newCodes, expected))
	count := map[string]int{}
	for _, p := range pop {
		count[p.Fold]++
	}
	t.Logf("skewed population: %d records (Zipf first names s=%.1f, surnames s=%.1f), %d distinct folded names; "+
		"most probable %q (%.2f%% expected, %d records)",
		n, skewFirstExponent, skewSurnameExponent, len(count), expected[0], 100*prob[expected[0]], count[expected[0]])
	t.Logf("first design: frequency attack names %.2f%% (%d of %d), false %d",
		rate(old.name, old.n), old.name, old.n, old.falseID)
	t.Logf("this design: frequency attack names %.2f%% (%d of %d), false %d",
		rate(nw.name, nw.n), nw.name, nw.n, nw.falseID)
	if old.name == 0 {
		t.Errorf("first design: the frequency attack names no one in a skewed population: the attack code is broken")
	}
	if nw.name > old.name {
		t.Errorf("this design: the frequency attack names %d, more than on the first design (%d)", nw.name, old.name)
	}
}
