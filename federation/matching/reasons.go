package matching

import (
	"fmt"
	"sort"
	"strconv"
)

// reasons puts the signals that argue for the match into words, strongest
// first. A signal is named when its level weighs for a match (positive
// log2 m/u). The second list says the same without any value of either
// record (see Match.Bare).
func reasons(m *Model, a, b *rec, g gamma, det detail) (full, bare []string) {
	type rw struct {
		w       float64
		s, bare string
	}
	var out []rw
	// addBare names a signal whose words carry a value of a record (a
	// place, a unit, a victim count): bare is what may be said instead.
	addBare := func(f int, s, bare string) {
		if g[f] >= 0 && m.w[f][g[f]] > 0 && s != "" {
			out = append(out, rw{m.w[f][g[f]], s, bare})
		}
	}
	add := func(f int, s string) { addBare(f, s, s) }
	if len(a.inc) > 0 && len(b.inc) > 0 {
		x, y := &a.inc[det.ia], &b.inc[det.ib]
		add(fTime, timeReason(g[fTime], det))
		switch g[fPlace] {
		case 0:
			if x.place == y.place {
				addBare(fPlace, "same place "+x.place, "same place name")
			} else {
				addBare(fPlace, "place names "+x.place+" ~ "+y.place, "place names agree")
			}
		case 1, 3:
			addBare(fPlace, "place names "+x.place+" ~ "+y.place, "place names agree")
		case 2:
			addBare(fPlace, fmt.Sprintf("place names %s ~ %s (learned locations %s apart)", x.place, y.place, km(det.learnedKm)), "place names agree (learned locations)")
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
		add(fPersons, strconv.Itoa(det.personsMatch)+" persons match by name (person tokens)")
	case 1:
		add(fPersons, "a person matches by name, same birth year (person tokens)")
	case 2:
		add(fPersons, "a person matches by name (person tokens)")
	case 3:
		add(fPersons, "a person's name is similar (person tokens)")
	}
	if g[fUnits] == 0 {
		addBare(fUnits, "same unit ("+unitPair(a, b)+")", "same unit")
	}
	switch g[fCrime] {
	case 0:
		add(fCrime, "same Rome Statute article")
	case 1:
		add(fCrime, "same Rome Statute paragraph")
	}
	switch g[fVictims] {
	case 0:
		addBare(fVictims, "same victim count ("+strconv.FormatInt(a.victims, 10)+")", "same victim count")
	case 1:
		addBare(fVictims, "close victim counts ("+strconv.FormatInt(a.victims, 10)+", "+strconv.FormatInt(b.victims, 10)+")", "close victim counts")
	}
	if g[fTitle] == 0 {
		add(fTitle, "similar titles")
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].w > out[j].w })
	full, bare = make([]string, len(out)), make([]string, len(out))
	for i, r := range out {
		full[i], bare[i] = r.s, r.bare
	}
	return full, bare
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
