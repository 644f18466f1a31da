package casegen

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/node/caseformat"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Years is how many years the incidents span: StartYear and the two after.
const Years = 3

// maxPerYear is how many case ids a year has: <MEMBER>-<year>-<6 digits>.
const maxPerYear = 999999

// ErrOptions is returned by Generate and WriteJSONL for invalid Options.
var ErrOptions = errors.New("casegen: invalid options")

// Options say what to generate.
type Options struct {
	// Member is the office's member code (UA, PL, ICC): the cases' country
	// and the prefix of their ids.
	Member string
	// Cases is how many cases to generate, at most Years × 999,999.
	Cases int
	// Seed selects the cases: the same Options give the same cases, and
	// different members given the same seed get unrelated cases.
	Seed uint64
	// StartYear is the first year of the incidents (default 2022), from
	// 1910 to the current year; case ids carry the year of their first
	// incident.
	StartYear int
}

// Validate checks the options, after StartYear's default.
func (o Options) Validate() error {
	if err := identity.ValidateMember(o.Member); err != nil {
		return fmt.Errorf("%w: %w", ErrOptions, err)
	}
	if o.Cases < 0 || o.Cases > Years*maxPerYear {
		return fmt.Errorf("%w: cases %d: must be from 0 to %d", ErrOptions, o.Cases, Years*maxPerYear)
	}
	// Persons are born at least two years before the first incidents, and
	// the format refuses birth years after the current one.
	if thisYear := time.Now().Year(); o.StartYear < 1910 || o.StartYear > thisYear {
		return fmt.Errorf("%w: start year %d: must be from 1910 to %d", ErrOptions, o.StartYear, thisYear)
	}
	return nil
}

func (o *Options) setDefaults() {
	if o.StartYear == 0 {
		o.StartYear = 2022
	}
}

