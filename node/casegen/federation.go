package casegen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/identity"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// FederationOptions say what GenerateFederation generates.
type FederationOptions struct {
	// Members are the offices (member codes, each once, at least one).
	Members []string
	// Incidents is how many distinct incidents happen, at most 2,000,000.
	Incidents int
	// Seed selects the incidents and cases: the same options give the
	// same cases and truth, byte for byte.
	Seed uint64
	// SharedFraction is the share of incidents that two or three members
	// investigate (default 0.35; negative: none). With one member it has
	// no effect.
	SharedFraction float64
	// StartYear is the first year of the incidents (default 2022), which
	// span Years years.
	StartYear int
}

// DefaultSharedFraction is FederationOptions.SharedFraction's default.
const DefaultSharedFraction = 0.35

// MaxFederationIncidents bounds FederationOptions.Incidents.
const MaxFederationIncidents = 2000000

func (o *FederationOptions) setDefaults() {
	if o.StartYear == 0 {
		o.StartYear = 2022
	}
	if o.SharedFraction == 0 {
		o.SharedFraction = DefaultSharedFraction
	}
	if o.SharedFraction < 0 {
		o.SharedFraction = 0
	}
}

// Validate checks the options, after the defaults.
func (o FederationOptions) Validate() error {
	o.setDefaults()
	if len(o.Members) == 0 {
		return fmt.Errorf("%w: no members", ErrOptions)
	}
	seen := map[string]bool{}
	for _, m := range o.Members {
		if err := identity.ValidateMember(m); err != nil {
			return fmt.Errorf("%w: %w", ErrOptions, err)
		}
		if seen[m] {
			return fmt.Errorf("%w: member %s twice", ErrOptions, m)
		}
		seen[m] = true
	}
	if o.Incidents < 0 || o.Incidents > MaxFederationIncidents {
		return fmt.Errorf("%w: incidents %d: must be from 0 to %d", ErrOptions, o.Incidents, MaxFederationIncidents)
	}
	if o.SharedFraction > 1 || math.IsNaN(o.SharedFraction) {
		return fmt.Errorf("%w: shared fraction %v: must be at most 1", ErrOptions, o.SharedFraction)
	}
	if thisYear := time.Now().Year(); o.StartYear < 1910 || o.StartYear > thisYear {
		return fmt.Errorf("%w: start year %d: must be from 1910 to %d", ErrOptions, o.StartYear, thisYear)
	}
	return nil
}

// GenerateFederation generates the cases of several members' offices about
// opts.Incidents incidents, in the order of the incidents' time, calling fn
// with each case and its member, and truth with each pair of case ids
// (a < b) that concern a common incident, each pair once, after fn has had
// both cases. A share SharedFraction of the incidents is investigated by
// two or three members, some of which open more than one case for it; the
// others by one member, which now and then opens two. Every member writes
// its cases its own way (see style): the title in its language, Ukrainian
// names in its transliteration, UTC or Kyiv time with its precision, its
// own coordinates or none, units in its forms, national or Rome Statute
// codes; cases of one incident share some evidence hashes and persons.
// About one incident in ten happens in the same settlement on the same day
// as the one before it, without being the same incident. It stops at the
// first error of fn or truth and returns it. Memory does not grow with
// the number of incidents.
func GenerateFederation(opts FederationOptions, fn func(member string, c *accordv1.Case) error, truth func(a, b string) error) error {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return err
	}
	return newFedGen(opts).run(fn, truth)
}

// event is an incident as it happened.
type event struct {
	at       time.Time // UTC
	place    int
	lat, lon float64
	crime    int
	units    []int
	persons  []fedPerson
	evidence []string
	victims  int
	members  []string // who investigates it (a member once per case)
	cases    []string // the ids of its cases so far
}

type fedPerson struct {
	first, last name
	female      bool
	role        accordv1.PersonRole
	birth       int
}

