package matching

import (
	"hash/maphash"
	"math"
	"strings"

	"github.com/accordfed/accord/federation/persontoken"
)

// Comparison features. Each compares one aspect of two records and yields
// a level (0 is the strongest agreement) or null (-1: nothing to compare,
// weight 0). The model (model.go) learns how likely each level is among
// matches (m) and non-matches (u).
const (
	fTime = iota
	fPlace
	fDist
	fEvidence
	fPersons
	fUnits
	fCrime
	fVictims
	fTitle
	nFeatures
)

var featureNames = [nFeatures]string{"time", "place", "distance", "evidence", "persons", "units", "crime codes", "victim count", "title"}

// levels per feature, with their names (used in Model's description).
var levelNames = [nFeatures][]string{
	fTime:     {"same hour", "same hour, dates a day apart", "overlapping windows", "different hours of one day", "within three days", "further apart"},
	fPlace:    {"same name", "same name up to vowels", "names at the same learned location", "similar names", "same name, different region", "different names"},
	fDist:     {"within 1 km", "within 3 km", "within 10 km", "within 50 km", "further apart"},
	fEvidence: {"two or more rare items shared", "one rare item shared", "only widely shared items shared", "no item shared"},
	fPersons:  {"two or more persons match by name", "one person matches by name, same birth year", "one person matches by name", "a person is similar (skeleton)", "comparable persons, none matches"},
	fUnits:    {"a unit in common", "no unit in common"},
	fCrime:    {"a Rome Statute article in common", "same Rome Statute paragraph", "different articles"},
	fVictims:  {"same victim count", "close victim counts", "different victim counts"},
	fTitle:    {"similar titles", "titles with a word in common"},
}

type gamma [nFeatures]int8

func (g gamma) key() uint64 {
	var k uint64
	for i, v := range g {
		k |= uint64(v+1) << (4 * i)
	}
	return k
}

func gammaFromKey(k uint64) gamma {
	var g gamma
	for i := range g {
		g[i] = int8((k>>(4*i))&0xF) - 1
	}
	return g
}

// detail is what a comparison found, for the reasons.
type detail struct {
	ia, ib       int     // best incident pair
	dt           int64   // |start difference| seconds
	gap          int64   // seconds between windows (negative: overlap)
	km           float64 // distance, when both have coordinates
	learnedKm    float64
	evShared     int
	evWeight     float64
	personsMatch int
	cut          bool // stopped early: below the cutoff
}

// comparer holds what comparisons need from the index: evidence document
// frequencies and learned place locations.
type comparer struct {
	df  func(uint64) int
	loc func(fold, region string) (lat, lon float64, ok bool)
	// shiftB moves b's incidents by so many seconds (non-match sampling).
	shiftB int64
	// cut, when set, stops a comparison as soon as the pair cannot reach
	// the threshold any more (detail.cut).
	cut *cutoff
}

// cutoff stops comparisons early: compareRecs computes the features in
// the order of featureOrder, and after a stage, a pair whose weight so far
// plus the largest weight every later feature could add stays below min
// cannot be reported.
type cutoff struct {
	m    *Model
	min  float64
	base float64 // the weight of Lambda
	// rest[f] is the largest weight the features after f (in
	// featureOrder) other than persons can add together.
	rest [nFeatures]float64
	// persons is the largest weight of persons when either side has at
	// most one person under any key ([0]) or both have several ([1]).
	persons [2]float64
}

// featureOrder is the order in which compareRecs computes the features:
// the cheap ones first, persons (token groups) last.
var featureOrder = [nFeatures]int{fTime, fPlace, fDist, fEvidence, fUnits, fCrime, fVictims, fTitle, fPersons}

func newCutoff(m *Model, minWeight float64) *cutoff {
	c := &cutoff{m: m, min: minWeight, base: math.Log2(m.Lambda / (1 - m.Lambda))}
	best := func(f int, from int) float64 {
		b := 0.0 // a null level weighs 0
		for _, w := range m.w[f][from:] {
			b = max(b, w)
		}
		return b
	}
	sum := 0.0
	for i := nFeatures - 1; i >= 0; i-- {
		f := featureOrder[i]
		c.rest[f] = sum
		if f != fPersons {
			sum += best(f, 0)
		}
	}
	// Level 0 of persons (two or more persons match) needs two on each
	// side.
	c.persons = [2]float64{best(fPersons, 1), best(fPersons, 0)}
	return c
}

