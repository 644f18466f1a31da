package caseformat

import (
	"math"
	"strconv"
	"unicode/utf8"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Encode writes a case as one line of the format, without a line ending:
// only the format's fields, never what the node keeps about a case (version,
// times, update_by). Status and sensitivity are always written, as their
// defaults when unspecified; the lists crime_codes, incidents,
// perpetrators, persons and evidence are always written, empty or not; other
// fields are left out when empty or unset. Encode does not check the
// format's rules (Validate does), only that the case can be written: valid
// UTF-8, finite coordinates, enum values that have names. Its errors are
// FieldErrors (Line 0).
func Encode(c *accordv1.Case) ([]byte, error) {
	return Append(make([]byte, 0, 1536), c)
}

// Append is Encode writing to the end of dst.
func Append(dst []byte, c *accordv1.Case) ([]byte, error) {
	if c == nil {
		return dst, FieldError{Reason: "the case is missing"}
	}
	e := encoder{b: dst}
	e.b = append(e.b, `{"case_id":`...)
	e.str(top("case_id"), c.CaseId)
	e.b = append(e.b, `,"country":`...)
	e.str(top("country"), c.Country)
	e.optStr(top("title"), `,"title":`, c.Title)
	e.optStr(top("opened"), `,"opened":`, c.Opened)
	e.b = append(e.b, `,"status":`...)
	e.enum(top("status"), int32(c.Status), statusNames, int32(DefaultStatus))
	e.b = append(e.b, `,"sensitivity":`...)
	e.enum(top("sensitivity"), int32(c.Sensitivity), sensitivityNames, int32(DefaultSensitivity))

	e.b = append(e.b, `,"crime_codes":[`...)
	for i, code := range c.CrimeCodes {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.str(elem("crime_codes", i), code)
	}

	e.b = append(e.b, `],"incidents":[`...)
	for i, in := range c.Incidents {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.incident(elem("incidents", i), in)
	}

	e.b = append(e.b, `],"perpetrators":[`...)
	for i, pe := range c.Perpetrators {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		p := elem("perpetrators", i)
		if pe == nil {
			e.fail(p, "must not be null")
			continue
		}
		e.b = append(e.b, '{')
		sep := e.optEnum(p.sub("kind"), `"kind":`, int32(pe.Kind), kindNames)
		e.optStr(p.sub("name"), sep+`"name":`, pe.Name)
		e.b = append(e.b, '}')
	}

	e.b = append(e.b, `],"persons":[`...)
	for i, pe := range c.Persons {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		p := elem("persons", i)
		if pe == nil {
			e.fail(p, "must not be null")
			continue
		}
		e.b = append(e.b, '{')
		sep := e.optEnum(p.sub("role"), `"role":`, int32(pe.Role), roleNames)
		if pe.Name != "" {
			e.b = append(e.b, sep+`"name":`...)
			e.str(p.sub("name"), pe.Name)
			sep = ","
		}
		if pe.BirthYear != nil {
			e.b = append(e.b, sep+`"birth_year":`...)
			e.b = strconv.AppendInt(e.b, int64(*pe.BirthYear), 10)
		}
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, ']')

	if c.VictimCount != nil {
		e.b = append(e.b, `,"victim_count":`...)
		e.b = strconv.AppendInt(e.b, *c.VictimCount, 10)
	}

	e.b = append(e.b, `,"evidence":[`...)
	for i, ev := range c.Evidence {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		p := elem("evidence", i)
		if ev == nil {
			e.fail(p, "must not be null")
			continue
		}
		e.b = append(e.b, `{"id":`...)
		e.str(p.sub("id"), ev.Id)
		e.b = append(e.b, `,"sha256":`...)
		e.str(p.sub("sha256"), ev.Sha256)
		e.optStr(p.sub("media_type"), `,"media_type":`, ev.MediaType)
		e.optStr(p.sub("collected"), `,"collected":`, ev.Collected)
		e.optStr(p.sub("description"), `,"description":`, ev.Description)
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, "]}"...)

	if e.err != nil {
		return dst, e.err
	}
	return e.b, nil
}

type encoder struct {
	b   []byte
	err error
}

func (e *encoder) fail(p path, reason string) {
	if e.err == nil {
		e.err = FieldError{Field: p.String(), Reason: "cannot be written: " + reason}
	}
}

func (e *encoder) incident(p path, in *accordv1.Incident) {
	if in == nil {
		e.fail(p, "must not be null")
		return
	}
	e.b = append(e.b, `{"start":`...)
	e.str(p.sub("start"), in.Start)
	e.optStr(p.sub("end"), `,"end":`, in.End)
	e.optEnum(p.sub("precision"), `,"precision":`, int32(in.Precision), precisionNames)
	e.b = append(e.b, `,"place":`...)
	e.str(p.sub("place"), in.Place)
	e.optStr(p.sub("region"), `,"region":`, in.Region)
	if in.Lat != nil {
		e.b = append(e.b, `,"lat":`...)
		e.float(p.sub("lat"), *in.Lat)
	}
	if in.Lon != nil {
		e.b = append(e.b, `,"lon":`...)
		e.float(p.sub("lon"), *in.Lon)
	}
	if in.LocationPrecisionM != nil {
		e.b = append(e.b, `,"location_precision_m":`...)
		e.b = strconv.AppendInt(e.b, *in.LocationPrecisionM, 10)
	}
	e.b = append(e.b, '}')
}

func (e *encoder) float(p path, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		e.fail(p, "must be a finite number")
		e.b = append(e.b, '0')
		return
	}
	e.b = strconv.AppendFloat(e.b, v, 'f', -1, 64)
}

// enum writes the name of v; def is written for 0 (unspecified).
func (e *encoder) enum(p path, v int32, names []string, def int32) {
	if v == 0 {
		v = def
	}
	if v <= 0 || int(v) >= len(names) {
		e.fail(p, "enum value "+strconv.Itoa(int(v))+" has no name in the format")
		e.b = append(e.b, `""`...)
		return
	}
	e.b = append(e.b, '"')
	e.b = append(e.b, names[v]...)
	e.b = append(e.b, '"')
}

// optEnum writes key and the name of v unless v is 0 (unspecified), and
// returns the separator for the next member of the object.
func (e *encoder) optEnum(p path, key string, v int32, names []string) string {
	if v == 0 {
		if key[0] == ',' {
			return ","
		}
		return ""
	}
	e.b = append(e.b, key...)
	e.enum(p, v, names, 0)
	return ","
}

func (e *encoder) optStr(p path, key, s string) {
	if s == "" {
		return
	}
	e.b = append(e.b, key...)
	e.str(p, s)
}

const hexDigits = "0123456789abcdef"

// str writes s as a JSON string, escaping only what JSON requires (and
// U+2028, U+2029, which some JavaScript parsers take as line ends).
func (e *encoder) str(p path, s string) {
	b := append(e.b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			e.fail(p, "must be valid UTF-8")
			i++
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			start = i + size
		}
		i += size
	}
	b = append(b, s[start:]...)
	e.b = append(b, '"')
}