// fedGen holds one GenerateFederation's state.
type fedGen struct {
	opts    FederationOptions
	base    *generator // pickers and shared helpers
	rng     *rand.Rand
	styles  map[string]*style
	weights *picker
	counter map[string]*[Years]int
	recent  []*event // the last incidents, oldest first, for second incidents
	prev    *event
	span    time.Duration
	start   time.Time
	// onEvent, when set (tests), is called with each incident after its
	// cases.
	onEvent func(e *event, cases []*accordv1.Case)
}

const recentEvents = 128

func newFedGen(opts FederationOptions) *fedGen {
	h := memberHash("federation")
	for _, m := range opts.Members {
		h = (h ^ memberHash(m)) * 1099511628211
	}
	base := newGenerator(Options{Member: "UA", StartYear: opts.StartYear, Seed: opts.Seed})
	f := &fedGen{
		opts:    opts,
		base:    base,
		rng:     rand.New(rand.NewPCG(opts.Seed, h)),
		styles:  map[string]*style{},
		counter: map[string]*[Years]int{},
		start:   time.Date(opts.StartYear, 1, 1, 0, 0, 0, 0, time.UTC).Add(-2 * time.Hour), // Kyiv midnight
	}
	base.rng = f.rng
	f.span = time.Date(opts.StartYear+Years, 1, 1, 0, 0, 0, 0, time.UTC).Add(-2 * time.Hour).Sub(f.start)
	w := make([]float64, len(opts.Members))
	for i, m := range opts.Members {
		st, ok := styles[m]
		if !ok {
			st = defaultStyle
		}
		st.init()
		f.styles[m] = &st
		f.counter[m] = &[Years]int{}
		w[i] = 1
		if x, ok := memberWeights[m]; ok {
			w[i] = x
		}
	}
	f.weights = newPicker(w)
	return f
}

func (f *fedGen) chance(p float64) bool { return f.rng.Float64() < p }

func (f *fedGen) run(fn func(string, *accordv1.Case) error, truth func(a, b string) error) error {
	n := f.opts.Incidents
	for i := range n {
		e := f.event(i, n)
		cases, links, err := f.casesOf(e)
		if err != nil {
			return err
		}
		for _, c := range cases {
			if err := fn(c.Country, c); err != nil {
				return err
			}
		}
		// Pairs: the cases of this incident among themselves, and a case
		// that also covers an earlier incident with that one's cases.
		ids := make([]string, len(cases))
		for j, c := range cases {
			ids[j] = c.CaseId
		}
		e.cases = ids
		for a := range ids {
			for b := a + 1; b < len(ids); b++ {
				if err := emit(truth, ids[a], ids[b]); err != nil {
					return err
				}
			}
		}
		for j, c := range cases {
			l := links[j]
			if l == nil {
				continue
			}
			for _, x := range l.cases {
				if !slices.Contains(ids, x) {
					if err := emit(truth, c.CaseId, x); err != nil {
						return err
					}
				}
			}
			l.cases = append(l.cases, c.CaseId)
		}
		if f.onEvent != nil {
			f.onEvent(e, cases)
		}
		f.recent = append(f.recent, e)
		if len(f.recent) > recentEvents {
			f.recent = f.recent[1:]
		}
		f.prev = e
	}
	return nil
}

func emit(truth func(a, b string) error, a, b string) error {
	if a > b {
		a, b = b, a
	}
	return truth(a, b)
}

