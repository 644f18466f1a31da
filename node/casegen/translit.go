package casegen

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// scheme is a way of writing Ukrainian Cyrillic in Latin letters, as the
// offices of different countries do. Every scheme is a set of rules applied
// to any Ukrainian word (a letter table with the letter's neighbours and a
// few word-ending rules), not a list of places.
type scheme uint8

const (
	// schemeCyrillic keeps the Cyrillic.
	schemeCyrillic scheme = iota
	// schemeNational is Ukraine's national romanisation (Cabinet of
	// Ministers resolution 55 of 2010): Kharkiv, Zaporizhzhia, Sievierodonetsk.
	schemeNational
	// schemeRussian writes the name as a romanised Russian form would
	// read: г→g, и/і→i, final -ів→-ov, final -ове→-ovo, -ське→-skoye
	// (Kharkov, Chernigov, Kurakhovo).
	schemeRussian
	// schemePolish is the Polish transcription, with the -ів→-ów ending of
	// Polish names of Ukrainian towns (Charków, Czernihów, Lwów) and ł
	// for hard л (Połtawa).
	schemePolish
	// schemeGerman is the German (Duden) transcription: Charkiw, Kyjiw,
	// Saporischschja, Odessa.
	schemeGerman
	// schemeDutch is the Dutch transcription: Charkiv, Zjytomyr, Loetsk.
	schemeDutch
	// schemeLithuanian is the Lithuanian transcription with the
	// nominative -as of names ending in a consonant: Charkivas, Kyjivas.
	schemeLithuanian
	numSchemes
)

var schemeNames = [numSchemes]string{"cyrillic", "national", "russian", "polish", "german", "dutch", "lithuanian"}

func (s scheme) String() string {
	if s < numSchemes {
		return schemeNames[s]
	}
	return "scheme?"
}

// Letter tables: the Latin for each lower-case Ukrainian letter, in the
// order of ukLetters. Letters whose writing depends on their neighbours
// (є ї й ю я, л and ь in Polish, с in German) are handled in translitWord.
const ukLetters = "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя"

