package matching

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/accordfed/accord/federation/persontoken"
	"github.com/accordfed/accord/federation/textfold"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Record is what the engine matches: the signals of one case, built from a
// local case ([FromCase], persons' tokens made by a [TokenFunc]) or from a
// peer's shared case ([FromShared], the origin's published tokens). Both
// give the same record for the same case when the same token key is used.
type Record struct {
	// ID is the case id; Member the office that holds it (the id's prefix
	// before the first dash when not given).
	ID     string
	Member string
	Title  string
	// Incidents: at least one for the record to match anything.
	Incidents []Incident
	// Evidence are SHA-256 hashes, hex.
	Evidence []string
	// Persons are person tokens (persontoken). A record may hold several
	// tokens of one person, one per key (a node's own case: its own tokens
	// and those it obtained from each peer); only tokens of the same key
	// (Tokens.Key) are ever compared.
	Persons []persontoken.Tokens
	// Units are perpetrator units and organisations as written.
	Units      []string
	CrimeCodes []string
	// VictimCount is -1 when unknown.
	VictimCount int64
}

// Incident is one incident's time window and place.
type Incident struct {
	// Start and End bound the window (End exclusive, End >= Start).
	Start, End time.Time
	Place      string
	Region     string
	HasCoords  bool
	Lat, Lon   float64
	// RadiusM is the stated uncertainty in metres (0 unknown).
	RadiusM float64
}

// ErrRecord is wrapped by the errors of FromCase, FromShared and Add.
var ErrRecord = errors.New("matching: invalid record")

// ErrBatchDone is returned by a Batch that has already run.
var ErrBatchDone = errors.New("matching: the batch has already run")

// TokenFunc gives a person's tokens; false when the person has none (a
// name that folds to nothing, a birth year out of range). It must be safe
// for concurrent use.
type TokenFunc func(persontoken.Person) (persontoken.Tokens, bool)

// OfflineKeyID is the Tokens.Key of the tokens [OfflineTokens] makes.
const OfflineKeyID = "offline"

// offlineSecret is the secret of the local key (persontoken.LocalKey) of
// every offline run, so that runs are reproducible. It is not a secret of
// any node: offline tokens never leave `accordctl match`, which only
// gives files the same signal (person tokens compared for equality) as
// the federation compares online.
const offlineSecret = "accord offline matching: fixed local token key, not a secret of any node"

// OfflineTokens returns the token function `accordctl match` uses for
// cases read from files: the origin's tokens (with the years below and
// above) under a fixed local key (key id [OfflineKeyID]), made with
// HMAC-SHA256 (persontoken.LocalKey) rather than the VOPRF that tokens
// shared between members need.
func OfflineTokens() TokenFunc {
	k, err := persontoken.NewLocalKey([]byte(offlineSecret))
	if err != nil {
		panic(err) // constant input
	}
	return func(p persontoken.Person) (persontoken.Tokens, bool) {
		in, err := persontoken.Inputs(p)
		if err != nil {
			return persontoken.Tokens{}, false // an unusable name is no signal
		}
		return k.Tokens(OfflineKeyID, in), true
	}
}

func memberOf(id string) string {
	if i := strings.IndexByte(id, '-'); i > 0 {
		return id[:i]
	}
	return ""
}

func incidentOf(in *accordv1.Incident) (Incident, error) {
	s, err := time.Parse(time.RFC3339, in.GetStart())
	if err != nil {
		return Incident{}, fmt.Errorf("%w: incident start %q: %w", ErrRecord, in.GetStart(), err)
	}
	e := s.Add(time.Hour)
	if in.GetEnd() != "" {
		if e, err = time.Parse(time.RFC3339, in.GetEnd()); err != nil {
			return Incident{}, fmt.Errorf("%w: incident end %q: %w", ErrRecord, in.GetEnd(), err)
		}
	}
	if e.Before(s) {
		e = s
	}
	out := Incident{Start: s.UTC(), End: e.UTC(), Place: in.GetPlace(), Region: in.GetRegion()}
	if in.Lat != nil && in.Lon != nil {
		out.HasCoords, out.Lat, out.Lon = true, in.GetLat(), in.GetLon()
		out.RadiusM = float64(in.GetLocationPrecisionM())
	}
	return out, nil
}

func units(ps []*accordv1.Perpetrator) []string {
	var out []string
	for _, p := range ps {
		if p.GetKind() != accordv1.PerpetratorKind_PERPETRATOR_KIND_PERSON && p.GetName() != "" {
			out = append(out, p.GetName())
		}
	}
	return out
}

