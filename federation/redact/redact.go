package redact

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/accordfed/accord/federation/textfold"
)

// Mark is what a blanked word or year is replaced with.
const Mark = "[…]"

// minStem is the shortest folded stem that is looked for: shorter name
// words (Ян, Ola) would blank ordinary words. A name word of four letters
// or more whose fold is short (Анна → ana, Юлія → ala) has a stem of
// shortStem symbols, looked for only in text words of four letters or
// more (Анны, Юлії; not "ale").
const (
	minStem   = 3
	shortStem = 2
)

// Names is a set of names of persons (and their birth years) to find in
// free text. The zero value is not usable; use [NewNames]. It is safe for
// concurrent use: one goroutine may add names while others redact.
type Names struct {
	mu    sync.RWMutex
	stems map[string]struct{}
	years map[int]struct{}
}

// NewNames returns an empty set.
func NewNames() *Names {
	return &Names{stems: map[string]struct{}{}, years: map[int]struct{}{}}
}

// Add adds every word of a person's name of three letters or more.
func (n *Names) Add(name string) {
	var stems []string
	for _, w := range nameWords(name) {
		letters := utf8.RuneCountInString(w)
		if w[0] >= '0' && w[0] <= '9' || letters < 3 {
			continue
		}
		stems = append(stems, wordStems(textfold.FoldWord(w), letters >= 4)...)
	}
	if len(stems) == 0 {
		return
	}
	n.mu.Lock()
	for _, s := range stems {
		n.stems[s] = struct{}{}
	}
	n.mu.Unlock()
}

// AddYear adds a person's birth year: it is blanked where it stands next to
// a blanked name.
func (n *Names) AddYear(year int) {
	n.mu.Lock()
	n.years[year] = struct{}{}
	n.mu.Unlock()
}

// Len returns how many stems the set holds.
func (n *Names) Len() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.stems)
}

// wordStems returns the stems a folded name word is looked for by: the
// fold without its nominative vowel ending, and, for a fleeting vowel
// before a final s or k (Кравець ~ Кравця, Марек ~ Marka), the stem
// without that vowel. long says the word has four letters or more.
func wordStems(f string, long bool) []string {
	least := minStem
	if long {
		least = shortStem
	}
	st := f
	if len(st) > least && isVowelClass(st[len(st)-1]) {
		st = st[:len(st)-1]
	}
	if len(st) < least {
		return nil
	}
	out := []string{st}
	if l := len(st); l >= 5 && (st[l-1] == 's' || st[l-1] == 'k') && isVowelClass(st[l-2]) && !isVowelClass(st[l-3]) {
		out = append(out, st[:l-2]+st[l-1:])
	}
	return out
}

func isVowelClass(c byte) bool { return c == 'a' || c == 'i' || c == 'u' }

// endings are the inflection endings of Ukrainian, Russian, Polish and
// German (and the English possessive), folded as textfold folds a word
// (vowel runs one class: a for a/o, i for e/i/y/j, u for u; g = h), that
// may follow a stem: -а -у -і -и -е -ю -я -ą -ę; -ом -ем -ым -ім -ою -ой
// -ей -ій -ої; -ові -еві -owi; -ого -его -ego -ому -ему -emu; -ами -ями
// -ими; -ах -ях -ach -ых -их; German and English -s -es -'s -en -ens -n
// -ns. Not the genitive plural -ов -ів -ów: it is how places are named
// after persons (Миколаїв, Mykolaiv: Mykola's).
var endings = []string{
	"", "a", "i", "u",
	"m", "am", "im", "um",
	"avi", "ivi",
	"aha", "iha", "amu", "imu",
	"ami", "imi",
	"h", "ah", "ih",
	"s", "as", "is", "us",
	"n", "in", "ns", "ins",
}

