package personenc

import (
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// normVersion names the normalisation below. It is part of every
// encoding's scheme fingerprint: a change to any table or rule here must
// bump it, because encodings made by different rules do not compare.
const normVersion = "n1"

// cyrillic transliterates Ukrainian and Russian letters (lower case) to a
// Latin spelling chosen for the phonetic folding, not for readability:
// Ukrainian г and Russian г both become g (folded with h later), и and ы
// become y (folded with i), and the soft and hard signs vanish.
var cyrillic = map[rune]string{
	'а': "a", 'б': "b", 'в': "v", 'г': "g", 'ґ': "g", 'д': "d", 'е': "e",
	'є': "ye", 'ё': "yo", 'ж': "zh", 'з': "z", 'и': "y", 'і': "i", 'ї': "yi",
	'й': "j", 'к': "k", 'л': "l", 'м': "m", 'н': "n", 'о': "o", 'п': "p",
	'р': "r", 'с': "s", 'т': "t", 'у': "u", 'ф': "f", 'х': "kh", 'ц': "ts",
	'ч': "ch", 'ш': "sh", 'щ': "shch", 'ъ': "", 'ы': "y", 'ь': "", 'э': "e",
	'ю': "yu", 'я': "ya",
	// Belarusian, for completeness of the East Slavic alphabets.
	'ў': "v",
}

// latinSpecial handles Latin letters that NFKD does not decompose, and
// precomposed letters whose base letter alone would lose the sound (Polish
// ć and ż, Czech/ISO 9 š č ž ŝ).
var latinSpecial = map[rune]string{
	'ł': "l", 'ß': "ss", 'ø': "o", 'æ': "ae", 'œ': "oe", 'đ': "d", 'ð': "d",
	'þ': "th", 'ı': "i",
	'ć': "cz", 'ż': "zh", 'ź': "z", 'ś': "s",
	'š': "sh", 'č': "cz", 'ž': "zh", 'ŝ': "shch", 'ř': "rz",
}

// apostrophes are removed inside a token (Мар'яна, Mar’iana), never
// treated as separators.
func isApostrophe(r rune) bool {
	switch r {
	case '\'', '’', 'ʼ', '`', '´', 'ʹ', '‘':
		return true
	}
	return false
}

// tokens returns the folded, de-duplicated, sorted tokens of a name. Word
// order is lost on purpose ("Kovalenko Olena" = "Olena Kovalenko").
func tokens(name string) []string {
	return sortedSet(rawTokens(name))
}

// rawTokens returns the folded tokens of name in their order, repeats
// kept. Whitespace separates tokens, so the raw tokens of a name are
// those of its whitespace-separated pieces one after the other.
func rawTokens(name string) []string {
	s := strings.ToLower(norm.NFC.String(name))
	var b strings.Builder
	for _, r := range s {
		if t, ok := cyrillic[r]; ok {
			b.WriteString(t)
		} else if t, ok := latinSpecial[r]; ok {
			b.WriteString(t)
		} else {
			b.WriteRune(r)
		}
	}
	s = norm.NFKD.String(b.String())

	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			if f := fold(string(cur)); f != "" {
				out = append(out, f)
			}
			cur = cur[:0]
		}
	}
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r) || isApostrophe(r):
			// marks stripped, apostrophes dropped
		case unicode.IsLetter(r):
			cur = append(cur, unicode.ToLower(r))
		default:
			flush()
		}
	}
	flush()
	return sortedSet(out)
}

// sortedSet sorts tokens and removes repeats, in place.
func sortedSet(out []string) []string {
	sort.Strings(out)
	j := 0
	for i, t := range out {
		if i == 0 || t != out[j-1] {
			out[j] = t
			j++
		}
	}
	return out[:j]
}

// Symbols of the folded alphabet. Consonants keep their Latin letter unless
// listed here; vowels are reduced to three classes.
const (
	symHush = 'S' // ш ж ч щ: sh zh ch cz sz sch tsch tch ż ć
	vowA    = 'a' // a o
	vowI    = 'i' // e i y (and a trailing glide j)
	vowU    = 'u' // u (and French ou)
)

