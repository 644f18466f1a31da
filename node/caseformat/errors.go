package caseformat

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrInvalid is wrapped by every error of this package about input that
// breaks the format's rules: each FieldError, and therefore the errors of
// Parse, Validate, Encode and Reader. Test it with errors.Is.
var ErrInvalid = errors.New("invalid case")

// MaxErrorsPerLine is how many problems Parse and Validate report for one
// line; when there are more, a last FieldError says how many were left out.
const MaxErrorsPerLine = 20

// FieldError names what is wrong with one line: the line number, the field
// and the reason. It wraps ErrInvalid. Its text never contains a person's
// name.
type FieldError struct {
	// Line is the line number, from 1; 0 when the case did not come from a
	// line (Validate, Encode).
	Line int64
	// Field is the field's path, such as "incidents[0].lat" or
	// "crime_codes[2]"; empty when the error concerns the whole line.
	Field string
	// Reason says what is wrong, in words.
	Reason string
	// CaseID is the line's case id, when it could be read and is well formed.
	CaseID string
}

// Error returns the error as "line 12: incidents[0].lat: must be between -90
// and 90 (got 91.2)"; without the line part when Line is 0 and without the
// field part when Field is empty.
func (e FieldError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.FormatInt(e.Line, 10))
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap returns ErrInvalid.
func (e FieldError) Unwrap() error { return ErrInvalid }

// Join returns nil when errs is empty and otherwise one error that wraps
// every FieldError (and so ErrInvalid), one per line of its text.
func Join(errs []FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	list := make([]error, len(errs))
	for i, e := range errs {
		list[i] = e
	}
	return errors.Join(list...)
}

// path is a field's position in a case: a top-level field ("title"), an
// element of a list ("crime_codes[1]", "incidents[0]") or a field of an
// element ("incidents[0].lat"). It is turned into text only for an error.
type path struct {
	list  string // the list's field; "" for a top-level field
	index int
	field string
}

func top(field string) path { return path{field: field} }

func elem(list string, i int) path { return path{list: list, index: i} }

func (p path) sub(field string) path { p.field = field; return p }

// personal says whether values at p may hold personal data and so must not
// be shown in errors.
func (p path) personal() bool { return p.list == "persons" || p.field == "persons" }

func (p path) String() string {
	if p.list == "" {
		return p.field
	}
	s := p.list + "[" + strconv.Itoa(p.index) + "]"
	if p.field != "" {
		s += "." + p.field
	}
	return s
}

// errList collects the problems of one line, at most MaxErrorsPerLine.
type errList struct {
	line int64
	errs []FieldError
	more int
	// skipped are the paths of values that decoding reported and could not
	// read (wrong type, null, bad text); the rules skip fields at or under
	// them, as they would only repeat the problem ("required" after "must
	// be a string"). A set: a line may have a hundred thousand of them, and
	// every rule looks its field up.
	skipped map[string]struct{}
	year    int // the current year, once asked for
}

// maxYear returns the latest birth year accepted, the current year, reading
// the clock once per line.
func (l *errList) maxYear() int {
	if l.year == 0 {
		l.year = now().Year()
	}
	return l.year
}

func (l *errList) addField(field, reason string) {
	if len(l.errs) >= MaxErrorsPerLine {
		l.more++
		return
	}
	l.errs = append(l.errs, FieldError{Line: l.line, Field: field, Reason: reason})
}

func (l *errList) add(p path, reason string) { l.addField(p.String(), reason) }

// unread records a problem with a value that decoding could not read.
func (l *errList) unread(p path, reason string) {
	field := p.String()
	if l.skipped == nil {
		l.skipped = map[string]struct{}{}
	}
	l.skipped[field] = struct{}{}
	l.addField(field, reason)
}

// check records a problem found by the rules, unless decoding could not
// read the value at or above the same field.
func (l *errList) check(p path, reason string) {
	field := p.String()
	// The field itself, then each enclosing path: "incidents[0].lat",
	// "incidents[0]", "incidents".
	for f := field; ; {
		if _, ok := l.skipped[f]; ok {
			return
		}
		i := strings.LastIndexAny(f, ".[")
		if i <= 0 {
			break
		}
		f = f[:i]
	}
	l.addField(field, reason)
}

func (l *errList) full() bool { return len(l.errs) >= MaxErrorsPerLine }

// finish returns the errors, each with the case id when it is well formed.
func (l *errList) finish(caseID string) []FieldError {
	if len(l.errs) == 0 {
		return nil
	}
	if l.more > 0 {
		l.errs = append(l.errs, FieldError{Line: l.line, Reason: strconv.Itoa(l.more) + " more problems in this line not shown"})
	}
	if caseID != "" && len(caseID) <= maxIDLen && validIDChars(caseID) {
		for i := range l.errs {
			l.errs[i].CaseID = caseID
		}
	}
	return l.errs
}

// maxShown is how many characters of a value an error quotes.
const maxShown = 60

// shown returns s quoted for an error, cut to maxShown characters.
func shown(s string) string {
	if utf8.RuneCountInString(s) > maxShown {
		n := 0
		for i := range s {
			if n == maxShown {
				return strconv.Quote(s[:i]) + "…"
			}
			n++
		}
	}
	return strconv.Quote(s)
}

// got returns " (got <s quoted>)", or "" where values are personal data.
func got(p path, s string) string {
	if p.personal() {
		return ""
	}
	return " (got " + shown(s) + ")"
}
