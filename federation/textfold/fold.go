package textfold

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

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

// Words splits text into lower-case Latin words: Cyrillic transliterated,
// marks stripped, apostrophes dropped inside a word, digits kept as their
// own words.
func Words(text string) []string {
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

// FoldWord maps one lower-case Latin word to its phonetic form: hushing
// consonants are S, vowel runs one class symbol (a for a, o and any
// word-initial run; u for u; i for e, i, y, j), doubled symbols collapsed.
// Digits pass unchanged.
func FoldWord(w string) string {
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

// SkeletonWord drops the vowel classes of a folded word (and a final h, a
// Russian -ogo/-aya remnant rarely matters) and collapses repeats.
func SkeletonWord(f string) string {
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
