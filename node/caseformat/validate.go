package caseformat

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/safetext"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"

	"github.com/accordfed/accord/federation/records"
)

// Limits of the format, and those this package adds to protect offices.
const (
	maxIDLen          = 64   // case_id, FORMAT.md
	maxEvidenceIDLen  = 128  // evidence id
	maxTitleLen       = 500  // title, FORMAT.md (characters)
	maxPlaceLen       = 200  // incident place (characters)
	maxDescriptionLen = 2000 // evidence description (characters)
	minIncidents      = 1    // FORMAT.md
	maxIncidents      = records.MaxIncidents
	minBirthYear      = 1900
	maxMediaNameLen   = 127 // each half of a media type, RFC 6838
)

// Crime codes. A Rome Statute reference is "RS-" and an article path: the
// article (1-999, optionally "bis" or "ter", as in 8bis), then up to five
// dot-separated parts, each a paragraph number (1-999), a single lower-case
// letter, or a lower-case roman numeral up to xxxix:
//
//	RS-8.2.b.i  RS-8.2.b.xxii  RS-7.1.a  RS-25.3.a  RS-8bis
//
// A national reference is a member code (2-16 upper-case letters or digits
// starting with a letter), "-CC-" and the article as the national code
// numbers it: 1-4 digits with up to three lower-case letters, then up to six
// parts of 1-6 lower-case letters or digits, each after a '.' or a '-':
//
//	UA-CC-438  UA-CC-111-1  PL-CC-123.1  DE-CC-8.1.3  FR-CC-461-1
var (
	romeStatuteRE  = regexp.MustCompile(`^RS-[1-9][0-9]{0,2}(?:bis|ter)?(?:\.(?:[1-9][0-9]{0,2}|[a-z]|x{0,3}(?:ix|iv|vi{0,3}|i{1,3})|x{1,3})){0,5}$`)
	nationalCodeRE = regexp.MustCompile(`^[A-Z][A-Z0-9]{1,15}-CC-[0-9]{1,4}[a-z]{0,3}(?:[.-][0-9a-z]{1,6}){0,6}$`)
)

// now is the clock that gives the latest birth year accepted (the current
// year); tests replace it.
var now = time.Now

func birthYearReason(maxYear int) string {
	return "must be a year from " + strconv.Itoa(minBirthYear) + " to " + strconv.Itoa(maxYear)
}

// Validate checks a case that did not come from a line (the local API) with
// the rules Parse applies, reporting the same field paths. Status and
// sensitivity may be unspecified: they then take their defaults. Fields that
// the node sets (version, times, update_by) are not checked.
func Validate(c *accordv1.Case, member string) []FieldError {
	el := &errList{}
	if err := identity.ValidateMember(member); err != nil {
		el.addField("", "the node's member code "+shown(member)+" is not valid")
		return el.finish("")
	}
	if c == nil {
		el.addField("", "the case is missing")
		return el.finish("")
	}
	checkCase(c, member, el, true)
	return el.finish(c.CaseId)
}

// checker applies the format's rules to a case. api is set for cases that
// did not come from a line: their strings may not be valid UTF-8 and their
// enums may hold numbers the format has no names for.
type checker struct {
	errs *errList
	api  bool
}

