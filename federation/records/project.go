package records

import (
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/persontoken"
	"github.com/accordfed/accord/federation/redact"
	"github.com/accordfed/accord/federation/safetext"
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

// PersonPreparer is a PersonEncoder that needs to do work (ask other
// members' nodes) before the persons of some cases are encoded: the
// publisher calls Prepare with a batch's cases before projecting them.
type PersonPreparer interface {
	PersonEncoder
	Prepare(cases []*accordv1.Case)
}

// Shareable reports whether a case's metadata may leave the node at all:
// only when the office said so (federation or jit sensitivity). A case
// without a sensitivity is national.
func Shareable(c *accordv1.Case) bool {
	switch c.GetSensitivity() {
	case accordv1.Sensitivity_SENSITIVITY_FEDERATION, accordv1.Sensitivity_SENSITIVITY_JIT:
		return true
	}
	return false
}

// The fields of a shared case that carry free text, as counted in
// [Withheld] (and in the import report, the metric and the audit log).
const (
	FieldCaseID       = "case_id"
	FieldTitle        = "title"
	FieldPlace        = "incidents.place"
	FieldRegion       = "incidents.region"
	FieldPerpetrators = "perpetrators.name"
)

// Withheld says what the projection of a case kept home: per shared
// free-text field, how many words it blanked (names of persons, in any
// form, and birth years). Case reports that the case id itself carries a
// name: the case is then not shared at all. Never the words themselves.
type Withheld struct {
	Fields map[string]int
	Case   bool
}

// Any reports whether anything was withheld.
func (w Withheld) Any() bool { return w.Case || len(w.Fields) > 0 }

// AddPersons adds the names and birth years of a case's persons (victims,
// witnesses, suspects, and perpetrators recorded as persons) to names.
func AddPersons(names *redact.Names, c *accordv1.Case) {
	for _, p := range c.GetPersons() {
		names.Add(p.GetName())
		if p.BirthYear != nil {
			names.AddYear(int(p.GetBirthYear()))
		}
	}
	for _, p := range c.GetPerpetrators() {
		if p.GetKind() == accordv1.PerpetratorKind_PERPETRATOR_KIND_PERSON {
			names.Add(p.GetName())
		}
	}
}

// Project returns the shared form of a shareable case and what it
// withheld. Every free-text field that crosses (title, places, regions,
// names of units and organisations) is checked against the names of the
// case's persons and, when office is not nil, of every person the office
// holds (office must already hold this case's); a word that is any form of
// one, and birth-year phrases, are blanked ("[…]", federation/redact). A
// case whose id carries a name is not shared: Project returns nil and
// Withheld.Case. enc may be nil (no federation key yet): persons are then
// left out.
func Project(c *accordv1.Case, enc PersonEncoder, office *redact.Names) (*accordv1.SharedCase, Withheld, error) {
	var w Withheld
	own := redact.NewNames()
	AddPersons(own, c)
	blank := func(field, text string) string {
		// Control characters stored before they were refused would
		// make receivers refuse the record.
		out, n := redact.Text(safetext.Clean(text, true), own, office)
		if n > 0 {
			if w.Fields == nil {
				w.Fields = map[string]int{}
			}
			w.Fields[field] += n
		}
		return out
	}
	if _, n := redact.Text(c.GetCaseId(), own, office); n > 0 {
		return nil, Withheld{Case: true, Fields: map[string]int{FieldCaseID: n}}, nil
	}
	sens := c.GetSensitivity()
	s := &accordv1.SharedCase{
		CaseId:      c.GetCaseId(),
		Title:       blank(FieldTitle, c.GetTitle()),
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
		inc.Place = blank(FieldPlace, inc.GetPlace())
		inc.Region = blank(FieldRegion, inc.GetRegion())
		s.Incidents = append(s.Incidents, inc)
	}
	for _, p := range c.GetPerpetrators() {
		if p.GetKind() != accordv1.PerpetratorKind_PERPETRATOR_KIND_PERSON {
			s.Perpetrators = append(s.Perpetrators, &accordv1.Perpetrator{Kind: p.GetKind(), Name: blank(FieldPerpetrators, p.GetName())})
		}
	}
	for _, e := range c.GetEvidence() {
		s.Evidence = append(s.Evidence, &accordv1.SharedEvidence{Sha256: e.GetSha256(), MediaType: e.GetMediaType(), Collected: e.GetCollected()})
	}
	if enc != nil {
		for _, p := range SharedPersons(c) {
			out, err := enc.Encode(p.Name, p.BirthYear, p.HasYear)
			if err != nil {
				return nil, w, err
			}
			for _, e := range out {
				s.Persons = append(s.Persons, &accordv1.PersonEncoding{Role: p.Role, KeyName: e.KeyName, KeyVersion: int32(e.KeyVersion), Encoding: e.Bytes})
			}
		}
	}
	return s, w, nil
}

// SharedPerson is a person of a case whose tokens a shared case carries.
type SharedPerson struct {
	Role      accordv1.PersonRole
	Name      string
	BirthYear int32
	HasYear   bool
}

// SharedPersons returns the persons whose tokens the shared form of c
// carries, in its order: the case's persons with a name, then its
// perpetrators recorded as persons (as suspects, without a year); at most
// persontoken.MaxPersonsPerCase (receivers compare no more).
func SharedPersons(c *accordv1.Case) []SharedPerson {
	var out []SharedPerson
	for _, p := range c.GetPersons() {
		if strings.TrimSpace(p.GetName()) != "" {
			out = append(out, SharedPerson{Role: p.GetRole(), Name: p.GetName(), BirthYear: p.GetBirthYear(), HasYear: p.BirthYear != nil})
		}
	}
	for _, p := range c.GetPerpetrators() {
		if p.GetKind() == accordv1.PerpetratorKind_PERPETRATOR_KIND_PERSON && strings.TrimSpace(p.GetName()) != "" {
			out = append(out, SharedPerson{Role: accordv1.PersonRole_PERSON_ROLE_SUSPECT, Name: p.GetName()})
		}
	}
	return out[:min(len(out), persontoken.MaxPersonsPerCase)]
}

// PersonInputs returns the person-token inputs of the persons the shared
// form of c carries (none for a case that is not shared); persons whose
// name has no letter, or whose year is out of range, have none.
func PersonInputs(c *accordv1.Case) []persontoken.Input {
	if !Shareable(c) {
		return nil
	}
	var out []persontoken.Input
	for _, p := range SharedPersons(c) {
		person := persontoken.Person{Name: p.Name}
		if p.HasYear {
			person.BirthYear = int(p.BirthYear)
		}
		if in, err := persontoken.Inputs(person); err == nil {
			out = append(out, in)
		}
	}
	return out
}