// below reports whether the pair a, b, whose features up to last (in
// featureOrder) are in g, cannot reach the minimum weight.
func (c *cutoff) below(a, b *rec, g gamma, last int) bool {
	w := c.base
	for _, f := range featureOrder {
		w += c.m.levelWeight(f, g[f])
		if f == last {
			break
		}
	}
	w += c.rest[last]
	switch n := min(a.maxGroup, b.maxGroup); {
	case n == 1:
		w += c.persons[0]
	case n > 1:
		w += c.persons[1]
	}
	return w < c.min
}

// kmPerDegree is the length of a degree of latitude (and of longitude at
// the equator) in kilometres.
const kmPerDegree = 6371.0 * math.Pi / 180

// distKm is the distance in kilometres between two points given with the
// cosines of their latitudes: the equirectangular approximation, within
// 0.1% of the great-circle distance for points less than two degrees
// apart (all that distance levels tell apart), haversine beyond.
func distKm(lat1, lon1, cos1, lat2, lon2, cos2 float64) float64 {
	dy := lat2 - lat1
	dx := (lon2 - lon1) * (cos1 + cos2) / 2
	if dy > 2 || dy < -2 || dx > 2 || dx < -2 {
		return haversineKm(lat1, lon1, lat2, lon2)
	}
	return kmPerDegree * math.Sqrt(dx*dx+dy*dy)
}

// cosDeg is the cosine of an angle in degrees.
func cosDeg(deg float64) float64 { return math.Cos(deg * math.Pi / 180) }

// DistanceKm is the great-circle distance between two points in degrees,
// as the matcher measures it (node/casesearch's near uses it too).
func DistanceKm(lat1, lon1, lat2, lon2 float64) float64 { return haversineKm(lat1, lon1, lat2, lon2) }

func haversineKm(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371.0
	p1, p2 := lat1*math.Pi/180, lat2*math.Pi/180
	dp := p2 - p1
	dl := (lon2 - lon1) * math.Pi / 180
	a := math.Sin(dp/2)*math.Sin(dp/2) + math.Cos(p1)*math.Cos(p2)*math.Sin(dl/2)*math.Sin(dl/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(a)))
}

// timeLevel compares two windows [s, e) in UTC seconds.
func timeLevel(a, b *cinc) (lvl int8, dt, gap int64) {
	gap = max(a.s, b.s) - min(a.e, b.e)
	dt = a.s - b.s
	if dt < 0 {
		dt = -dt
	}
	const h = 3600
	both := a.narrow && b.narrow
	switch {
	case both && (dt <= 90*60 || gap < 0):
		return 0, dt, gap
	case both && dt >= 24*h-90*60 && dt <= 24*h+90*60:
		return 1, dt, gap
	case gap < 0:
		return 2, dt, gap
	case both && gap <= 24*h:
		return 3, dt, gap
	case gap <= 72*h:
		return 4, dt, gap
	}
	return 5, dt, gap
}

// strHash hashes a string for the quick inequality tests of cinc.
func strHash(s string) uint64 { return maphash.String(hashSeed, s) }

// learned returns the learned location of in's place and the cosine of
// its latitude, cached or looked up.
func (cmp *comparer) learned(in *cinc) (lat, lon, cos float64, ok bool) {
	if in.learnedSet {
		return in.learnedLat, in.learnedLon, in.learnedCos, in.learnedOK
	}
	if cmp.loc == nil {
		return 0, 0, 0, false
	}
	if lat, lon, ok = cmp.loc(in.fold, in.region); ok {
		cos = cosDeg(lat)
	}
	return lat, lon, cos, ok
}