// Generate calls fn with each of opts.Cases cases, in order, and stops at
// the first error fn returns, returning it. Memory does not grow with the
// number of cases; fn may keep the cases it is given.
func Generate(opts Options, fn func(*accordv1.Case) error) error {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return err
	}
	g := newGenerator(opts)
	for range opts.Cases {
		if err := fn(g.next()); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSONL writes opts.Cases cases to w as lines of the case interchange
// format, each ending with a line feed.
func WriteJSONL(w io.Writer, opts Options) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	line := make([]byte, 0, 4096)
	err := Generate(opts, func(c *accordv1.Case) error {
		var err error
		if line, err = caseformat.Append(line[:0], c); err != nil {
			return fmt.Errorf("casegen: %s: %w", c.CaseId, err)
		}
		line = append(line, '\n')
		_, err = bw.Write(line)
		return err
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// The weights of the generated distributions, from the dev dataset.
var (
	statusWeights      = []float64{0, 80, 10, 7, 3}  // by CaseStatus
	sensitivityWeights = []float64{0, 94, 4, 2}      // by Sensitivity
	precisionWeights   = []float64{0, 0, 50, 40, 10} // by TimePrecision: hour, day, week
	personsWeights     = []float64{19.5, 26, 15.6, 12, 8.4, 4.7, 2.6, 0.5, 0.3, 0.2, 0.2}
	evidenceWeights    = []float64{4, 10, 16, 17, 19, 15, 10, 5, 2.5, 1, 0.3, 0.2}
	perpetratorWeights = []float64{30, 66, 4}
	roleWeights        = []float64{0, 85, 12, 3} // by PersonRole
)

// generator holds the state of one Generate: the random source and the last
// number given to a case of each year.
type generator struct {
	opts    Options
	rng     *rand.Rand
	counter [Years]int

	regionPick, placePick, crimePick             *picker
	status, sensitivity, precision, persons      *picker
	evidence, perpetrators, role, yearPick, kind *picker
	placesByRegion                               [][]int
	dst                                          map[int][2]time.Time
}

func newGenerator(opts Options) *generator {
	g := &generator{
		opts: opts,
		rng:  rand.New(rand.NewPCG(opts.Seed, memberHash(opts.Member))),
		dst:  map[int][2]time.Time{},
	}
	rw := make([]float64, len(regions))
	for i, r := range regions {
		rw[i] = r.weight
	}
	g.regionPick = newPicker(rw)
	g.placesByRegion = make([][]int, len(regions))
	pw := make([]float64, len(places))
	for i, p := range places {
		g.placesByRegion[p.region] = append(g.placesByRegion[p.region], i)
	}
	// A place's weight: its region's weight, shared among the region's
	// places by their shares.
	for r, idx := range g.placesByRegion {
		var total float64
		for _, i := range idx {
			total += places[i].share
		}
		for _, i := range idx {
			pw[i] = regions[r].weight * places[i].share / total
		}
	}
	g.placePick = newPicker(pw)
	cw := make([]float64, len(crimeTypes))
	for i, c := range crimeTypes {
		cw[i] = c.weight
	}
	g.crimePick = newPicker(cw)
	g.status = newPicker(statusWeights)
	g.sensitivity = newPicker(sensitivityWeights)
	g.precision = newPicker(precisionWeights)
	g.persons = newPicker(personsWeights)
	g.evidence = newPicker(evidenceWeights)
	g.perpetrators = newPicker(perpetratorWeights)
	g.role = newPicker(roleWeights)
	g.yearPick = newPicker([]float64{31, 35.5, 33.5})
	g.kind = newPicker([]float64{0, 90, 4, 6}) // by PerpetratorKind
	return g
}

// memberHash is the FNV-1a hash of a member code: with the seed, it selects
// the random stream, so that members given the same seed get unrelated cases
// (not the same incidents and evidence hashes under different ids).
func memberHash(member string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(member); i++ {
		h ^= uint64(member[i])
		h *= 1099511628211
	}
	return h
}

// picker picks an index with probability proportional to its weight.
type picker struct{ cum []float64 }

func newPicker(w []float64) *picker {
	p := &picker{cum: make([]float64, len(w))}
	var sum float64
	for i, x := range w {
		sum += x
		p.cum[i] = sum
	}
	for i := range p.cum {
		p.cum[i] /= sum
	}
	return p
}

func (p *picker) pick(rng *rand.Rand) int {
	x := rng.Float64()
	lo, hi := 0, len(p.cum)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if p.cum[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

func (g *generator) chance(p float64) bool { return g.rng.Float64() < p }

func (g *generator) next() *accordv1.Case {
	rng := g.rng
	member := g.opts.Member

	// The case id carries the year of the first incident; when a year's
	// numbers are used up, the case moves to a year that has some left.
	y := g.yearPick.pick(rng)
	for g.counter[y] >= maxPerYear {
		y = (y + 1) % Years
	}
	g.counter[y]++
	year := g.opts.StartYear + y
	caseID := member + "-" + strconv.Itoa(year) + "-" + pad(g.counter[y], 6)

	daysInYear := 365
	if time.Date(year, 12, 31, 0, 0, 0, 0, time.UTC).YearDay() == 366 {
		daysInYear = 366
	}
	day := time.Date(year, 1, 1+rng.IntN(daysInYear), 0, 0, 0, 0, time.UTC)
	ct := crimeTypes[g.crimePick.pick(rng)]
	pl := g.placePick.pick(rng)

	c := &accordv1.Case{
		CaseId:      caseID,
		Country:     member,
		Status:      accordv1.CaseStatus(g.status.pick(rng)),
		Sensitivity: accordv1.Sensitivity(g.sensitivity.pick(rng)),
		Opened:      date(day.AddDate(0, 0, rng.IntN(127))),
	}

	c.Incidents = append(c.Incidents, g.incident(day, pl))
	if g.chance(0.07) {
		// A second incident of the same case: nearby, within two months.
		pl2 := pl
		if others := g.placesByRegion[places[pl].region]; g.chance(0.6) {
			pl2 = others[rng.IntN(len(others))]
		}
		c.Incidents = append(c.Incidents, g.incident(day.AddDate(0, 0, rng.IntN(121)-60), pl2))
	}
	c.Title = g.title(ct, c.Incidents[0].Place, day)
	c.CrimeCodes = g.crimeCodes(ct)

	np := g.perpetrators.pick(rng)
	for range np {
		c.Perpetrators = append(c.Perpetrators, g.perpetrator(places[pl].region))
	}

	victims := 0
	for range g.persons.pick(rng) {
		p := g.person()
		if p.Role == accordv1.PersonRole_PERSON_ROLE_VICTIM {
			victims++
		}
		c.Persons = append(c.Persons, p)
	}
	c.VictimCount = proto.Int64(int64(max(victims, g.victimCount())))

	for i := range g.evidence.pick(rng) {
		mt := mediaTypes[rng.IntN(len(mediaTypes))]
		ev := &accordv1.EvidenceRef{
			Id:        caseID + "-E" + pad(i+1, 3),
			Sha256:    g.sha256(),
			MediaType: mt.typ,
			Collected: date(day.AddDate(0, 0, rng.IntN(207))),
		}
		if g.chance(0.15) {
			ev.Description = mt.descriptions[rng.IntN(len(mt.descriptions))]
		}
		c.Evidence = append(c.Evidence, ev)
	}
	return c
}

// incident returns an incident on day at place pl, its window of an hour, a
// day or a week in Kyiv's local time.
func (g *generator) incident(day time.Time, pl int) *accordv1.Incident {
	rng := g.rng
	p := places[pl]
	in := &accordv1.Incident{
		Precision: accordv1.TimePrecision(g.precision.pick(rng)),
		Place:     g.placeName(p),
		Region:    regions[p.region].name,
	}
	start, end := day, day.AddDate(0, 0, 7)
	switch in.Precision {
	case accordv1.TimePrecision_TIME_PRECISION_HOUR:
		start = day.Add(time.Duration(rng.IntN(24)) * time.Hour)
		end = start.Add(time.Hour)
	case accordv1.TimePrecision_TIME_PRECISION_DAY:
		end = day.AddDate(0, 0, 1)
	}
	in.Start = g.kyivTime(start)
	in.End = g.kyivTime(end)
	if g.chance(0.75) {
		// The point lies within about the radius of uncertainty of the
		// settlement's centre.
		radius := 10 + int64(rng.ExpFloat64()*420)
		if radius > 5000 {
			radius = 5000
		}
		d := float64(radius) * rng.NormFloat64() / 2 / 111320
		bearing := rng.Float64() * 2 * math.Pi
		lat := p.lat + d*math.Cos(bearing)
		lon := p.lon + d*math.Sin(bearing)/math.Cos(p.lat*math.Pi/180)
		in.Lat = proto.Float64(math.Round(lat*1e5) / 1e5)
		in.Lon = proto.Float64(math.Round(lon*1e5) / 1e5)
		in.LocationPrecisionM = proto.Int64(radius)
	}
	return in
}

// placeName writes a place as the office would: UA offices sometimes in
// Cyrillic, foreign offices sometimes in an older romanisation.
func (g *generator) placeName(p place) string {
	switch {
	case g.opts.Member == "UA" && g.chance(0.08):
		return p.cyrillic
	case g.opts.Member != "UA" && p.alt != "" && g.chance(0.25):
		return p.alt
	}
	return p.name
}

func (g *generator) title(ct crimeType, placeName string, day time.Time) string {
	t, in := ct.title, " in "
	if local, ok := ct.local[g.opts.Member]; ok && g.chance(0.6) {
		t, in = local, titleIn[g.opts.Member]
	}
	return t + in + placeName + ", " + date(day)
}

// crimeCodes: a UA case always cites article 438 of the Criminal Code
// (violations of the laws and customs of war) and about half of them a Rome
// Statute article as well; other members cite the Rome Statute.
func (g *generator) crimeCodes(ct crimeType) []string {
	rng := g.rng
	var codes []string
	n := 1
	if g.chance(0.05) {
		n = 2
	}
	if g.opts.Member == "UA" {
		n = 0
		switch x := rng.Float64(); {
		case x < 0.02:
			n = 2
		case x < 0.53:
			n = 1
		}
	}
	first := rng.IntN(len(ct.codes))
	for i := range min(n, len(ct.codes)) {
		codes = append(codes, ct.codes[(first+i)%len(ct.codes)])
	}
	if g.opts.Member == "UA" {
		codes = append(codes, "UA-CC-438")
	}
	return codes
}

func (g *generator) perpetrator(regionIdx int) *accordv1.Perpetrator {
	rng := g.rng
	u := units[rng.IntN(len(units))]
	ut := unitTypes[u.typ]
	p := &accordv1.Perpetrator{Kind: accordv1.PerpetratorKind(g.kind.pick(rng))}
	switch p.Kind {
	case accordv1.PerpetratorKind_PERPETRATOR_KIND_UNIT:
		// The same unit, written in one of the forms offices use.
		switch rng.IntN(3) {
		case 0:
			p.Name = ordinal(u.number) + " " + ut.name
		case 1:
			p.Name = strconv.Itoa(u.number) + " " + ut.abbr
		default:
			p.Name = "military unit " + strconv.Itoa(u.post)
		}
	case accordv1.PerpetratorKind_PERPETRATOR_KIND_PERSON:
		if g.chance(0.5) {
			p.Name = "commander of the " + ordinal(u.number) + " " + ut.name
		} else {
			p.Name = "unidentified serviceman, call sign \"" + callSigns[rng.IntN(len(callSigns))] + "\""
		}
	default:
		p.Name = strings.Replace(organisations[rng.IntN(len(organisations))], "%s", regions[regionIdx].name, 1)
	}
	return p
}

func (g *generator) person() *accordv1.Person {
	rng := g.rng
	p := &accordv1.Person{Role: accordv1.PersonRole(g.role.pick(rng))}
	female := rng.IntN(2) == 0
	cyr := g.opts.Member == "UA" && g.chance(0.08)
	var first, last name
	if female {
		first = femaleFirst[rng.IntN(len(femaleFirst))]
	} else {
		first = maleFirst[rng.IntN(len(maleFirst))]
	}
	if i := rng.IntN(len(surnames) + len(adjSurnames)); i < len(surnames) {
		last = surnames[i]
	} else if female {
		last = adjSurnames[i-len(surnames)][1]
	} else {
		last = adjSurnames[i-len(surnames)][0]
	}
	if cyr {
		p.Name = first.cyrillic + " " + last.cyrillic
	} else {
		p.Name = first.latin + " " + last.latin
	}
	if g.chance(0.6) {
		lo, hi := max(1900, g.opts.StartYear-92), g.opts.StartYear-2
		p.BirthYear = proto.Int32(int32(lo + rng.IntN(hi-lo+1)))
	}
	return p
}

// victimCount draws a number of victims: mostly a few, sometimes dozens or
// hundreds.
func (g *generator) victimCount() int {
	rng := g.rng
	switch x := rng.Float64(); {
	case x < 0.03:
		return 0
	case x < 0.33:
		return 1 + rng.IntN(2)
	case x < 0.68:
		return 3 + rng.IntN(4)
	case x < 0.88:
		return 7 + rng.IntN(14)
	case x < 0.98:
		return 21 + rng.IntN(80)
	default:
		return 101 + rng.IntN(400)
	}
}

func (g *generator) sha256() string {
	const hexDigits = "0123456789abcdef"
	var b [64]byte
	for i := 0; i < 64; i += 16 {
		v := g.rng.Uint64()
		for j := range 16 {
			b[i+j] = hexDigits[v&0xF]
			v >>= 4
		}
	}
	return string(b[:])
}

// kyivTime writes a wall-clock time of Kyiv (given in UTC fields) in RFC
// 3339 with Kyiv's offset then: +03:00 in summer time (from the last Sunday
// of March to the last Sunday of October, changing at 01:00 UTC), +02:00
// otherwise.
func (g *generator) kyivTime(wall time.Time) string {
	offset := "+02:00"
	utc := wall.Add(-2 * time.Hour)
	b, ok := g.dst[utc.Year()]
	if !ok {
		b = [2]time.Time{lastSunday(utc.Year(), time.March), lastSunday(utc.Year(), time.October)}
		g.dst[utc.Year()] = b
	}
	if !utc.Before(b[0]) && utc.Before(b[1]) {
		offset = "+03:00"
	}
	return wall.Format("2006-01-02T15:04:05") + offset
}

// lastSunday returns 01:00 UTC on the last Sunday of month m of year y.
func lastSunday(y int, m time.Month) time.Time {
	t := time.Date(y, m+1, 0, 1, 0, 0, 0, time.UTC) // the month's last day
	return t.AddDate(0, 0, -int(t.Weekday()))
}

func date(t time.Time) string { return t.Format("2006-01-02") }

// pad writes n with leading zeros to width digits.
func pad(n, width int) string {
	s := strconv.Itoa(n)
	if len(s) >= width {
		return s
	}
	return strings.Repeat("0", width-len(s)) + s
}

// ordinal writes 1st, 2nd, 3rd, 4th, 11th, 21st...
func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}
