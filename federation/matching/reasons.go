package matching

import (
	"fmt"
	"sort"
	"strconv"
)

// reasons puts the signals that argue for the match into words, strongest
// first. A signal is named when its level weighs for a match (positive
// log2 m/u).
func reasons(m *Model, a, b *rec, g gamma, det detail) []string {
	type rw struct {
		w float64
		s string
	}
	var out []rw
	add := func(f int, s string) {
		if g[f] >= 0 && m.w[f][g[f]] > 0 && s != "" {
			out = append(out, rw{m.w[f][g[f]], s})
		}
	}
	if len(a.inc) > 0 && len(b.inc) > 0 {
		x, y := &a.inc[det.ia], &b.inc[det.ib]
		add(fTime, timeReason(g[fTime], det))
		switch g[fPlace] {
		case 0:
			if x.place == y.place {
				add(fPlace, "same place "+x.place)
			} else {
				add(fPlace, "place names "+x.place+" ~ "+y.place)
			}
		case 1, 3:
			add(fPlace, "place names "+x.place+" ~ "+y.place)
		case 2:
			add(fPlace, fmt.Sprintf("place names %s ~ %s (learned locations %s apart)", x.place, y.place, km(det.learnedKm)))
		}
		if g[fDist] >= 0 {
			add(fDist, km(det.km)+" apart")
		}
	}
	switch g[fEvidence] {
	case 0, 1:
		if det.evShared == 1 {
			add(fEvidence, "same evidence item (1)")
		} else {
			add(fEvidence, "same evidence items ("+strconv.Itoa(det.evShared)+")")
		}
	case 2:
		add(fEvidence, "same widely shared evidence ("+strconv.Itoa(det.evShared)+")")
	}
	switch g[fPersons] {
	case 0:
		add(fPersons, strconv.Itoa(det.personsMatch)+" persons match (keyed encodings)")
	case 1:
		add(fPersons, "a person matches, same birth year (keyed encodings)")
	case 2:
		add(fPersons, "a person matches (keyed encodings)")
	case 3:
		add(fPersons, fmt.Sprintf("a person is similar (Dice %.2f)", det.bestDice))
	}
	if g[fUnits] == 0 {
		add(fUnits, "same unit ("+unitPair(a, b)+")")
	}
	switch g[fCrime] {
	case 0:
		add(fCrime, "same Rome Statute article")
	case 1:
		add(fCrime, "same Rome Statute paragraph")
	}
	switch g[fVictims] {
	case 0:
		add(fVictims, "same victim count ("+strconv.FormatInt(a.victims, 10)+")")
	case 1:
		add(fVictims, "close victim counts ("+strconv.FormatInt(a.victims, 10)+", "+strconv.FormatInt(b.victims, 10)+")")
	}
	if g[fTitle] == 0 {
		add(fTitle, "similar titles")
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].w > out[j].w })
	s := make([]string, len(out))
	for i, r := range out {
		s[i] = r.s
	}
	return s
}

func km(d float64) string {
	switch {
	case d < 10:
		return strconv.FormatFloat(d, 'f', 1, 64) + " km"
	default:
		return strconv.FormatFloat(d, 'f', 0, 64) + " km"
	}
}

func timeReason(l int8, det detail) string {
	switch l {
	case 0:
		return "same hour"
	case 1:
		return "same hour, dates a day apart"
	case 2:
		return "overlapping time windows"
	case 3:
		return fmt.Sprintf("same day, %dh apart", det.dt/3600)
	case 4:
		return "within three days"
	}
	return ""
}

func unitPair(a, b *rec) string {
	for _, x := range a.unitNames {
		kx := unitKeys(x)
		for _, y := range b.unitNames {
			for _, p := range kx {
				for _, q := range unitKeys(y) {
					if p == q {
						if x == y {
							return x
						}
						return x + " ~ " + y
					}
				}
			}
		}
	}
	return ""
}