// consonantRules are applied left to right, longest match first. The
// result holds consonant symbols and the raw vowel letters a e i o u y j,
// which are reduced afterwards.
var consonantRules = []struct{ from, to string }{
	{"tsch", "S"}, // German ч
	{"sch", "S"},  // German ш/ж
	{"tch", "S"},  // French/English ч
	{"sh", "S"},
	{"zh", "S"},
	{"cz", "S"}, // Polish ч
	{"sz", "S"}, // Polish ш
	{"kh", "h"},
	{"gh", "h"},
	{"ts", "s"}, // ц
	{"tz", "s"},
	{"ck", "k"},
	{"ph", "f"},
	{"th", "t"},
	{"g", "h"}, // Ukrainian г = h, Russian г = g
	{"w", "v"}, // Polish/German w
	{"c", "s"}, // Polish c = ц
	{"z", "s"}, // German z = ц, s = з: one sibilant class
	{"x", "ks"},
	{"q", "k"},
}

// fold maps one lower-case token (marks already stripped) to its phonetic
// form. See the package documentation for the rules.
func fold(tok string) string {
	// "ch" is ambiguous: English ч, French ш (both the hushing class), but
	// German and Polish х. A token spelled with a Polish or German marker
	// reads ch as h.
	chIsH := strings.Contains(tok, "cz") || strings.Contains(tok, "sz") ||
		strings.Contains(tok, "rz") || strings.Contains(tok, "w") ||
		strings.Contains(tok, "sch")

	// A token-initial h before e or i is dropped: Helena/Elena/Olena,
	// Hennadij/Gennadij/Ennadij. Before a, o, u, y it stays, because
	// Halyna/Galina must not fold to Alina/Olena.
	if len(tok) >= 2 && (tok[0] == 'h' || tok[0] == 'g') && (tok[1] == 'e' || tok[1] == 'i') {
		tok = tok[1:]
	}
	var mid []rune
	for i := 0; i < len(tok); {
		if strings.HasPrefix(tok[i:], "ch") {
			if chIsH {
				mid = append(mid, 'h')
			} else {
				mid = append(mid, symHush)
			}
			i += 2
			continue
		}
		matched := false
		for _, rule := range consonantRules {
			if strings.HasPrefix(tok[i:], rule.from) {
				mid = append(mid, []rune(rule.to)...)
				i += len(rule.from)
				matched = true
				break
			}
		}
		if matched {
			continue
		}
		r := []rune(tok[i:])[0]
		mid = append(mid, r)
		i += len(string(r))
	}

	// Vowel runs (a e i o u y, with j as a glide) become one class symbol,
	// taken from the run's last letter: ya/ja/ia → a, yu/ju/iu/ou → u,
	// ye/je/ie → e, iy/ij/ii/yi/ei → i.
	isRun := func(r rune) bool { return strings.ContainsRune("aeiouyj", r) }
	class := func(r rune) rune {
		switch r {
		case 'a', 'o':
			return vowA
		case 'u':
			return vowU
		default: // e i y j
			return vowI
		}
	}
	var out []rune
	for i := 0; i < len(mid); {
		if !isRun(mid[i]) {
			out = append(out, mid[i])
			i++
			continue
		}
		j := i
		for j < len(mid) && isRun(mid[j]) {
			j++
		}
		if i == 0 {
			// A token-initial vowel is the least stable sound across
			// transliterations (Olena/Elena/Alena, Ihor/Igor/Yihor,
			// Yevhen/Evgeny): one class for all.
			out = append(out, vowA)
		} else if j-i >= 2 && mid[j-1] == 'o' && strings.ContainsRune("yij", mid[j-2]) {
			// yo/io/jo after a consonant is Russian ё, whose Ukrainian
			// counterpart is e (Пётр/Петро, Алёна/Олена, Фёдор/Федір).
			out = append(out, vowI)
		} else {
			out = append(out, class(mid[j-1]))
		}
		i = j
	}
	// Collapse doubled symbols (nn, ss, SS from shch, ...).
	k := 0
	for i, r := range out {
		if i == 0 || r != out[k-1] {
			out[k] = r
			k++
		}
	}
	return string(out[:k])
}

// Fold returns the folded, de-duplicated, sorted tokens of a name: the
// normalisation every person encoding starts from (the package
// documentation gives the rules). It wraps [ErrNameTooLong] for a name of
// more than [MaxNameBytes] bytes and returns [ErrEmptyName] when no letter
// is left.
func Fold(name string) ([]string, error) {
	if len(name) > MaxNameBytes {
		return nil, ErrNameTooLong
	}
	t := tokens(name)
	if len(t) == 0 {
		return nil, ErrEmptyName
	}
	return t, nil
}