func checkCase(c *accordv1.Case, member string, el *errList, api bool) {
	k := checker{errs: el, api: api}

	p := top("case_id")
	switch id := c.CaseId; {
	case id == "":
		k.errs.check(p, "is required")
	case !k.text(p, id):
	case len(id) > maxIDLen:
		k.errs.check(p, "must be at most "+strconv.Itoa(maxIDLen)+" characters (got "+strconv.Itoa(len(id))+")")
	case !validIDChars(id):
		k.errs.check(p, "may contain only A-Z, a-z, 0-9, '-', '_', '.' and '/'"+got(p, id))
	case len(id) <= len(member)+1 || id[:len(member)] != member || id[len(member)] != '-':
		k.errs.check(p, "must start with the member code and a dash, "+strconv.Quote(member+"-")+", followed by the office's own number"+got(p, id))
	}

	p = top("country")
	switch co := c.Country; {
	case co == "":
		k.errs.check(p, "is required")
	case !k.text(p, co):
	case identity.ValidateMember(co) != nil:
		k.errs.check(p, "must be a member code: 2-16 upper-case letters or digits starting with a letter, such as UA or ICC"+got(p, co))
	case co != member:
		k.errs.check(p, "case belongs to "+co+" but this node is "+member)
	}

	p = top("title")
	if k.text(p, c.Title) {
		k.maxLen(p, c.Title, maxTitleLen)
	}
	k.date(top("opened"), c.Opened)
	k.enum(top("status"), int32(c.Status), statusNames, true)
	k.enum(top("sensitivity"), int32(c.Sensitivity), sensitivityNames, true)

	// firstCode is each code's first index: repeats are found in one pass
	// (a 1 MiB line holds 150,000 codes; comparing each with those before
	// it took tens of seconds).
	firstCode := make(map[string]int, len(c.CrimeCodes))
	for i, code := range c.CrimeCodes {
		p := elem("crime_codes", i)
		switch {
		case code == "":
			k.errs.check(p, "must not be empty")
		case !k.text(p, code):
		case strings.HasPrefix(code, "RS-"):
			if !romeStatuteRE.MatchString(code) {
				k.errs.check(p, "must be a Rome Statute reference such as RS-8.2.b.i (the article, then paragraph numbers, lower-case letters and roman numerals, separated by dots)"+got(p, code))
			}
		case !nationalCodeRE.MatchString(code):
			k.errs.check(p, "must be RS-<article path> (RS-8.2.b.i) or <member code>-CC-<article> (UA-CC-438)"+got(p, code))
		}
		if j, ok := firstCode[code]; !ok {
			firstCode[code] = i
		} else if code != "" {
			k.errs.check(p, "repeats crime_codes["+strconv.Itoa(j)+"]")
		}
	}

	switch n := len(c.Incidents); {
	case n < minIncidents:
		k.errs.check(top("incidents"), "at least one incident is required")
	case n > maxIncidents:
		k.errs.check(top("incidents"), "at most "+strconv.Itoa(maxIncidents)+" incidents are allowed (got "+strconv.Itoa(n)+")")
	}
	for i, in := range c.Incidents {
		if k.errs.full() {
			break
		}
		k.incident(elem("incidents", i), in)
	}

	for i, pe := range c.Perpetrators {
		if k.errs.full() {
			break
		}
		p := elem("perpetrators", i)
		if pe == nil {
			k.errs.check(p, "must not be null")
			continue
		}
		k.enum(p.sub("kind"), int32(pe.Kind), kindNames, false)
		k.name(p.sub("name"), pe.Name)
	}

	for i, pe := range c.Persons {
		if k.errs.full() {
			break
		}
		p := elem("persons", i)
		if pe == nil {
			k.errs.check(p, "must not be null")
			continue
		}
		k.enum(p.sub("role"), int32(pe.Role), roleNames, false)
		k.name(p.sub("name"), pe.Name)
		if pe.BirthYear != nil && (*pe.BirthYear < minBirthYear || int(*pe.BirthYear) > k.errs.maxYear()) {
			k.errs.check(p.sub("birth_year"), birthYearReason(k.errs.maxYear()))
		}
	}

	if c.VictimCount != nil && *c.VictimCount < 0 {
		k.errs.check(top("victim_count"), "must be 0 or more (got "+strconv.FormatInt(*c.VictimCount, 10)+")")
	}

	firstID := make(map[string]int, len(c.Evidence)) // each id's first index
	for i, ev := range c.Evidence {
		if k.errs.full() {
			break
		}
		k.evidence(elem("evidence", i), ev, firstID)
		if _, ok := firstID[ev.GetId()]; !ok && ev != nil {
			firstID[ev.GetId()] = i
		}
	}
}