// FromCase builds the record of a local case; tokens gives its persons'
// tokens (nil: persons left out; a person without tokens is left out).
func FromCase(c *accordv1.Case, tokens TokenFunc) (Record, error) {
	r := Record{ID: c.GetCaseId(), Member: c.GetCountry(), Title: c.GetTitle(), CrimeCodes: c.GetCrimeCodes(),
		Units: units(c.GetPerpetrators()), VictimCount: -1}
	if r.Member == "" {
		r.Member = memberOf(r.ID)
	}
	if c.VictimCount != nil {
		r.VictimCount = c.GetVictimCount()
	}
	for _, in := range c.GetIncidents() {
		x, err := incidentOf(in)
		if err != nil {
			return Record{}, err
		}
		r.Incidents = append(r.Incidents, x)
	}
	for _, e := range c.GetEvidence() {
		r.Evidence = append(r.Evidence, e.GetSha256())
	}
	if tokens != nil {
		for _, p := range c.GetPersons() {
			t, ok := tokens(persontoken.Person{Name: p.GetName(), BirthYear: int(p.GetBirthYear())})
			if !ok {
				continue // an unusable name is no signal; never an error that could carry it
			}
			r.Persons = append(r.Persons, t)
		}
	}
	return r, nil
}

// FromShared builds the record of a shared case received from a peer. Its
// persons are the origin's published tokens: each PersonEncoding's
// encoding is persontoken's wire form, under the key
// persontoken.KeyID(key_name, key_version), key_name being the member, a
// slash and the node's name ("UA/ua-1"). Persons that do not parse, and
// persons of a key that is not the record's member's own (a member
// publishes only tokens of its own keys), are skipped silently.
func FromShared(s *accordv1.SharedCase) (Record, error) {
	r := Record{ID: s.GetCaseId(), Member: memberOf(s.GetCaseId()), Title: s.GetTitle(), CrimeCodes: s.GetCrimeCodes(),
		Units: units(s.GetPerpetrators()), VictimCount: -1}
	if s.VictimCount != nil {
		r.VictimCount = s.GetVictimCount()
	}
	for _, in := range s.GetIncidents() {
		x, err := incidentOf(in)
		if err != nil {
			return Record{}, err
		}
		r.Incidents = append(r.Incidents, x)
	}
	for _, e := range s.GetEvidence() {
		r.Evidence = append(r.Evidence, e.GetSha256())
	}
	perKey := map[string]int{}
	for _, p := range s.GetPersons() {
		id, ok := persontoken.EncodingKeyID(r.Member, p.GetKeyName(), int(p.GetKeyVersion()))
		if !ok || perKey[id] >= persontoken.MaxPersonsPerCase {
			continue
		}
		perKey[id]++
		t, err := persontoken.Unmarshal(id, p.GetEncoding())
		if err != nil {
			continue
		}
		r.Persons = append(r.Persons, t)
	}
	return r, nil
}

// compiled forms -----------------------------------------------------------

type cinc struct {
	*cplace
	s, e          int64 // unix seconds, UTC
	narrow        bool  // window of at most three hours
	hasGeo        bool
	lat, lon, rad float64
	cos           float64 // of lat
}

// cplace is a place name and region as written, compiled. An offline
// batch shares one cplace among all incidents that write the same name
// and region (cases name the same places over and over).
type cplace struct {
	place      string
	fold, skel string
	skelWords  []string
	region     string // FoldRegion
	// Hashes of fold, skel and region: only equal hashes are taken as
	// equal strings.
	foldH, skelH, regionH uint64
	// nameKeys are the hashes of the skeleton and of its words of three
	// or more consonants (when it has several) that place keys combine
	// with days.
	nameKeys []uint64
	// The learned location of fold and region, cached by Batch.Run once
	// the index is complete (learnedSet); otherwise looked up.
	learnedSet bool
	learnedOK  bool
	learnedLat float64
	learnedLon float64
	learnedCos float64
}

func newCplace(name, region string) *cplace {
	p := &cplace{place: strings.Clone(name), region: FoldRegion(region)}
	p.fold, p.skel = FoldPlace(name)
	p.skelWords = strings.Fields(p.skel)
	p.foldH, p.skelH, p.regionH = strHash(p.fold), strHash(p.skel), strHash(p.region)
	if p.skel != "" {
		p.nameKeys = append(p.nameKeys, hash64('P', p.skel, 0))
	}
	if len(p.skelWords) > 1 {
		for _, w := range p.skelWords {
			if len(w) >= 3 {
				p.nameKeys = append(p.nameKeys, hash64('P', w, 0))
			}
		}
	}
	return p
}

