package console

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

//go:embed i18n
var catalogFS embed.FS

// Language is a language the console speaks.
type Language struct {
	Code, Name string
}

// languages are the console's languages, in the order the switch shows
// them; each has a catalog, the JSON files of i18n/<code>/ (one per part
// of the console), with every key of English's.
var languages = []Language{{"en", "English"}, {"uk", "Українська"}, {"pl", "Polski"}, {"de", "Deutsch"}}

// catalogs are the message catalogs by language code.
var catalogs = mustCatalogs()

func mustCatalogs() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, l := range languages {
		files, err := fs.Glob(catalogFS, path.Join("i18n", l.Code, "*.json"))
		if err != nil || len(files) == 0 {
			panic(fmt.Sprintf("console: catalog %s: no files (%v)", l.Code, err))
		}
		m := map[string]string{}
		for _, f := range files {
			b, err := catalogFS.ReadFile(f)
			if err != nil {
				panic(fmt.Sprintf("console: catalog %s: %v", f, err))
			}
			part := map[string]string{}
			if err := json.Unmarshal(b, &part); err != nil {
				panic(fmt.Sprintf("console: catalog %s: %v", f, err))
			}
			for k, v := range part {
				if _, dup := m[k]; dup {
					panic(fmt.Sprintf("console: catalog %s: key %s is defined twice", f, k))
				}
				m[k] = v
			}
		}
		out[l.Code] = m
	}
	return out
}

// T returns the interface string key in lang, formatted with args
// (fmt verbs, in the catalog's order). A key missing from lang's catalog
// falls back to English, and a key missing from every catalog shows as
// itself in brackets (the catalog test fails on either).
func T(lang, key string, args ...any) string {
	s, ok := catalogs[lang][key]
	if !ok {
		if s, ok = catalogs["en"][key]; !ok {
			return "[" + key + "]"
		}
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}

// catalogKeys returns the keys of a catalog, sorted.
func catalogKeys(lang string) []string {
	keys := make([]string, 0, len(catalogs[lang]))
	for k := range catalogs[lang] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var tags = map[string]language.Tag{"en": language.English, "uk": language.Ukrainian, "pl": language.Polish, "de": language.German}

// number writes n with lang's digit grouping.
func number(lang string, n any) string {
	return message.NewPrinter(tags[lang]).Sprint(n)
}

// decimal writes x with so many decimals, in lang's notation.
func decimal(lang string, x float64, decimals int) string {
	return message.NewPrinter(tags[lang]).Sprintf("%.*f", decimals, x)
}

// date writes a time's date in lang: "7 December 2026", "7 грудня 2026".
func date(lang string, t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return T(lang, "date.format", t.Day(), T(lang, fmt.Sprintf("month.%d", int(t.Month()))), t.Year())
}

// dateTime writes a time as date and hh:mm in UTC.
func dateTime(lang string, t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	t = t.UTC()
	return date(lang, t) + " " + t.Format("15:04") + " UTC"
}

// ago writes how long ago d was, in lang, in its largest whole unit.
func ago(lang string, d time.Duration) string {
	switch {
	case d < time.Minute:
		return T(lang, "ago.now")
	case d < time.Hour:
		return T(lang, "ago.minutes", int(d/time.Minute))
	case d < 48*time.Hour:
		return T(lang, "ago.hours", int(d/time.Hour))
	}
	return T(lang, "ago.days", int(d/(24*time.Hour)))
}

// enumWord is an API enum's catalog entry: "enum.<prefix-less name>"
// (e.g. enum.confirmed), or the name in lower case when the catalog lacks it.
func enumWord(lang string, v fmt.Stringer, prefix string) string {
	name := strings.ToLower(strings.TrimPrefix(v.String(), prefix))
	if name == "unspecified" {
		return "–"
	}
	if s, ok := catalogs[lang]["enum."+name]; ok {
		return s
	}
	if s, ok := catalogs["en"]["enum."+name]; ok {
		return s
	}
	return strings.ReplaceAll(name, "_", " ")
}
