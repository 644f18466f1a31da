package caseformat

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/textfold"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// The names of the enums' values in the format, indexed by the enum's
// number; index 0 (unspecified) has no name.
var (
	statusNames      = []string{"", "investigation", "indictment", "trial", "closed"}
	sensitivityNames = []string{"", "federation", "jit", "national"}
	precisionNames   = []string{"", "minute", "hour", "day", "week", "month"}
	kindNames        = []string{"", "unit", "person", "organisation"}
	roleNames        = []string{"", "victim", "witness", "suspect"}
)

// The fields of each object, in the order Encode writes them.
var (
	caseFields        = []string{"case_id", "country", "title", "opened", "status", "sensitivity", "crime_codes", "incidents", "perpetrators", "persons", "victim_count", "evidence"}
	incidentFields    = []string{"start", "end", "precision", "place", "region", "lat", "lon", "location_precision_m"}
	perpetratorFields = []string{"kind", "name"}
	personFields      = []string{"role", "name", "birth_year"}
	evidenceFields    = []string{"id", "sha256", "media_type", "collected", "description"}
)

// Parse parses one line of the format (without its line ending) and checks
// it for a node whose member code is member. lineNo is the line's number,
// from 1, for the errors. It returns the case, with status and sensitivity
// set to their defaults ([Defaults]: investigation, national) when the
// line has none, or, when the line is
// invalid, no case and every problem found in it (at most
// MaxErrorsPerLine, then a count of the rest). A JSON syntax error ends the
// reading of the line; problems with single values do not. Parse does not
// keep line; the case's strings share one copy of it.
func Parse(line []byte, lineNo int64, member string) (*accordv1.Case, []FieldError) {
	c, _, errs := ParseDefaulted(line, lineNo, member)
	return c, errs
}

// ParseDefaulted is Parse, and also says which fields of the case took
// their defaults ([Defaults]).
func ParseDefaulted(line []byte, lineNo int64, member string) (*accordv1.Case, Defaulted, []FieldError) {
	el := &errList{line: lineNo}
	if err := identity.ValidateMember(member); err != nil {
		el.addField("", "the node's member code "+shown(member)+" is not valid")
		return nil, Defaulted{}, el.finish("")
	}
	d := decoder{data: line, errs: el}
	c := &accordv1.Case{}
	d.ws()
	switch {
	case d.pos == len(line):
		el.addField("", "the line is empty")
	case line[d.pos] != '{':
		d.typeError(path{}, "a JSON object")
	default:
		d.pos++
		d.decodeCase(c)
		if !d.failed {
			d.ws()
			if d.pos < len(line) {
				d.syntax("unexpected data after the case's object")
			}
		}
		if !d.failed {
			checkCase(c, member, el, false)
		}
	}
	if len(el.errs) > 0 {
		return nil, Defaulted{}, el.finish(c.CaseId)
	}
	return c, Defaults(c), nil
}

// DefaultSensitivity is the sensitivity of a case that has none: national,
// shared with nobody. An office shares a case by saying so (federation or
// jit); a case that leaves the office by default could not be called back
// from the other members' copies (issue 13, finding 16).
const DefaultSensitivity = accordv1.Sensitivity_SENSITIVITY_NATIONAL

// DefaultStatus is the status of a case that has none.
const DefaultStatus = accordv1.CaseStatus_CASE_STATUS_INVESTIGATION

// Defaulted says which fields of a case took their defaults.
type Defaulted struct {
	Status, Sensitivity bool
}

// Defaults sets a case's unspecified status and sensitivity to
// [DefaultStatus] and [DefaultSensitivity], for lines and the local API
// alike, and says which it set.
func Defaults(c *accordv1.Case) Defaulted {
	var d Defaulted
	if c.Status == accordv1.CaseStatus_CASE_STATUS_UNSPECIFIED {
		c.Status, d.Status = DefaultStatus, true
	}
	if c.Sensitivity == accordv1.Sensitivity_SENSITIVITY_UNSPECIFIED {
		c.Sensitivity, d.Sensitivity = DefaultSensitivity, true
	}
	return d
}