// placeTable interns what cases of a batch write over and over: compiled
// places, the folded words of title words, the keys of unit names, and
// short strings. A nil table interns nothing.
type placeTable struct {
	mu    sync.Mutex
	m     map[[2]string]*cplace
	words map[string][]titleWord
	units map[string][]string
	strs  map[string]string
}

// maxInterned bounds each of a placeTable's maps: beyond it, values are
// computed every time (inputs where nothing repeats).
const maxInterned = 1 << 20

func newPlaceTable() *placeTable {
	return &placeTable{m: map[[2]string]*cplace{}, words: map[string][]titleWord{}, units: map[string][]string{}, strs: map[string]string{}}
}

// titleWord is a folded title word of three or more letters and its hash.
type titleWord struct {
	fold string
	h    uint64
}

// titleWords returns the folded words of a whitespace-free piece of a
// title that count for comparing titles: not numbers, three letters or
// more. textfold.Words(title) is the concatenation of words of its pieces.
func (t *placeTable) titleWords(piece string) []titleWord {
	return interned(t, tableWords, piece, func() []titleWord {
		var v []titleWord
		for _, w := range textfold.Words(piece) {
			if w[0] >= '0' && w[0] <= '9' {
				continue
			}
			if f := textfold.FoldWord(w); len(f) >= 3 {
				v = append(v, titleWord{f, strHash(f)})
			}
		}
		return v
	})
}

// unitKeys returns unitKeys(name), shared.
func (t *placeTable) unitKeys(name string) []string {
	return interned(t, tableUnits, name, func() []string { return unitKeys(name) })
}

// str returns a copy of s that does not share the memory of its source,
// the same copy for the same string.
func (t *placeTable) str(s string) string {
	return interned(t, tableStrs, s, func() string { return strings.Clone(s) })
}

// The maps of a placeTable that interned reads and fills.
func tableWords(t *placeTable) map[string][]titleWord { return t.words }
func tableUnits(t *placeTable) map[string][]string    { return t.units }
func tableStrs(t *placeTable) map[string]string       { return t.strs }

// interned returns the value of k in the map of t that m selects,
// computing and keeping it (under a copy of k, while the map holds fewer
// than maxInterned) when it is not there. A nil table computes every time.
func interned[V any](t *placeTable, m func(*placeTable) map[string]V, k string, compute func() V) V {
	if t == nil {
		return compute()
	}
	t.mu.Lock()
	v, ok := m(t)[k]
	t.mu.Unlock()
	if ok {
		return v
	}
	v = compute()
	t.mu.Lock()
	defer t.mu.Unlock()
	if w, ok := m(t)[k]; ok {
		return w // another worker was first: share its value
	}
	if len(m(t)) < maxInterned {
		m(t)[strings.Clone(k)] = v
	}
	return v
}

func (t *placeTable) get(name, region string) *cplace {
	if t == nil {
		return newCplace(name, region)
	}
	t.mu.Lock()
	p := t.m[[2]string{name, region}]
	t.mu.Unlock()
	if p != nil {
		return p
	}
	p = newCplace(name, region)
	t.mu.Lock()
	defer t.mu.Unlock()
	k := [2]string{p.place, strings.Clone(region)}
	if q := t.m[k]; q != nil {
		return q
	}
	t.m[k] = p
	return p
}

// cperson is one person's tokens under one key, compiled: the hash of the
// key (kh) and the key, then the tokens with their Key cleared (the key is
// compared through kh and key before persontoken.Compare is called). A
// record's persons are sorted by (kh, key), so that the tokens of one key
// lie together and two records' persons are compared group by group.
type cperson struct {
	kh  uint64
	key string
	t   persontoken.Tokens
}

// keyLess orders compiled persons by key.
func keyLess(a, b *cperson) bool {
	if a.kh != b.kh {
		return a.kh < b.kh
	}
	return a.key < b.key
}

type rec struct {
	id, member string
	idp        [2]uint64 // the first 16 bytes of id, big-endian (idLess)
	inc        []cinc
	ev         []uint64
	persons    []cperson // sorted by key
	// maxGroup is the number of persons of the key with the most (an
	// upper bound of the persons that can match, for the cutoff).
	maxGroup  int
	units     []string // unit keys
	unitNames []string
	rs        []string // Rome Statute codes
	national  []string
	victims   int64
	titleToks []uint64 // hashes of the title's folded words
}

const narrowWindow = 3 * 3600

func evKey(h string) uint64 {
	var b [8]byte
	if len(h) >= 16 {
		if _, err := hex.Decode(b[:], []byte(h[:16])); err == nil {
			var v uint64
			for _, x := range b {
				v = v<<8 | uint64(x)
			}
			return v
		}
	}
	return hash64(0xEE, h, 0)
}