func (k *checker) incident(p path, in *accordv1.Incident) {
	if in == nil {
		k.errs.check(p, "must not be null")
		return
	}
	start, startOK := k.time(p.sub("start"), in.Start, true)
	end, endOK := k.time(p.sub("end"), in.End, false)
	if startOK && endOK && in.End != "" && end.Before(start) {
		k.errs.check(p.sub("end"), "must not be before start ("+in.Start+")"+got(p, in.End))
	}
	k.enum(p.sub("precision"), int32(in.Precision), precisionNames, true)

	pp := p.sub("place")
	switch {
	case !k.text(pp, in.Place):
	case strings.TrimSpace(in.Place) == "":
		k.errs.check(pp, "is required")
	default:
		k.maxLen(pp, in.Place, maxPlaceLen)
	}
	k.text(p.sub("region"), in.Region)

	switch {
	case in.Lat != nil && in.Lon == nil:
		k.errs.check(p.sub("lon"), "is required when lat is given (give both or neither)")
	case in.Lat == nil && in.Lon != nil:
		k.errs.check(p.sub("lat"), "is required when lon is given (give both or neither)")
	}
	if in.Lat != nil {
		k.degrees(p.sub("lat"), *in.Lat, 90)
	}
	if in.Lon != nil {
		k.degrees(p.sub("lon"), *in.Lon, 180)
	}
	if in.LocationPrecisionM != nil && *in.LocationPrecisionM < 0 {
		k.errs.check(p.sub("location_precision_m"), "must be 0 or more (got "+strconv.FormatInt(*in.LocationPrecisionM, 10)+")")
	}
}

// evidence checks one evidence reference; firstID holds the index of the
// first reference before it with each id.
func (k *checker) evidence(p path, ev *accordv1.EvidenceRef, firstID map[string]int) {
	if ev == nil {
		k.errs.check(p, "must not be null")
		return
	}
	ip := p.sub("id")
	switch id := ev.Id; {
	case id == "":
		k.errs.check(ip, "is required")
	case !k.text(ip, id):
	case len(id) > maxEvidenceIDLen:
		k.errs.check(ip, "must be at most "+strconv.Itoa(maxEvidenceIDLen)+" characters (got "+strconv.Itoa(len(id))+")")
	case !validIDChars(id):
		k.errs.check(ip, "may contain only A-Z, a-z, 0-9, '-', '_', '.' and '/'"+got(ip, id))
	default:
		if j, ok := firstID[id]; ok {
			k.errs.check(ip, "repeats the id of evidence["+strconv.Itoa(j)+"]"+got(ip, id))
		}
	}

	sp := p.sub("sha256")
	switch h := ev.Sha256; {
	case h == "":
		k.errs.check(sp, "is required")
	case !k.text(sp, h):
	case !validSHA256(h):
		k.errs.check(sp, "must be 64 lower-case hex digits"+got(sp, h))
	}

	mp := p.sub("media_type")
	if ev.MediaType != "" && k.text(mp, ev.MediaType) && !validMediaType(ev.MediaType) {
		k.errs.check(mp, "must be a media type such as video/mp4 (type/subtype, without parameters)"+got(mp, ev.MediaType))
	}
	k.date(p.sub("collected"), ev.Collected)
	if dp := p.sub("description"); k.text(dp, ev.Description) {
		k.maxLen(dp, ev.Description, maxDescriptionLen)
	}
}

// text checks that s is valid UTF-8 (cases from a line always are) and
// holds no control character but tab and line feed, and no bidirectional
// formatting character (federation/safetext): such text would reach other
// members' terminals as escape sequences.
func (k *checker) text(p path, s string) bool {
	if k.api && !utf8.ValidString(s) {
		k.errs.check(p, "must be valid UTF-8")
		return false
	}
	if err := safetext.Check(s, true); err != nil {
		k.errs.check(p, "has a "+err.Error())
		return false
	}
	return true
}

func (k *checker) maxLen(p path, s string, maxChars int) {
	if len(s) <= maxChars {
		return
	}
	if n := utf8.RuneCountInString(s); n > maxChars {
		k.errs.check(p, "must be at most "+strconv.Itoa(maxChars)+" characters (got "+strconv.Itoa(n)+")")
	}
}

// name checks a perpetrator's or person's name. The reason never contains
// the name.
func (k *checker) name(p path, s string) {
	if !k.text(p, s) {
		return
	}
	if strings.TrimSpace(s) == "" {
		k.errs.check(p, "is required")
	}
}