// typeError reports that the value at p is not of the type want names and
// reads over it.
func (d *decoder) typeError(p path, want string) {
	start := d.pos
	c := d.peek()
	if d.failed {
		return
	}
	k := kind(c)
	if k == "" {
		d.unexpected()
		return
	}
	d.skip()
	if d.failed {
		return
	}
	var reason string
	switch {
	case p.list == "" && p.field == "":
		reason = "the line must be " + want + " (got " + k + ")"
	case k == "null" && p.field != "":
		reason = "must not be null (omit the field instead)"
	case k == "null" || k == "object" || k == "array" || p.personal():
		reason = "must be " + want + " (got " + k + ")"
	default:
		reason = "must be " + want + " (got " + k + " " + rawShown(d.data[start:d.pos]) + ")"
	}
	d.errs.unread(p, reason)
}

// rawShown returns a scalar JSON token for an error, cut to maxShown
// characters.
func rawShown(b []byte) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if utf8.RuneCountInString(s) <= maxShown {
		return s
	}
	n := 0
	for i := range s {
		if n == maxShown {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// open reads the '{' or '[' (want) that starts the value at p, or reports a
// type error and reads over the value.
func (d *decoder) open(p path, want byte) bool {
	c := d.peek()
	if d.failed {
		return false
	}
	if c == want {
		d.pos++
		return true
	}
	if want == '{' {
		d.typeError(p, "an object")
	} else {
		d.typeError(p, "an array")
	}
	return false
}

// rawStr reads a string value; the bytes are valid until the next string is
// read.
func (d *decoder) rawStr(p path) ([]byte, bool) {
	c := d.peek()
	if d.failed {
		return nil, false
	}
	if c != '"' {
		d.typeError(p, "a string")
		return nil, false
	}
	s, bad, ok := d.scanString()
	if !ok {
		return nil, false
	}
	if bad != "" {
		d.errs.unread(p, bad)
		return nil, false
	}
	return s, true
}

func (d *decoder) str(p path) (string, bool) {
	start := d.pos + 1
	s, ok := d.rawStr(p)
	if !ok {
		return "", false
	}
	if d.pos-1-start == len(s) && len(s) > 0 {
		// No escapes: s is the line's bytes from start.
		if d.text == "" {
			d.text = string(d.data)
		}
		return d.text[start : start+len(s)], true
	}
	return string(s), true
}

// formatted reads a string of a field that has a format (a date, a time, a
// media type), where an empty string is neither absent nor valid.
func (d *decoder) formatted(p path) string {
	s, ok := d.str(p)
	if ok && s == "" {
		d.errs.unread(p, "must not be empty (omit the field instead)")
	}
	return s
}

// enum reads one of names (indexed by the enum's number).
func (d *decoder) enum(p path, names []string) int32 {
	s, ok := d.rawStr(p)
	if !ok {
		return 0
	}
	for i, n := range names[1:] {
		if string(s) == n {
			return int32(i + 1)
		}
	}
	d.errs.unread(p, "must be one of "+strings.Join(names[1:], ", ")+got(p, string(s)))
	return 0
}

// number reads the digits of a number, or reports a type error.
func (d *decoder) number(p path, want string) (tok []byte, isInt, ok bool) {
	c := d.peek()
	if d.failed {
		return nil, false, false
	}
	if c != '-' && (c < '0' || c > '9') {
		d.typeError(p, want)
		return nil, false, false
	}
	start := d.pos
	if isInt, ok = d.scanNumber(); !ok {
		return nil, false, false
	}
	return d.data[start:d.pos], isInt, true
}

func (d *decoder) integer(p path) (int64, bool) {
	tok, isInt, ok := d.number(p, "an integer")
	if !ok {
		return 0, false
	}
	if !isInt {
		d.errs.unread(p, "must be an integer"+gotRaw(p, tok))
		return 0, false
	}
	var v int64
	neg := tok[0] == '-'
	if neg {
		tok = tok[1:]
	}
	for _, c := range tok {
		if v > (1<<63-1-9)/10 {
			d.errs.unread(p, "is out of range"+gotRaw(p, tok))
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

func (d *decoder) float(p path) (float64, bool) {
	tok, _, ok := d.number(p, "a number")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		d.errs.unread(p, "must be a finite number"+gotRaw(p, tok))
		return 0, false
	}
	return v, true
}

func gotRaw(p path, tok []byte) string {
	if p.personal() {
		return ""
	}
	return " (got " + rawShown(tok) + ")"
}

// key finds key in fields; -1 when it is not one of them.
func key(fields []string, key []byte) int {
	for i, f := range fields {
		if string(key) == f {
			return i
		}
	}
	return -1
}

// field handles the key of a member of the object at p whose fields are
// fields: it returns the field's index and path, or -1 after reporting an
// unknown or repeated key and reading over its value.
func (d *decoder) field(p path, fields []string, k []byte, seen *uint32) (int, path) {
	i := key(fields, k)
	if i < 0 {
		d.unknown(p, fields, k)
		d.skip()
		return -1, p
	}
	fp := p.sub(fields[i])
	if *seen&(1<<i) != 0 {
		d.errs.add(fp, "duplicate key (each field may appear once)")
		d.skip()
		return -1, p
	}
	*seen |= 1 << i
	return i, fp
}

// unknown reports a key that is not a field of the object at p.
func (d *decoder) unknown(p path, fields []string, k []byte) {
	known := "the fields are " + strings.Join(fields, ", ")
	if p.personal() {
		// The key may be a name written in the wrong place.
		d.errs.add(p, "unknown field, not shown as it may hold personal data ("+known+")")
		return
	}
	ks := string(k)
	fieldPath := p
	printable := len(ks) > 0 && len(ks) <= 64
	for _, c := range k {
		if c <= ' ' || c >= 0x7f || c == '.' || c == '[' {
			printable = false
		}
	}
	if printable {
		fieldPath = p.sub(ks)
	}
	reason := "unknown field " + shown(ks)
	if s := suggest(ks, fields); s != "" {
		reason += " (did you mean " + strconv.Quote(s) + "?)"
	} else {
		reason += " (" + known + ")"
	}
	d.errs.add(fieldPath, reason)
}

// aliases are names other formats give to the format's fields, each with
// the field it stands for.
var aliases = [...][2]string{
	{"id", "case_id"},
	{"latitude", "lat"},
	{"longitude", "lon"},
	{"lng", "lon"},
	{"long", "lon"},
	{"hash", "sha256"},
	{"mime_type", "media_type"},
	{"content_type", "media_type"},
	{"type", "kind"},
	{"crimes", "crime_codes"},
	{"victims", "victim_count"},
	{"location", "place"},
}

// suggest returns the field of fields within two edits of k (one for
// fields shorter than five letters), or the field an alias within one edit
// of k stands for, if any.
func suggest(k string, fields []string) string {
	if len(k) > 64 {
		return ""
	}
	for _, f := range fields {
		if d := textfold.EditDistance(k, f); d <= 1 || (d == 2 && len(f) >= 5) {
			return f
		}
	}
	for _, a := range aliases {
		if key(fields, []byte(a[1])) >= 0 && textfold.EditDistance(k, a[0]) <= 1 {
			return a[1]
		}
	}
	return ""
}

func (d *decoder) decodeCase(c *accordv1.Case) {
	var seen uint32
	for first := true; ; first = false {
		k, ok := d.member(first)
		if !ok {
			return
		}
		i, p := d.field(path{}, caseFields, k, &seen)
		switch i {
		case 0:
			c.CaseId, _ = d.str(p)
		case 1:
			c.Country, _ = d.str(p)
		case 2:
			c.Title, _ = d.str(p)
		case 3:
			c.Opened = d.formatted(p)
		case 4:
			c.Status = accordv1.CaseStatus(d.enum(p, statusNames))
		case 5:
			c.Sensitivity = accordv1.Sensitivity(d.enum(p, sensitivityNames))
		case 6:
			if d.open(p, '[') {
				for j := 0; d.element(j == 0); j++ {
					s, _ := d.str(elem("crime_codes", j))
					c.CrimeCodes = append(c.CrimeCodes, s)
				}
			}
		case 7:
			if d.open(p, '[') {
				for j := 0; d.element(j == 0); j++ {
					in := &accordv1.Incident{}
					c.Incidents = append(c.Incidents, in)
					if ep := elem("incidents", j); d.open(ep, '{') {
						d.decodeIncident(ep, in)
					}
				}
			}
		case 8:
			if d.open(p, '[') {
				for j := 0; d.element(j == 0); j++ {
					pe := &accordv1.Perpetrator{}
					c.Perpetrators = append(c.Perpetrators, pe)
					if ep := elem("perpetrators", j); d.open(ep, '{') {
						d.decodePerpetrator(ep, pe)
					}
				}
			}
		case 9:
			if d.open(p, '[') {
				for j := 0; d.element(j == 0); j++ {
					pe := &accordv1.Person{}
					c.Persons = append(c.Persons, pe)
					if ep := elem("persons", j); d.open(ep, '{') {
						d.decodePerson(ep, pe)
					}
				}
			}
		case 10:
			if v, ok := d.integer(p); ok {
				c.VictimCount = proto.Int64(v)
			}
		case 11:
			if d.open(p, '[') {
				for j := 0; d.element(j == 0); j++ {
					ev := &accordv1.EvidenceRef{}
					c.Evidence = append(c.Evidence, ev)
					if ep := elem("evidence", j); d.open(ep, '{') {
						d.decodeEvidence(ep, ev)
					}
				}
			}
		}
	}
}

func (d *decoder) decodeIncident(ep path, in *accordv1.Incident) {
	var seen uint32
	for first := true; ; first = false {
		k, ok := d.member(first)
		if !ok {
			return
		}
		i, p := d.field(ep, incidentFields, k, &seen)
		switch i {
		case 0:
			in.Start = d.formatted(p)
		case 1:
			in.End = d.formatted(p)
		case 2:
			in.Precision = accordv1.TimePrecision(d.enum(p, precisionNames))
		case 3:
			in.Place, _ = d.str(p)
		case 4:
			in.Region, _ = d.str(p)
		case 5:
			if v, ok := d.float(p); ok {
				in.Lat = proto.Float64(v)
			}
		case 6:
			if v, ok := d.float(p); ok {
				in.Lon = proto.Float64(v)
			}
		case 7:
			if v, ok := d.integer(p); ok {
				in.LocationPrecisionM = proto.Int64(v)
			}
		}
	}
}

func (d *decoder) decodePerpetrator(ep path, pe *accordv1.Perpetrator) {
	var seen uint32
	for first := true; ; first = false {
		k, ok := d.member(first)
		if !ok {
			return
		}
		i, p := d.field(ep, perpetratorFields, k, &seen)
		switch i {
		case 0:
			pe.Kind = accordv1.PerpetratorKind(d.enum(p, kindNames))
		case 1:
			pe.Name, _ = d.str(p)
		}
	}
}

func (d *decoder) decodePerson(ep path, pe *accordv1.Person) {
	var seen uint32
	for first := true; ; first = false {
		k, ok := d.member(first)
		if !ok {
			return
		}
		i, p := d.field(ep, personFields, k, &seen)
		switch i {
		case 0:
			pe.Role = accordv1.PersonRole(d.enum(p, roleNames))
		case 1:
			pe.Name, _ = d.str(p)
		case 2:
			v, ok := d.integer(p)
			switch {
			case !ok:
			case v < minBirthYear || v > int64(d.errs.maxYear()):
				d.errs.unread(p, birthYearReason(d.errs.maxYear()))
			default:
				pe.BirthYear = proto.Int32(int32(v))
			}
		}
	}
}

func (d *decoder) decodeEvidence(ep path, ev *accordv1.EvidenceRef) {
	var seen uint32
	for first := true; ; first = false {
		k, ok := d.member(first)
		if !ok {
			return
		}
		i, p := d.field(ep, evidenceFields, k, &seen)
		switch i {
		case 0:
			ev.Id, _ = d.str(p)
		case 1:
			ev.Sha256, _ = d.str(p)
		case 2:
			ev.MediaType = d.formatted(p)
		case 3:
			ev.Collected = d.formatted(p)
		case 4:
			ev.Description, _ = d.str(p)
		}
	}
}
