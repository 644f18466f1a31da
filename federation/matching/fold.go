package matching

import (
	"strings"

	"github.com/accordfed/accord/federation/textfold"
)

// Place-name folding, on the words, folds and skeletons of
// federation/textfold. Two levels, both rule-based and free of any list of
// places:
//
//   - fold: a phonetic spelling that makes transliterations of one
//     pronunciation equal (Kharkiv, Charkiw, Charków, Харків → harkiv;
//     Bucha, Bucza → buSa). Vowels keep a class.
//   - skeleton: the folded consonants only, so that Russian and Ukrainian
//     forms of one name that differ in their vowels meet too (Kharkov ~
//     Kharkiv, Kamenka ~ Kamianka, Yelenovka ~ Olenivka, Dnepr ~ Dnipro:
//     hrkv, kmnk, lnvk, dnpr).
//
// The ideas follow federation/personenc/normalize.go (Ukrainian and
// Russian Cyrillic transliterated, Latin letters without a decomposition
// mapped, marks stripped, hushing consonants one class, g = h, w = v).

// FoldPlace returns the phonetic fold of a place name (words joined by a
// space) and its consonant skeleton (words joined by a space).
func FoldPlace(name string) (fold, skeleton string) {
	ws := textfold.Words(name)
	fs := make([]string, 0, len(ws))
	ss := make([]string, 0, len(ws))
	for _, w := range ws {
		f := textfold.FoldWord(w)
		if f == "" {
			continue
		}
		fs = append(fs, f)
		if s := textfold.SkeletonWord(f); s != "" {
			ss = append(ss, s)
		}
	}
	return strings.Join(fs, " "), strings.Join(ss, " ")
}

// regionStop are the words that name the kind of region rather than the
// region, in the languages offices use. They are generic words, not names.
var regionStop = map[string]bool{
	"oblast": true, "obl": true, "region": true, "oblastj": true, "oblasti": true,
	"obwod": true, "obvod": true, "gebiet": true, "regiao": true, "oblys": true,
	"maakond": true, "apskritis": true, "lan": true, "provincie": true, //nolint:misspell // Dutch "province"
	"the": true, "of": true, "city": true, "autonomous": true, "republic": true,
}

// FoldRegion returns a key for an administrative region: the skeleton of
// its first naming word, with an adjectival -sk ending removed (Kharkiv
// Oblast, Харківська область, obwód charkowski all give hrkv).
func FoldRegion(name string) string {
	for _, w := range textfold.Words(name) {
		if regionStop[w] || regionStop[strings.TrimSuffix(w, "a")] {
			continue
		}
		if w[0] >= '0' && w[0] <= '9' {
			continue
		}
		s := textfold.SkeletonWord(textfold.FoldWord(w))
		for _, suf := range []string{"sk", "s"} {
			if len(s) > len(suf)+2 && strings.HasSuffix(s, suf) {
				s = s[:len(s)-len(suf)]
				break
			}
		}
		return s
	}
	return ""
}

// jaroWinkler is the Jaro-Winkler similarity of two byte strings.
func jaroWinkler(a, b string) float64 {
	if a == b {
		return 1
	}
	la, lb := len(a), len(b)
	if la == 0 || lb == 0 {
		return 0
	}
	win := max(la, lb)/2 - 1
	if win < 0 {
		win = 0
	}
	var ma, mb [64]bool
	if la > 64 || lb > 64 {
		return 0
	}
	m := 0
	for i := 0; i < la; i++ {
		lo, hi := max(0, i-win), min(lb-1, i+win)
		for j := lo; j <= hi; j++ {
			if !mb[j] && a[i] == b[j] {
				ma[i], mb[j] = true, true
				m++
				break
			}
		}
	}
	if m == 0 {
		return 0
	}
	t, k := 0, 0
	for i := 0; i < la; i++ {
		if !ma[i] {
			continue
		}
		for !mb[k] {
			k++
		}
		if a[i] != b[k] {
			t++
		}
		k++
	}
	fm := float64(m)
	j := (fm/float64(la) + fm/float64(lb) + (fm-float64(t)/2)/fm) / 3
	p := 0
	for p < min(4, la, lb) && a[p] == b[p] {
		p++
	}
	return j + float64(p)*0.1*(1-j)
}