func placeLevel(a, b *cinc, cmp *comparer) (lvl int8, learnedKm float64) {
	// Equal 64-bit hashes are taken for equal strings.
	regionDiff := a.region != "" && b.region != "" && a.regionH != b.regionH
	sameFold := a.foldH == b.foldH
	learnedKm = -1
	if !sameFold && (cmp.loc != nil || a.learnedSet && b.learnedSet) {
		la, oa, ca, ok1 := cmp.learned(a)
		lb, ob, cb, ok2 := cmp.learned(b)
		if ok1 && ok2 {
			learnedKm = distKm(la, oa, ca, lb, ob, cb)
		}
	}
	switch {
	case sameFold && a.fold != "":
		if regionDiff {
			return 4, learnedKm
		}
		return 0, learnedKm
	case a.skelH == b.skelH && a.skel != "":
		if regionDiff {
			return 4, learnedKm
		}
		return 1, learnedKm
	case learnedKm >= 0 && learnedKm <= 3:
		return 2, learnedKm
	}
	similar := jaroWinkler(a.skel, b.skel) >= 0.85
	if !similar {
		for _, x := range a.skelWords {
			if len(x) < 3 {
				continue
			}
			for _, y := range b.skelWords {
				if x == y {
					similar = true
				}
			}
		}
	}
	if similar {
		if regionDiff {
			return 4, learnedKm
		}
		return 3, learnedKm
	}
	return 5, learnedKm
}

func distLevel(a, b *cinc) (int8, float64) {
	if !a.hasGeo || !b.hasGeo {
		return -1, -1
	}
	d := distKm(a.lat, a.lon, a.cos, b.lat, b.lon, b.cos)
	switch {
	case d <= 1:
		return 0, d
	case d <= 3:
		return 1, d
	case d <= 10:
		return 2, d
	case d <= 50:
		return 3, d
	}
	return 4, d
}

// groupEnd returns the end of the group of persons of ps[i]'s key.
func groupEnd(ps []cperson, i int) int {
	j := i + 1
	for j < len(ps) && ps[j].kh == ps[i].kh && ps[j].key == ps[i].key {
		j++
	}
	return j
}

// personsAgree compares two records' persons (sorted by key): only the
// tokens of a key both records hold, with persontoken.Compare. It returns
// whether any pair was comparable, the most persons that match by name
// (years not different) under one key, counting a person at most once on
// each side, whether one of those matches has the same birth year, and
// whether a person is similar (skeletons agree, years not different).
func personsAgree(a, b []cperson) (anyComparable bool, matched int, sameYear, similar bool) {
	var small [64]bool
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case keyLess(&a[i], &b[j]):
			i = groupEnd(a, i)
			continue
		case keyLess(&b[j], &a[i]):
			j = groupEnd(b, j)
			continue
		}
		ie, je := groupEnd(a, i), groupEnd(b, j)
		anyComparable = true
		var hitB []bool // b's persons that matched one of a's
		if je-j > len(small) {
			hitB = make([]bool, je-j)
		} else {
			hitB = small[:je-j]
			clear(hitB)
		}
		hitsA, hitsB := 0, 0
		for x := i; x < ie; x++ {
			hit := false
			for y := j; y < je; y++ {
				ag := persontoken.Compare(&a[x].t, &b[y].t)
				if !ag.Similar || ag.Year == persontoken.YearDifferent {
					continue
				}
				similar = true
				if ag.Name {
					hit = true
					if !hitB[y-j] {
						hitB[y-j] = true
						hitsB++
					}
					if ag.Year == persontoken.YearSame {
						sameYear = true
					}
				}
			}
			if hit {
				hitsA++
			}
		}
		matched = max(matched, min(hitsA, hitsB))
		i, j = ie, je
	}
	return anyComparable, matched, sameYear, similar
}

