package console

import (
	"regexp"
	"strconv"
)

// The matcher's words: the names of its comparisons, of their levels
// (federation/matching.Vocabulary) and the reasons it gives, which the
// node sends in English. vocab shows them in the page's language from the
// catalogs' "matcher." keys; words it does not know (another version's,
// or another member's free text) are shown as written.

// vocabPatterns are the reasons that carry a value (a number, a place or
// a unit as written), with the catalog key their translation takes the
// values into; the first that matches is used.
var vocabPatterns = []struct {
	re  *regexp.Regexp
	key string
}{
	{regexp.MustCompile(`^(\d+(?:\.\d+)?) km apart$`), "matcher.p.km_apart"},
	{regexp.MustCompile(`^same day, (\d+)h apart$`), "matcher.p.same_day_hours"},
	{regexp.MustCompile(`^same evidence items? \((\d+)\)$`), "matcher.p.same_evidence"},
	{regexp.MustCompile(`^same widely shared evidence \((\d+)\)$`), "matcher.p.widely_shared"},
	{regexp.MustCompile(`^(\d+) persons match by name \(person tokens\)$`), "matcher.p.persons_match"},
	{regexp.MustCompile(`^place names (.+) ~ (.+) \(learned locations (\d+(?:\.\d+)?) km apart\)$`), "matcher.p.place_names_learned"},
	{regexp.MustCompile(`^place names (.+) ~ (.+)$`), "matcher.p.place_names"},
	{regexp.MustCompile(`^same place (.+)$`), "matcher.p.same_place"},
	{regexp.MustCompile(`^same unit \((.+)\)$`), "matcher.p.same_unit"},
	{regexp.MustCompile(`^same victim count \((\d+)\)$`), "matcher.p.same_victims"},
	{regexp.MustCompile(`^close victim counts \((\d+), (\d+)\)$`), "matcher.p.close_victims"},
}

var numberRE = regexp.MustCompile(`^\d+(?:\.(\d+))?$`)

// vocab returns the matcher's phrase s in lang, or s as written when it
// is not one of the matcher's words. Values in a phrase stay as written;
// numbers take the language's decimal separator.
func vocab(lang, s string) string {
	if t, ok := catalogs[lang]["matcher."+s]; ok {
		return t
	}
	for _, p := range vocabPatterns {
		m := p.re.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		args := make([]any, len(m)-1)
		for i, v := range m[1:] {
			args[i] = v
			if n := numberRE.FindStringSubmatch(v); n != nil {
				x, _ := strconv.ParseFloat(v, 64)
				args[i] = decimal(lang, x, len(n[1]))
			}
		}
		return T(lang, p.key, args...)
	}
	return s
}

// vocabList translates each phrase of list.
func vocabList(lang string, list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = vocab(lang, s)
	}
	return out
}