// compile compiles a record, its places interned in places (nil: none).
func compile(r Record, places *placeTable) (*rec, error) {
	if r.ID == "" {
		return nil, fmt.Errorf("%w: empty id", ErrRecord)
	}
	// Strings are cloned: a parser's strings may share the memory of a
	// whole input line, which a retained substring would keep alive.
	c := &rec{id: strings.Clone(r.ID), member: places.str(r.Member), victims: r.VictimCount}
	for _, u := range r.Units {
		c.unitNames = append(c.unitNames, places.str(u))
	}
	for i := 0; i < 16 && i < len(r.ID); i++ {
		c.idp[i/8] |= uint64(r.ID[i]) << (56 - 8*(i%8))
	}
	if c.member == "" {
		c.member = memberOf(r.ID)
	}
	placeWords := map[string]bool{}
	for _, in := range r.Incidents {
		x := cinc{cplace: places.get(in.Place, in.Region), s: in.Start.Unix(), e: in.End.Unix()}
		if x.e < x.s {
			x.e = x.s
		}
		x.narrow = x.e-x.s <= narrowWindow
		for _, w := range strings.Fields(x.fold) {
			placeWords[w] = true
		}
		if in.HasCoords {
			x.hasGeo, x.lat, x.lon, x.rad, x.cos = true, in.Lat, in.Lon, in.RadiusM, cosDeg(in.Lat)
		}
		c.inc = append(c.inc, x)
	}
	seen := map[uint64]bool{}
	for _, h := range r.Evidence {
		k := evKey(strings.ToLower(h))
		if !seen[k] {
			seen[k] = true
			c.ev = append(c.ev, k)
		}
	}
	if len(r.Persons) > 0 {
		c.persons = make([]cperson, 0, len(r.Persons))
		for _, p := range r.Persons {
			cp := cperson{kh: strHash(p.Key), key: places.str(p.Key), t: p}
			cp.t.Key = ""
			c.persons = append(c.persons, cp)
		}
		slices.SortStableFunc(c.persons, func(x, y cperson) int {
			switch {
			case keyLess(&x, &y):
				return -1
			case keyLess(&y, &x):
				return 1
			}
			return 0
		})
		for i := 0; i < len(c.persons); {
			j := groupEnd(c.persons, i)
			c.maxGroup = max(c.maxGroup, j-i)
			i = j
		}
	}
	for _, u := range r.Units {
		c.units = append(c.units, places.unitKeys(u)...)
	}
	for _, code := range r.CrimeCodes {
		code = strings.ToUpper(strings.TrimSpace(code))
		if strings.HasPrefix(code, "RS-") {
			c.rs = append(c.rs, places.str(code[3:]))
		} else if code != "" {
			c.national = append(c.national, places.str(code))
		}
	}
	for _, piece := range strings.Fields(r.Title) {
		for _, w := range places.titleWords(piece) {
			if !placeWords[w.fold] {
				c.titleToks = append(c.titleToks, w.h)
			}
		}
	}
	return c, nil
}

// UnitKeys returns the keys under which the matcher takes two units as
// written for one (any key in common): what a side-by-side view marks as
// a unit in common.
func UnitKeys(name string) []string { return unitKeys(name) }

// unitKeys returns comparable keys of a unit as written: "n47" for a unit
// number (64th Separate Motor Rifle Brigade, 64 OMSBr, 64. Brigade), "p51460"
// for a military unit (post) number of four or more digits, and for a name
// without numbers the consonant skeleton of its longest word (Rosgvardia,
// Rosgwardia).
func unitKeys(name string) []string {
	ws := textfold.Words(name)
	var out []string
	for _, w := range ws {
		if w[0] >= '0' && w[0] <= '9' {
			if len(w) >= 4 {
				out = append(out, "p"+strings.TrimLeft(w, "0"))
			} else {
				out = append(out, "n"+strings.TrimLeft(w, "0"))
			}
		}
	}
	if len(out) > 0 {
		return out
	}
	best := ""
	for _, w := range ws {
		if len(w) > len(best) {
			best = w
		}
	}
	if len(best) >= 4 {
		return []string{"w" + textfold.SkeletonWord(textfold.FoldWord(best))}
	}
	return nil
}

// idLess reports whether a.id < b.id, mostly without reading the strings.
func idLess(a, b *rec) bool {
	if a.idp[0] != b.idp[0] {
		return a.idp[0] < b.idp[0]
	}
	if a.idp[1] != b.idp[1] {
		return a.idp[1] < b.idp[1]
	}
	return a.id < b.id
}