// compareRecs returns the comparison vector of a and b and what it found.
// w scores a candidate incident pair (time, place, distance levels) to
// choose the best pair of a multi-incident case.
func (cmp *comparer) compareRecs(a, b *rec, w func(t, p, d int8) float64) (gamma, detail) {
	var g gamma
	var det detail
	bestW := math.Inf(-1)
	for i := range a.inc {
		for j := range b.inc {
			x, y := &a.inc[i], &b.inc[j]
			if cmp.shiftB != 0 {
				z := *y
				z.s += cmp.shiftB
				z.e += cmp.shiftB
				y = &z
			}
			tl, dt, gap := timeLevel(x, y)
			pl, lkm := placeLevel(x, y, cmp)
			dl, km := distLevel(x, y)
			s := w(tl, pl, dl)
			if s > bestW {
				bestW = s
				g[fTime], g[fPlace], g[fDist] = tl, pl, dl
				det.ia, det.ib, det.dt, det.gap, det.km, det.learnedKm = i, j, dt, gap, km, lkm
			}
		}
	}
	if len(a.inc) == 0 || len(b.inc) == 0 {
		g[fTime], g[fPlace], g[fDist] = -1, -1, -1
	}

	// Evidence: shared items, each weighted 1/(df-1) so that an item seen
	// in many cases counts little.
	g[fEvidence] = -1
	if len(a.ev) > 0 && len(b.ev) > 0 {
		for _, x := range a.ev {
			for _, y := range b.ev {
				if x == y {
					det.evShared++
					n := 2
					if cmp.df != nil {
						n = max(2, cmp.df(x))
					}
					det.evWeight += 1 / float64(n-1)
				}
			}
		}
		switch {
		case det.evWeight >= 1.5:
			g[fEvidence] = 0
		case det.evWeight >= 0.9:
			g[fEvidence] = 1
		case det.evShared > 0:
			g[fEvidence] = 2
		default:
			g[fEvidence] = 3
		}
	}

	if cmp.cut != nil && cmp.cut.below(a, b, g, fEvidence) {
		det.cut = true
		return g, det
	}

	g[fUnits] = -1
	if len(a.units) > 0 && len(b.units) > 0 {
		g[fUnits] = 1
		kinds := 0
		for _, x := range a.units {
			for _, y := range b.units {
				if x == y {
					g[fUnits] = 0
				}
				if x[0] == y[0] {
					kinds++
				}
			}
		}
		if g[fUnits] == 1 && kinds == 0 {
			g[fUnits] = -1 // a post number against a unit number: not comparable
		}
	}

	g[fCrime] = -1
	if len(a.rs) > 0 && len(b.rs) > 0 {
		g[fCrime] = 2
		for _, x := range a.rs {
			for _, y := range b.rs {
				if x == y {
					g[fCrime] = 0
				} else if g[fCrime] == 2 && paragraph(x) == paragraph(y) {
					g[fCrime] = 1
				}
			}
		}
	}

	// Title and victim count describe a whole case: with several
	// incidents on a side they need not describe the incident in common.
	single := len(a.inc) <= 1 && len(b.inc) <= 1
	g[fVictims] = -1
	if single && a.victims >= 0 && b.victims >= 0 {
		d := a.victims - b.victims
		if d < 0 {
			d = -d
		}
		switch {
		case d == 0:
			g[fVictims] = 0
		case d <= 2 || float64(d) <= 0.2*float64(max(a.victims, b.victims)):
			g[fVictims] = 1
		default:
			g[fVictims] = 2
		}
	}

	// Titles: only agreement is a signal. Titles without a word in common
	// are usually in different languages, which says nothing.
	g[fTitle] = -1
	if single && len(a.titleToks) > 0 && len(b.titleToks) > 0 {
		common := 0
		for _, x := range a.titleToks {
			for _, y := range b.titleToks {
				if x == y {
					common++
					break
				}
			}
		}
		switch d := 2 * float64(common) / float64(len(a.titleToks)+len(b.titleToks)); {
		case d >= 0.5:
			g[fTitle] = 0
		case common > 0:
			g[fTitle] = 1
		}
	}
	if cmp.cut != nil && cmp.cut.below(a, b, g, fTitle) {
		det.cut = true
		return g, det
	}

	// Persons: only tokens of the same key are comparable; records of two
	// members that hold no key in common say nothing (null).
	g[fPersons] = -1
	if len(a.persons) > 0 && len(b.persons) > 0 {
		anyComparable, matched, sameYear, similar := personsAgree(a.persons, b.persons)
		det.personsMatch = matched
		if anyComparable {
			switch {
			case matched >= 2:
				g[fPersons] = 0
			case matched == 1 && sameYear:
				g[fPersons] = 1
			case matched == 1:
				g[fPersons] = 2
			case similar:
				g[fPersons] = 3
			default:
				g[fPersons] = 4
			}
		}
	}
	return g, det
}

// paragraph is an article reference without its last part (8.2.b.i →
// 8.2.b).
func paragraph(code string) string {
	if i := strings.LastIndexByte(code, '.'); i > 0 {
		return code[:i]
	}
	return code
}

var hashSeed = maphash.MakeSeed()

// hash64 hashes a blocking key: a kind byte, a string and a number.
func hash64(kind byte, s string, n int64) uint64 {
	var h maphash.Hash
	h.SetSeed(hashSeed)
	h.WriteByte(kind)
	h.WriteString(s)
	var b [8]byte
	for i := range b {
		b[i] = byte(n >> (8 * i))
	}
	h.Write(b[:])
	return h.Sum64()
}