// enum checks an enum's number. optional says whether 0 (unspecified) is
// allowed.
func (k *checker) enum(p path, v int32, names []string, optional bool) {
	switch {
	case v == 0 && !optional:
		k.errs.check(p, "is required: one of "+strings.Join(names[1:], ", "))
	case v < 0 || int(v) >= len(names):
		k.errs.check(p, "has no name in the format (enum value "+strconv.Itoa(int(v))+"); must be one of "+strings.Join(names[1:], ", "))
	}
}

func (k *checker) date(p path, s string) {
	if s == "" || !k.text(p, s) {
		return
	}
	if !validDate(s) {
		k.errs.check(p, "must be a real date written YYYY-MM-DD"+got(p, s))
	}
}

// time checks an RFC 3339 time with an offset.
func (k *checker) time(p path, s string, required bool) (time.Time, bool) {
	if s == "" {
		if required {
			k.errs.check(p, "is required")
		}
		return time.Time{}, false
	}
	if !k.text(p, s) {
		return time.Time{}, false
	}
	t, reason := parseTime(s)
	if reason != "" {
		k.errs.check(p, reason+got(p, s))
		return time.Time{}, false
	}
	return t, true
}

func (k *checker) degrees(p path, v, limit float64) {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		k.errs.check(p, "must be a finite number")
	case v < -limit || v > limit:
		l := strconv.FormatFloat(limit, 'f', -1, 64)
		k.errs.check(p, "must be between -"+l+" and "+l+" (got "+strconv.FormatFloat(v, 'f', -1, 64)+")")
	}
}

// validIDChars reports whether s has only the characters of case and
// evidence ids: A-Z a-z 0-9 - _ . /
func validIDChars(s string) bool {
	ok := true
	for i := 0; i < len(s); i++ {
		ok = ok && idChars[s[i]]
	}
	return ok
}

// idChars marks the characters of case and evidence ids.
var idChars = func() (t [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./" {
		t[c] = true
	}
	return t
}()

// lowerHex marks 0-9 and a-f.
var lowerHex = func() (t [256]bool) {
	for _, c := range "0123456789abcdef" {
		t[c] = true
	}
	return t
}()

func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	ok := true
	for i := 0; i < len(s); i++ {
		ok = ok && lowerHex[s[i]]
	}
	return ok
}

// validMediaType reports whether s has the shape of RFC 6838 section 4.2:
// type "/" subtype, each a restricted-name (a letter or digit, then up to
// 126 letters, digits and ! # $ & - ^ _ . +). Parameters are not allowed.
func validMediaType(s string) bool {
	slash := strings.IndexByte(s, '/')
	return slash > 0 && restrictedName(s[:slash]) && restrictedName(s[slash+1:])
}

func restrictedName(s string) bool {
	if len(s) == 0 || len(s) > maxMediaNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if i == 0 && !alnum {
			return false
		}
		if !alnum && strings.IndexByte("!#$&-^_.+", c) < 0 {
			return false
		}
	}
	return true
}

// validDate reports whether s is a real date written YYYY-MM-DD.
func validDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	return ok1 && ok2 && ok3 && m >= 1 && m <= 12 && d >= 1 && d <= daysIn(m, y)
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// parseTime parses an RFC 3339 time that has an offset (Z or ±hh:mm),
// "2022-06-30T14:05:00+03:00", with optional fractional seconds. It returns
// a reason when s is not one.
func parseTime(s string) (time.Time, string) {
	const want = "must be an RFC 3339 time with an offset, like 2022-06-30T14:00:00+03:00"
	// The shape first, byte by byte: time.Parse alone would not say which
	// part is wrong, and an absent offset deserves its own reason. Then
	// time.Parse checks the ranges (month 13, hour 25, offset +25:00).
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, want
	}
	for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, want
		}
	}
	rest := s[19:]
	if rest != "" && rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 1 {
			return time.Time{}, want
		}
		rest = rest[n:]
	}
	switch {
	case rest == "":
		return time.Time{}, "has no offset; " + want
	case rest == "Z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
	default:
		return time.Time{}, want
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, want + " (with a real date and time)"
	}
	return t, ""
}