var letterTables = [numSchemes][]string{
	schemeNational:   {"a", "b", "v", "h", "g", "d", "e", "ie", "zh", "z", "y", "i", "i", "i", "k", "l", "m", "n", "o", "p", "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "iu", "ia"},
	schemeRussian:    {"a", "b", "v", "g", "g", "d", "e", "ye", "zh", "z", "i", "i", "yi", "y", "k", "l", "m", "n", "o", "p", "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "yu", "ya"},
	schemePolish:     {"a", "b", "w", "h", "g", "d", "e", "ie", "ż", "z", "y", "i", "ji", "j", "k", "ł", "m", "n", "o", "p", "r", "s", "t", "u", "f", "ch", "c", "cz", "sz", "szcz", "", "iu", "ia"},
	schemeGerman:     {"a", "b", "w", "h", "g", "d", "e", "je", "sch", "s", "y", "i", "ji", "j", "k", "l", "m", "n", "o", "p", "r", "s", "t", "u", "f", "ch", "z", "tsch", "sch", "schtsch", "", "ju", "ja"},
	schemeDutch:      {"a", "b", "v", "h", "g", "d", "e", "je", "zj", "z", "y", "i", "ji", "j", "k", "l", "m", "n", "o", "p", "r", "s", "t", "oe", "f", "ch", "ts", "tsj", "sj", "sjtsj", "", "joe", "ja"},
	schemeLithuanian: {"a", "b", "v", "h", "g", "d", "e", "je", "ž", "z", "y", "i", "ji", "j", "k", "l", "m", "n", "o", "p", "r", "s", "t", "u", "f", "ch", "c", "č", "š", "šč", "", "ju", "ja"},
}

// letterIndex maps a lower-case Ukrainian letter to its index in ukLetters.
var letterIndex = func() map[rune]int {
	m := map[rune]int{}
	i := 0
	for _, r := range ukLetters {
		m[r] = i
		i++
	}
	return m
}()

func isUkLetter(r rune) bool {
	_, ok := letterIndex[unicode.ToLower(r)]
	return ok || isApostrophe(r)
}

func isApostrophe(r rune) bool { return r == '’' || r == '\'' || r == 'ʼ' }

func isUkVowel(r rune) bool { return strings.ContainsRune("аеєиіїоуюя", r) }

// transliterate writes s, Ukrainian Cyrillic, in scheme sc. Characters that
// are not Ukrainian letters (spaces, hyphens, digits, Latin) are kept, and
// each word keeps its capitalisation (Capitalised or UPPER CASE).
func transliterate(s string, sc scheme) string {
	return translit(s, sc, true)
}

// translit is transliterate; inflect says whether the Lithuanian scheme
// adds its nominative ending to words ending in a consonant (place names
// and men's names do, women's names do not).
func translit(s string, sc scheme, inflect bool) string {
	if sc == schemeCyrillic {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for len(s) > 0 {
		// The next word: a run of Ukrainian letters and apostrophes.
		i := 0
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if !isUkLetter(r) {
				break
			}
			i += n
		}
		if i == 0 {
			r, n := utf8.DecodeRuneInString(s)
			b.WriteRune(r)
			s = s[n:]
			continue
		}
		translitWord(&b, s[:i], sc, inflect)
		s = s[i:]
	}
	return b.String()
}

func translitWord(b *strings.Builder, word string, sc scheme, inflect bool) {
	orig := []rune(word)
	w := make([]rune, len(orig))
	upper, allUpper := unicode.IsUpper(orig[0]), len(orig) > 1
	for i, r := range orig {
		w[i] = unicode.ToLower(r)
		if !unicode.IsUpper(r) && !isApostrophe(r) {
			allUpper = false
		}
	}
	n := len(w)
	tbl := letterTables[sc]
	var out strings.Builder
	// endsWith tells whether the word ends in suffix (lower case).
	endsWith := func(suffix string) bool { return strings.HasSuffix(string(w), suffix) }
	// Word-ending rules, applied by cutting the ending off the word and
	// writing it after the rest.
	tail := ""
	switch sc {
	case schemeRussian:
		switch {
		case n > 3 && endsWith("їв"):
			w, tail = w[:n-2], "ev" // Київ → Kiev, Миколаїв → Mikolaev
		case n > 3 && endsWith("ів"):
			w, tail = w[:n-2], "ov" // Харків → Kharkov
		case n > 4 && (endsWith("ське") || endsWith("цьке")):
			w, tail = w[:n-3], "koye" // Кам’янське → Kamyanskoye
		case n > 4 && (endsWith("ове") || endsWith("еве")):
			w, tail = w[:n-1], "o" // Курахове → Kurakhovo
		case n > 4 && endsWith("не") && !isUkVowel(w[n-3]):
			w, tail = w[:n-1], "oye" // Рубіжне → Rubizhnoye
		}
	case schemePolish:
		switch {
		case n > 3 && endsWith("їв"):
			w, tail = w[:n-2], "jów" // Київ → Kyjów
		case n > 3 && endsWith("ів"):
			w, tail = w[:n-2], "ów" // Харків → Charków
		case n > 5 && endsWith("ський"):
			w, tail = w[:n-5], "ski" // Новгород-Сіверський → Nowhorod-Siwierski
		case n > 5 && endsWith("цький"):
			w, tail = w[:n-5], "cki" // Хмельницький → Chmelnycki
		}
	}
	n = len(w)
	for i, r := range w {
		prev, next := rune(0), rune(0)
		if i > 0 {
			prev = w[i-1]
		}
		if i+1 < n {
			next = w[i+1]
		}
		initial := i == 0
		afterVowel := prev != 0 && (isUkVowel(prev) || isApostrophe(prev) || prev == 'ь' && sc != schemeNational)
		if isApostrophe(r) {
			continue
		}
		idx := letterIndex[r]
		lat := tbl[idx]
		switch sc {
		case schemeNational:
			switch r {
			case 'є':
				if initial {
					lat = "ye"
				}
			case 'ї':
				if initial {
					lat = "yi"
				}
			case 'й':
				if initial {
					lat = "y"
				}
			case 'ю':
				if initial {
					lat = "yu"
				}
			case 'я':
				if initial {
					lat = "ya"
				}
			case 'г':
				if prev == 'з' {
					lat = "gh" // зг → zgh
				}
			}
		case schemeRussian:
			switch r {
			case 'е':
				if initial || prev != 'и' && prev != 'і' && afterVowel {
					lat = "ye"
				}
			case 'є':
				if !initial && !afterVowel {
					lat = "e" // Сєвєродонецьк → Severodonetsk
				}
			case 'ь':
				if next == 'о' {
					lat = "y"
				}
			}
		case schemePolish:
			switch r {
			case 'л':
				if next == 'ь' || next == 'і' || next == 'є' || next == 'ю' || next == 'я' || next == 'ї' {
					lat = "l"
				}
			case 'є', 'ю', 'я':
				switch {
				case initial || afterVowel:
					lat = "j" + lat[1:]
				case prev == 'л':
					lat = lat[1:]
				}
			case 'ь':
				if next == 'о' {
					lat = "i"
				}
			case 'н', 'с', 'з', 'ц':
				// A soft consonant: ń ś ź ć at the end of a word or
				// before a vowel; before a consonant (-ськ, -цьк) hard.
				if next == 'ь' && (i+2 >= n || isUkVowel(w[i+2])) {
					lat = map[rune]string{'н': "ń", 'с': "ś", 'з': "ź", 'ц': "ć"}[r]
				} else if r == 'н' && next == 'ь' {
					lat = "ń" // Вовчанськ → Wowczańsk
				}
			}
		case schemeGerman:
			switch r {
			case 'с':
				if afterVowel && next != 0 && isUkVowel(next) {
					lat = "ss" // Одеса → Odessa
				}
			case 'ь':
				if next == 'о' {
					lat = "j"
				}
			}
		case schemeDutch, schemeLithuanian:
			if r == 'ь' && next == 'о' {
				lat = "j"
			}
		}
		out.WriteString(lat)
	}
	out.WriteString(tail)
	if sc == schemeLithuanian && inflect && n > 2 && tail == "" {
		// Lithuanian gives masculine names a nominative ending:
		// Харків → Charkivas, Сергій → Serhijus.
		switch last := w[n-1]; {
		case last == 'й':
			out.WriteString("us")
		case last != 'ь' && !isUkVowel(last):
			out.WriteString("as")
		}
	}
	s := out.String()
	switch {
	case allUpper:
		s = strings.ToUpper(s)
	case upper && s != "":
		r, size := utf8.DecodeRuneInString(s)
		s = string(unicode.ToUpper(r)) + s[size:]
	}
	b.WriteString(s)
}