// alternations undo a stem's last consonant changing before the dative,
// locative or vocative ending -і/-e/-ie (folded i): Ользі (Ольга),
// Szewczence (Szewczenko), Marcie (Marta), Wandzie (Wanda), Piotrze
// (Piotr). Only before that ending: Мельниця is not Мельник.
var alternations = []struct{ from, to string }{
	{"s", "k"}, {"s", "h"}, {"s", "t"}, {"ds", "d"}, {"S", "r"},
}

// Text returns text with every word that is a form of a name of any of the
// sets, every year of a birth-year phrase, and every birth year of the sets
// standing within three words of a blanked name replaced with [Mark], and
// how many it replaced. It returns text unchanged (and 0) when nothing
// matched.
func Text(text string, sets ...*Names) (string, int) {
	if text == "" {
		return text, 0
	}
	for _, s := range sets {
		if s != nil {
			s.mu.RLock()
			defer s.mu.RUnlock()
		}
	}
	toks := tokenize(text)
	hit := make([]bool, len(toks))
	n := 0
	for i, t := range toks {
		if t.kind == tokWord && isName(text[t.start:t.end], sets) {
			hit[i] = true
			n++
		}
	}
	// Birth-year phrases, where a year may stand (ISO dates such as
	// 2022-06-30 are not birth years: most titles end with one).
	var phrases [][]int
	if hasYear(text, toks) {
		phrases = birthYear.FindAllStringSubmatchIndex(text, -1)
	}
	for _, m := range phrases {
		for g := 2; g+1 < len(m); g += 2 {
			if m[g] < 0 {
				continue
			}
			for i, t := range toks {
				if !hit[i] && t.start == m[g] && t.end == m[g+1] {
					hit[i] = true
					n++
				}
			}
		}
	}
	// Known birth years next to a blanked name.
	for i, t := range toks {
		if hit[i] || t.kind != tokNumber || t.end-t.start != 4 {
			continue
		}
		y, err := strconv.Atoi(text[t.start:t.end])
		if err != nil || !knownYear(y, sets) {
			continue
		}
		for j := max(0, i-3); j <= min(len(toks)-1, i+3); j++ {
			if j != i && hit[j] && toks[j].kind == tokWord {
				hit[i] = true
				n++
				break
			}
		}
	}
	if n == 0 {
		return text, 0
	}
	var b strings.Builder
	b.Grow(len(text))
	last := 0
	for i, t := range toks {
		if !hit[i] {
			continue
		}
		b.WriteString(text[last:t.start])
		b.WriteString(Mark)
		last = t.end
	}
	b.WriteString(text[last:])
	return b.String(), n
}

// hasYear reports whether text has a number of four digits that does not
// open an ISO date (YYYY-MM).
func hasYear(text string, toks []token) bool {
	for _, t := range toks {
		if t.kind != tokNumber || t.end-t.start != 4 {
			continue
		}
		if rest := text[t.end:]; len(rest) >= 2 && rest[0] == '-' && rest[1] >= '0' && rest[1] <= '9' {
			continue
		}
		return true
	}
	return false
}

func knownYear(y int, sets []*Names) bool {
	for _, s := range sets {
		if s == nil {
			continue
		}
		if _, ok := s.years[y]; ok {
			return true
		}
	}
	return false
}

// isName reports whether a word of the text (as written) is a form of a
// name of the sets. The caller holds the sets' read locks.
func isName(seg string, sets []*Names) bool {
	var buf []byte
	for _, w := range nameWords(seg) {
		if w[0] >= '0' && w[0] <= '9' {
			continue
		}
		least := minStem
		if utf8.RuneCountInString(w) >= 4 {
			least = shortStem
		}
		if strings.HasSuffix(w, "ts") && len(w) > 4 {
			// A German or English genitive of a name in -t
			// (Schmidts): ts folds as one sound.
			if hasStem(textfold.FoldWord(w[:len(w)-1]), sets) {
				return true
			}
		}
		g := textfold.FoldWord(w)
		for _, e := range endings {
			if len(g)-len(e) < least || !strings.HasSuffix(g, e) {
				continue
			}
			if (e == "avi" || e == "ivi") && w[len(w)-1] != 'i' {
				// A dative -ові/-еві/-owi ends in i in every
				// language; Shevchenkove, a village, is no dative.
				continue
			}
			st := g[:len(g)-len(e)]
			if hasStem(st, sets) {
				return true
			}
			if e != "i" {
				continue
			}
			for _, a := range alternations {
				if !strings.HasSuffix(st, a.from) {
					continue
				}
				buf = append(append(buf[:0], st[:len(st)-len(a.from)]...), a.to...)
				if hasStem(string(buf), sets) {
					return true
				}
			}
		}
	}
	return false
}