// event draws the i-th of n incidents: its time within the i-th n-th of
// the years, so that incidents come in order of time.
func (f *fedGen) event(i, n int) *event {
	rng := f.rng
	e := &event{}
	if p := f.prev; p != nil && f.chance(0.1) {
		// Another incident in the same settlement on the same day.
		day := kyivMidnight(p.at)
		e.at = day.Add(time.Duration(rng.IntN(24*60)) * time.Minute)
		e.place = p.place
		e.crime = f.base.crimePick.pick(rng)
		if f.chance(0.5) {
			e.crime = p.crime
		}
	} else {
		slot := f.span / time.Duration(n)
		e.at = f.start.Add(slot*time.Duration(i) + time.Duration(rng.Int64N(int64(max(slot, time.Minute))))).Truncate(time.Minute)
		e.place = f.base.placePick.pick(rng)
		e.crime = f.base.crimePick.pick(rng)
	}
	p := places[e.place]
	// The point: within a few kilometres of the settlement's centre.
	d := math.Abs(rng.NormFloat64()) * 1200 / 111320
	bearing := rng.Float64() * 2 * math.Pi
	e.lat = p.lat + d*math.Cos(bearing)
	e.lon = p.lon + d*math.Sin(bearing)/math.Cos(p.lat*math.Pi/180)
	for range f.base.perpetrators.pick(rng) {
		e.units = append(e.units, rng.IntN(len(units)))
	}
	for range f.base.persons.pick(rng) {
		e.persons = append(e.persons, f.person())
	}
	for range 1 + rng.IntN(4) {
		e.evidence = append(e.evidence, f.base.sha256())
	}
	e.victims = max(len(e.persons), f.base.victimCount())

	// Who investigates it.
	var members []string
	if len(f.opts.Members) > 1 && f.chance(f.opts.SharedFraction) {
		k := 2
		if len(f.opts.Members) > 2 && f.chance(0.3) {
			k = 3
		}
		for len(members) < k {
			m := f.opts.Members[f.weights.pick(rng)]
			if !slices.Contains(members, m) {
				members = append(members, m)
			}
		}
		// Some members open several cases for it.
		for _, m := range members[:k] {
			if f.chance(f.styles[m].extraCase) {
				members = append(members, m)
			}
		}
	} else {
		m := f.opts.Members[f.weights.pick(rng)]
		members = append(members, m)
		if f.chance(0.03) {
			members = append(members, m)
		}
	}
	e.members = members
	return e
}

func (f *fedGen) person() fedPerson {
	rng := f.rng
	p := fedPerson{role: accordv1.PersonRole(f.base.role.pick(rng)), female: rng.IntN(2) == 0}
	if p.female {
		p.first = femaleFirst[rng.IntN(len(femaleFirst))]
	} else {
		p.first = maleFirst[rng.IntN(len(maleFirst))]
	}
	if i := rng.IntN(len(surnames) + len(adjSurnames)); i < len(surnames) {
		p.last = surnames[i]
	} else if p.female {
		p.last = adjSurnames[i-len(surnames)][1]
	} else {
		p.last = adjSurnames[i-len(surnames)][0]
	}
	lo, hi := max(1900, f.opts.StartYear-92), f.opts.StartYear-2
	p.birth = lo + rng.IntN(hi-lo+1)
	return p
}

// casesOf writes the cases of e, one per entry of e.members, and for each
// the earlier incident it also covers, if any.
func (f *fedGen) casesOf(e *event) ([]*accordv1.Case, []*event, error) {
	cases := make([]*accordv1.Case, 0, len(e.members))
	links := make([]*event, 0, len(e.members))
	for _, m := range e.members {
		c, l, err := f.newCase(m, e)
		if err != nil {
			return nil, nil, err
		}
		cases = append(cases, c)
		links = append(links, l)
	}
	return cases, links, nil
}

