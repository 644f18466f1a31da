package matching

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Place-name folding. Two levels, both rule-based and free of any list of
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

// cyrillicLatin transliterates Ukrainian, Russian and Belarusian letters
// (lower case) to a Latin spelling chosen for folding.
var cyrillicLatin = map[rune]string{
	'а': "a", 'б': "b", 'в': "v", 'г': "g", 'ґ': "g", 'д': "d", 'е': "e",
	'є': "ye", 'ё': "yo", 'ж': "zh", 'з': "z", 'и': "y", 'і': "i", 'ї': "yi",
	'й': "j", 'к': "k", 'л': "l", 'м': "m", 'н': "n", 'о': "o", 'п': "p",
	'р': "r", 'с': "s", 'т': "t", 'у': "u", 'ф': "f", 'х': "kh", 'ц': "ts",
	'ч': "ch", 'ш': "sh", 'щ': "shch", 'ъ': "", 'ы': "y", 'ь': "", 'э': "e",
	'ю': "yu", 'я': "ya", 'ў': "v",
}

// latinLetters maps Latin letters that NFKD does not decompose, and
// precomposed letters whose base letter would lose the sound (Polish ć ż,
// Czech and ISO 9 š č ž).
var latinLetters = map[rune]string{
	'ł': "l", 'ß': "ss", 'ø': "o", 'æ': "ae", 'œ': "oe", 'đ': "d", 'ð': "d",
	'þ': "th", 'ı': "i",
	'ć': "cz", 'ż': "zh", 'ź': "z", 'ś': "s", 'ń': "n",
	'š': "sh", 'č': "cz", 'ž': "zh", 'ŝ': "shch", 'ř': "rz",
}

func isApostrophe(r rune) bool {
	switch r {
	case '\'', '’', 'ʼ', '`', '´', 'ʹ', '‘', 'ʻ':
		return true
	}
	return false
}

// words splits text into lower-case Latin words: Cyrillic transliterated,
// marks stripped, apostrophes dropped inside a word, digits kept as their
// own words.
func words(text string) []string {
	s := strings.ToLower(norm.NFC.String(text))
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if t, ok := cyrillicLatin[r]; ok {
			b.WriteString(t)
		} else if t, ok := latinLetters[r]; ok {
			b.WriteString(t)
		} else {
			b.WriteRune(r)
		}
	}
	s = norm.NFKD.String(b.String())
	var out []string
	var cur []rune
	digits := false
	flush := func() {
		if len(cur) > 0 {
			out = append(out, string(cur))
			cur = cur[:0]
		}
	}
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r) || isApostrophe(r):
		case unicode.IsLetter(r):
			if digits {
				flush()
			}
			digits = false
			cur = append(cur, unicode.ToLower(r))
		case unicode.IsDigit(r):
			if !digits {
				flush()
			}
			digits = true
			cur = append(cur, r)
		default:
			flush()
		}
	}
	flush()
	return out
}

// consonantRules are applied left to right, longest first.
var consonantRules = []struct{ from, to string }{
	{"tsch", "S"}, {"sch", "S"}, {"tch", "S"}, {"sh", "S"}, {"zh", "S"},
	{"cz", "S"}, {"sz", "S"}, {"rz", "S"}, {"kh", "h"}, {"gh", "h"},
	{"ts", "s"}, {"tz", "s"}, {"ck", "sk"}, {"ph", "f"}, {"th", "t"},
	{"g", "h"}, {"w", "v"}, {"c", "s"}, {"z", "s"}, {"x", "ks"}, {"q", "k"},
}

const vowelLetters = "aeiouyj"

// foldWord maps one lower-case Latin word to its phonetic form: hushing
// consonants are S, vowel runs one class symbol (a for a, o and any
// word-initial run; u for u; i for e, i, y, j), doubled symbols collapsed.
// Digits pass unchanged.
func foldWord(w string) string {
	if w == "" || (w[0] >= '0' && w[0] <= '9') {
		return w
	}
	// ch is х in a word written with Polish or German markers, else ч/ш.
	chIsH := strings.Contains(w, "cz") || strings.Contains(w, "sz") || strings.Contains(w, "rz") ||
		strings.Contains(w, "w") || strings.Contains(w, "sch")
	mid := make([]byte, 0, len(w))
	for i := 0; i < len(w); {
		if strings.HasPrefix(w[i:], "ch") {
			// Before a consonant or at the end, ch is х in every
			// romanisation that writes it so (Ochtyrka, Bachmut).
			next := byte('b')
			if i+2 < len(w) {
				next = w[i+2]
			}
			if chIsH || strings.IndexByte(vowelLetters, next) < 0 {
				mid = append(mid, 'h')
			} else {
				mid = append(mid, 'S')
			}
			i += 2
			continue
		}
		matched := false
		for _, r := range consonantRules {
			if strings.HasPrefix(w[i:], r.from) {
				mid = append(mid, r.to...)
				i += len(r.from)
				matched = true
				break
			}
		}
		if !matched {
			mid = append(mid, w[i])
			i++
		}
	}
	out := make([]byte, 0, len(mid))
	for i := 0; i < len(mid); {
		if strings.IndexByte(vowelLetters, mid[i]) < 0 {
			out = append(out, mid[i])
			i++
			continue
		}
		j := i
		for j < len(mid) && strings.IndexByte(vowelLetters, mid[j]) >= 0 {
			j++
		}
		switch {
		case i == 0:
			out = append(out, 'a')
		case mid[j-1] == 'a' || mid[j-1] == 'o':
			out = append(out, 'a')
		case mid[j-1] == 'u':
			out = append(out, 'u')
		default:
			out = append(out, 'i')
		}
		i = j
	}
	k := 0
	for i := range out {
		if i == 0 || out[i] != out[k-1] {
			out[k] = out[i]
			k++
		}
	}
	return string(out[:k])
}

// skeletonWord drops the vowel classes of a folded word (and a final h, a
// Russian -ogo/-aya remnant rarely matters) and collapses repeats.
func skeletonWord(f string) string {
	out := make([]byte, 0, len(f))
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c == 'a' || c == 'i' || c == 'u' {
			continue
		}
		if len(out) > 0 && out[len(out)-1] == c {
			continue
		}
		out = append(out, c)
	}
	return string(out)
}

// FoldPlace returns the phonetic fold of a place name (words joined by a
// space) and its consonant skeleton (words joined by a space).
func FoldPlace(name string) (fold, skeleton string) {
	ws := words(name)
	fs := make([]string, 0, len(ws))
	ss := make([]string, 0, len(ws))
	for _, w := range ws {
		f := foldWord(w)
		if f == "" {
			continue
		}
		fs = append(fs, f)
		if s := skeletonWord(f); s != "" {
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
	for _, w := range words(name) {
		if regionStop[w] || regionStop[strings.TrimSuffix(w, "a")] {
			continue
		}
		if w[0] >= '0' && w[0] <= '9' {
			continue
		}
		s := skeletonWord(foldWord(w))
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