func hasStem(st string, sets []*Names) bool {
	for _, s := range sets {
		if s == nil {
			continue
		}
		if _, ok := s.stems[st]; ok {
			return true
		}
	}
	return false
}

type tokKind uint8

const (
	tokWord tokKind = iota + 1
	tokNumber
)

type token struct {
	start, end int
	kind       tokKind
}

// tokenize splits text into words (letters, marks, apostrophes, invisible
// format characters, and digits joined to letters) and numbers (digits
// only), by byte offsets.
func tokenize(text string) []token {
	var out []token
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if !wordRune(r) {
			i += size
			continue
		}
		j, letters := i, false
		for j < len(text) {
			r, size := utf8.DecodeRuneInString(text[j:])
			if !wordRune(r) {
				break
			}
			if !unicode.IsDigit(r) {
				letters = true
			}
			j += size
		}
		k := tokNumber
		if letters {
			k = tokWord
		}
		out = append(out, token{i, j, k})
		i = j
	}
	return out
}

func wordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || isApostrophe(r) || unicode.Is(unicode.Cf, r)
}

func isApostrophe(r rune) bool {
	switch r {
	case '\'', '’', 'ʼ', '`', '´', 'ʹ', '‘', 'ʻ':
		return true
	}
	return false
}

// nameWords returns the lower-case Latin words of text (textfold.Words,
// invisible format characters removed), and when it holds ё, those of the
// text with ё written е too, as Russian usually writes it (Пётр, Петра,
// Pyotra). Any normalisation form: ё in NFD is е and a combining diaeresis.
func nameWords(text string) []string {
	text = norm.NFC.String(stripFormat(text))
	ws := textfold.Words(text)
	if strings.ContainsAny(text, "ёЁ") {
		ws = append(ws, textfold.Words(yo.Replace(text))...)
	}
	return ws
}

var yo = strings.NewReplacer("ё", "е", "Ё", "Е")

// stripFormat removes invisible format characters (soft hyphen, zero-width
// joiners), which would otherwise split a name into pieces.
func stripFormat(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return unicode.Is(unicode.Cf, r) }) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, s)
}

// birthYear finds the year of a birth-year phrase: a word for "born" or
// "year of birth" before it (born, b., née, DOB, geb., geboren, Jahrgang,
// ur., urodzony, rocznik, нар., народився, народжена, род., родился,
// рождения, *), optionally "in", a day and a month, or one after it (р.н.,
// г.р., року народження, года рождения, r. ur.). The year is the submatch.
var birthYear = regexp.MustCompile(`(?i)(?:` +
	`(?:\bborn|\bb\.|\bnée?\s|\bdob\b:?|\bd\.o\.b\.?|year of birth:?|\bgeb\.|\bgeboren|\bjahrgang|\bur\.|\burodzon\p{L}*|\brocznik|` +
	`нар\.|народ\p{L}*|род\.|родил\p{L}*|рожд\p{L}*|рік народження:?|год рождения:?|\*)` +
	`\s*(?:(?:in|im|am|on|w|в|у|року|году|roku|jahr)\s+)*` +
	`(?:\d{1,2}[./-]\d{1,2}[./-]|\d{1,2}\.?\s+\p{L}+\.?\s+)?(\d{4})\b` +
	`|\b(\d{4})\s*(?:р\.\s?н\.|г\.\s?р\.|року народження|года рождения|r\.\s?ur\.|roku urodzenia)` +
	`)`)
