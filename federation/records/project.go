package records

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Encoded is one keyed encoding of a person.
type Encoded struct {
	KeyName    string
	KeyVersion int
	Bytes      []byte
}

// PersonEncoder makes the keyed encodings of a person's name (and birth
// year, when known): one per key version in use (during a rotation, the
// current and the previous one).
type PersonEncoder interface {
	Encode(name string, birthYear int32, hasYear bool) ([]Encoded, error)
}

// Shareable reports whether a case's metadata may leave the node at all
// (federation or jit sensitivity).
func Shareable(c *accordv1.Case) bool {
	switch c.GetSensitivity() {
	case accordv1.Sensitivity_SENSITIVITY_NATIONAL:
		return false
	}
	return true
}

// Project returns the shared form of a shareable case. enc may be nil
// (no federation key yet): persons are then left out.
func Project(c *accordv1.Case, enc PersonEncoder) (*accordv1.SharedCase, error) {
	sens := c.GetSensitivity()
	if sens == accordv1.Sensitivity_SENSITIVITY_UNSPECIFIED {
		sens = accordv1.Sensitivity_SENSITIVITY_FEDERATION
	}
	var names []string
	for _, p := range c.GetPersons() {
		names = append(names, p.GetName())
	}
	for _, p := range c.GetPerpetrators() {
		if p.GetKind() == accordv1.PerpetratorKind_PERPETRATOR_KIND_PERSON {
			names = append(names, p.GetName())
		}
	}
	s := &accordv1.SharedCase{
		CaseId:      c.GetCaseId(),
		Title:       Blank(c.GetTitle(), names),
		Status:      c.GetStatus(),
		Sensitivity: sens,
		CrimeCodes:  c.GetCrimeCodes(),
		VictimCount: c.VictimCount,
		Version:     c.GetVersion(),
		Opened:      c.GetOpened(),
		UpdateTime:  c.GetUpdateTime(),
	}
	for _, in := range c.GetIncidents() {
		// Fields the schema does not know stay home: they were never
		// checked, and receivers refuse a record that carries any.
		inc := proto.CloneOf(in)
		inc.ProtoReflect().SetUnknown(nil)
		s.Incidents = append(s.Incidents, inc)
	}
	for _, p := range c.GetPerpetrators() {
		if p.GetKind() != accordv1.PerpetratorKind_PERPETRATOR_KIND_PERSON {
			s.Perpetrators = append(s.Perpetrators, &accordv1.Perpetrator{Kind: p.GetKind(), Name: p.GetName()})
		}
	}
	for _, e := range c.GetEvidence() {
		s.Evidence = append(s.Evidence, &accordv1.SharedEvidence{Sha256: e.GetSha256(), MediaType: e.GetMediaType(), Collected: e.GetCollected()})
	}
	if enc != nil {
		add := func(role accordv1.PersonRole, name string, year int32, hasYear bool) error {
			if strings.TrimSpace(name) == "" {
				return nil
			}
			out, err := enc.Encode(name, year, hasYear)
			if err != nil {
				return err
			}
			for _, e := range out {
				s.Persons = append(s.Persons, &accordv1.PersonEncoding{Role: role, KeyName: e.KeyName, KeyVersion: int32(e.KeyVersion), Encoding: e.Bytes})
			}
			return nil
		}
		for _, p := range c.GetPersons() {
			if err := add(p.GetRole(), p.GetName(), p.GetBirthYear(), p.BirthYear != nil); err != nil {
				return nil, err
			}
		}
		for _, p := range c.GetPerpetrators() {
			if p.GetKind() == accordv1.PerpetratorKind_PERPETRATOR_KIND_PERSON {
				if err := add(accordv1.PersonRole_PERSON_ROLE_SUSPECT, p.GetName(), 0, false); err != nil {
					return nil, err
				}
			}
		}
	}
	return s, nil
}

// Blank replaces, in free text, every whole-word occurrence of a word of a
// name (of three letters or more) with "[…]", ignoring case. Place names
// that merely contain a name ("Serhiivka" for "Serhii") are kept.
func Blank(text string, names []string) string {
	words := map[string]bool{}
	for _, n := range names {
		for _, w := range strings.FieldsFunc(n, notWordRune) {
			if utf8.RuneCountInString(w) >= 3 {
				words[strings.ToLower(w)] = true
			}
		}
	}
	if len(words) == 0 {
		return text
	}
	var b strings.Builder
	changed := false
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if notWordRune(r) {
			b.WriteString(text[i : i+size])
			i += size
			continue
		}
		j := i
		for j < len(text) {
			r, size := utf8.DecodeRuneInString(text[j:])
			if notWordRune(r) {
				break
			}
			j += size
		}
		if words[strings.ToLower(text[i:j])] {
			b.WriteString("[…]")
			changed = true
		} else {
			b.WriteString(text[i:j])
		}
		i = j
	}
	if !changed {
		return text
	}
	return b.String()
}

// notWordRune separates words: anything but letters, digits, apostrophes
// and hyphens inside names.
func notWordRune(r rune) bool {
	return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\'' && r != '’'
}