// newCase writes member's case of e, and returns the earlier incident the
// case also covers, if any.
func (f *fedGen) newCase(member string, e *event) (*accordv1.Case, *event, error) {
	rng := f.rng
	st := f.styles[member]
	b := f.base

	// The id carries the year of the incident (Kyiv time).
	y := kyivWall(e.at).Year() - f.opts.StartYear
	y = min(max(y, 0), Years-1)
	cnt := f.counter[member]
	for range Years {
		if cnt[y] < maxPerYear {
			break
		}
		y = (y + 1) % Years
	}
	if cnt[y] >= maxPerYear {
		return nil, nil, fmt.Errorf("%w: %s: more than %d cases", ErrOptions, member, Years*maxPerYear)
	}
	cnt[y]++
	id := member + "-" + strconv.Itoa(f.opts.StartYear+y) + "-" + pad(cnt[y], 6)

	c := &accordv1.Case{
		CaseId:      id,
		Country:     member,
		Status:      accordv1.CaseStatus(b.status.pick(rng)),
		Sensitivity: accordv1.Sensitivity(b.sensitivity.pick(rng)),
		Opened:      date(kyivWall(e.at).AddDate(0, 0, 1+rng.IntN(127))),
	}
	local := f.chance(st.local)
	in := f.incident(st, e, local)
	c.Incidents = append(c.Incidents, in)
	var link *event
	if f.chance(0.07) {
		// A second incident: one of an earlier incident nearby (which
		// links the cases of both), or of its own.
		if j := f.recentNear(e, member); j != nil && f.chance(0.5) {
			in2 := f.incident(st, j, local)
			c.Incidents = append(c.Incidents, in2)
			link = j
		} else {
			other := *e
			other.at = e.at.AddDate(0, 0, rng.IntN(121)-60)
			if others := b.placesByRegion[places[e.place].region]; f.chance(0.6) {
				other.place = others[rng.IntN(len(others))]
				other.lat, other.lon = places[other.place].lat, places[other.place].lon
			}
			c.Incidents = append(c.Incidents, f.incident(st, &other, local))
		}
	}

	crime := e.crime
	if f.chance(0.12) {
		crime = b.crimePick.pick(rng) // classified differently
	}
	ct := crimeTypes[crime]
	crimeName := ct.title
	if st.lang != "en" && !f.chance(st.englishTitle) {
		crimeName = crimeTitles[st.lang][crime]
	}
	wall := in.Start[:10]
	yy, _ := strconv.Atoi(wall[:4])
	mm, _ := strconv.Atoi(wall[5:7])
	dd, _ := strconv.Atoi(wall[8:10])
	lang := st.lang
	if crimeName == ct.title {
		lang = "en"
	}
	c.Title = title(lang, crimeName, in.Place, yy, mm, dd)
	c.CrimeCodes = f.crimeCodes(member, st, crime)

	for _, u := range e.units {
		if f.chance(0.7) {
			c.Perpetrators = append(c.Perpetrators, f.unit(st, u))
		}
	}
	victims := 0
	for _, p := range e.persons {
		if f.chance(0.65) {
			c.Persons = append(c.Persons, f.writePerson(st, p))
			if p.role == accordv1.PersonRole_PERSON_ROLE_VICTIM {
				victims++
			}
		}
	}
	if f.chance(0.15) {
		p := f.person()
		c.Persons = append(c.Persons, f.writePerson(st, p))
	}
	v := e.victims
	switch x := rng.Float64(); {
	case x < 0.15:
		v += rng.IntN(3)
	case x < 0.25:
		v = max(0, v-1-rng.IntN(2))
	}
	c.VictimCount = proto.Int64(int64(max(v, victims)))

	// Evidence: some of the incident's items, and the office's own.
	var hashes []string
	for _, h := range e.evidence {
		if f.chance(0.5) {
			hashes = append(hashes, h)
		}
	}
	for range max(0, b.evidence.pick(rng)-len(hashes)) {
		hashes = append(hashes, b.sha256())
	}
	rng.Shuffle(len(hashes), func(i, j int) { hashes[i], hashes[j] = hashes[j], hashes[i] })
	day := kyivWall(e.at)
	for i, h := range hashes {
		mt := mediaTypes[rng.IntN(len(mediaTypes))]
		ev := &accordv1.EvidenceRef{
			Id:        id + "-E" + pad(i+1, 3),
			Sha256:    h,
			MediaType: mt.typ,
			Collected: date(day.AddDate(0, 0, rng.IntN(207))),
		}
		if f.chance(0.15) {
			ev.Description = mt.descriptions[rng.IntN(len(mt.descriptions))]
		}
		c.Evidence = append(c.Evidence, ev)
	}
	return c, link, nil
}
