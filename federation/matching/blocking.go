package matching

import (
	"math"
	"slices"
)

// Blocking: every record gets keys; two records become a candidate pair
// when they share one. Several independent keys, so that a true pair that
// one key misses (a renamed town, missing coordinates, a time-zone shift)
// is found by another:
//
//   - place: each consonant skeleton of the place name (whole, and each
//     word of three or more consonants) with each UTC day the window,
//     widened by 12 hours on both sides, touches. Two windows less than a
//     day apart share a day.
//   - geo: the point (given, or learned for the place name from other
//     cases) in four 0.1° grids shifted by half a cell, with each day as
//     above. Two points closer than 0.05° in both axes share a cell.
//   - evidence: each evidence hash, without time (items held by more than
//     Config.MaxEvidenceBucket cases are skipped).
const (
	kindPlace    = 0
	kindGeo      = 1
	kindEvidence = 2
	kindPerson   = 3

	cellDeg     = 0.1
	maxDaysKey  = 62
	widenSecond = 12 * 3600
)

// evidenceKey is the blocking key of an evidence item.
func evidenceKey(e uint64) uint64 { return withKind(mix(e, 3, 3), kindEvidence) }

func keyKind(k uint64) int { return int(k >> 62) }

func withKind(h uint64, kind int) uint64 { return h&^(3<<62) | uint64(kind)<<62 }

func mix(a, b, c uint64) uint64 {
	h := a*0x9E3779B97F4A7C15 ^ b
	h ^= h >> 31
	h *= 0xBF58476D1CE4E5B9
	h ^= c
	h ^= h >> 29
	h *= 0x94D049BB133111EB
	h ^= h >> 32
	return h
}

func dayRange(in *cinc) (int64, int64) {
	d0 := floorDiv(in.s-widenSecond, 86400)
	d1 := floorDiv(in.e+widenSecond-1, 86400)
	if d1-d0+1 > maxDaysKey {
		d1 = d0 + maxDaysKey - 1
	}
	return d0, d1
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func blockingKeys(c *rec, loc func(fold, region string) (float64, float64, bool)) []uint64 {
	return blockingKeysInto(nil, c, loc, 0, true)
}

// blockingKeysInto returns, in buf's storage, the place and geo keys of c
// as if its incidents happened shiftDays days later, and its evidence
// keys when evidence is true, sorted and each once. Shifted keys find the records of the same places some
// weeks away: pairs that look like candidates but are not the same
// incident (see Index.nonMatchPatterns).
func blockingKeysInto(buf []uint64, c *rec, loc func(fold, region string) (float64, float64, bool), shiftDays int64, evidence bool) []uint64 {
	keys := buf[:0]
	for i := range c.inc {
		in := &c.inc[i]
		d0, d1 := dayRange(in)
		d0, d1 = d0+shiftDays, d1+shiftDays
		names := in.nameKeys
		var cellArr [4]uint64
		cells := cellArr[:0]
		lat, lon, ok := in.lat, in.lon, in.hasGeo
		switch {
		case ok:
		case in.learnedSet:
			lat, lon, ok = in.learnedLat, in.learnedLon, in.learnedOK
		case loc != nil:
			lat, lon, ok = loc(in.fold, in.region)
		}
		if ok {
			for g := range 4 {
				oy, ox := float64(g&1)*cellDeg/2, float64(g>>1)*cellDeg/2
				cy := int64(math.Floor((lat + oy) / cellDeg))
				cx := int64(math.Floor((lon + ox) / cellDeg))
				cells = append(cells, mix(uint64(g)+1, uint64(cy), uint64(cx)))
			}
		}
		for d := d0; d <= d1; d++ {
			for _, n := range names {
				keys = append(keys, withKind(mix(n, uint64(d), 1), kindPlace))
			}
			for _, cl := range cells {
				keys = append(keys, withKind(mix(cl, uint64(d), 2), kindGeo))
			}
		}
	}
	if evidence {
		for _, e := range c.ev {
			keys = append(keys, evidenceKey(e))
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}
