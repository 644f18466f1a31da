package matching

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The stress suite: the dev dataset changed the way real offices'
// registers differ from it (issue 18), each set with the same truth (or,
// for decoys, truth that the added records match nothing), scored with
// the same unsupervised pipeline as TestDevDatasetQuality. Its floors are
// a little under what the engine reaches on each set today, so that a
// change that makes one collapse fails here; the figures per set are in
// docs/matching.md ("Stress suite").

// stressSet is one perturbation of the dataset.
type stressSet struct {
	name, what string
	// floor is the F1 over all pairs below which the test fails.
	floor float64
	apply func(rng *rand.Rand, recs []Record) []Record
}

// cloneRecords copies records deeply enough for a perturbation to change
// incidents and lists without touching the originals.
func cloneRecords(recs []Record) []Record {
	out := make([]Record, len(recs))
	for i, r := range recs {
		r.Incidents = slices.Clone(r.Incidents)
		r.Evidence = slices.Clone(r.Evidence)
		r.Units = slices.Clone(r.Units)
		r.CrimeCodes = slices.Clone(r.CrimeCodes)
		r.Persons = slices.Clone(r.Persons)
		out[i] = r
	}
	return out
}

// typo makes one edit in a word: a letter replaced, dropped, doubled or
// two swapped (never the first letter).
func typo(rng *rand.Rand, s string) string {
	r := []rune(s)
	if len(r) < 4 {
		return s
	}
	i := 1 + rng.IntN(len(r)-2)
	switch rng.IntN(4) {
	case 0:
		r[i] = rune("aeiouyklmnrst"[rng.IntN(13)])
	case 1:
		r = append(r[:i], r[i+1:]...)
	case 2:
		r = append(r[:i+1], r[i:]...)
	default:
		r[i], r[i+1] = r[i+1], r[i]
	}
	return string(r)
}

// drift writes a Latin place name the way another romanisation would
// (Russian-based, German, Polish, older ALA-LC habits).
func drift(rng *rand.Rand, s string) string {
	rules := [][2]string{
		{"kh", "ch"}, {"Kh", "Ch"}, {"iv", "ov"}, {"iia", "ija"}, {"yi", "ij"}, {"ii", "iy"},
		{"ia", "ya"}, {"zh", "sh"}, {"Zh", "Sh"}, {"h", "g"}, {"y", "j"}, {"ts", "z"}, {"Ts", "Z"},
	}
	rng.Shuffle(len(rules), func(i, j int) { rules[i], rules[j] = rules[j], rules[i] })
	changed := 0
	for _, r := range rules {
		if changed == 2 {
			break
		}
		if strings.Contains(s, r[0]) {
			s = strings.Replace(s, r[0], r[1], 1)
			changed++
		}
	}
	return s
}

// renamed are places renamed since 2016 (decommunisation) and since 2022
// with the names Russian-language and older sources keep.
var renamed = map[string]string{
	"Dnipro": "Dnipropetrovsk", "Bakhmut": "Artemivsk", "Pokrovsk": "Krasnoarmiisk", "Lyman": "Krasnyi Lyman",
	"Kropyvnytskyi": "Kirovohrad", "Toretsk": "Dzerzhynsk", "Myrnohrad": "Dymytrov", "Kamianske": "Dniprodzerzhynsk",
	"Horishni Plavni": "Komsomolsk", "Bilohorivka": "Belogorovka", "Sievierodonetsk": "Severodonetsk",
	"Kostiantynivka": "Konstantinovka", "Vuhledar": "Ugledar", "Kupiansk": "Kupyansk", "Balakliia": "Balakleya",
}

// russian writes a Latin (Ukrainian-romanised) place name in Russian
// Cyrillic, as a member whose registers are kept in Russian would.
var russianPlaces = map[string]string{
	"Kramatorsk": "Краматорск", "Izium": "Изюм", "Sloviansk": "Славянск", "Sumy": "Сумы", "Dnipro": "Днепр", "Mariupol": "Мариуполь",
	"Melitopol": "Мелитополь", "Bakhmut": "Артёмовск", "Pokrovsk": "Красноармейск", "Kharkiv": "Харьков", "Kyiv": "Киев",
	"Kherson": "Херсон", "Chernihiv": "Чернигов", "Mykolaiv": "Николаев", "Odesa": "Одесса", "Zaporizhzhia": "Запорожье",
	"Bucha": "Буча", "Irpin": "Ирпень", "Hostomel": "Гостомель", "Lysychansk": "Лисичанск", "Avdiivka": "Авдеевка",
	"Lyman": "Красный Лиман", "Okhtyrka": "Ахтырка", "Enerhodar": "Энергодар", "Uman": "Умань", "Vinnytsia": "Винница",
	"Lviv": "Львов", "Kremenchuk": "Кременчуг", "Borodianka": "Бородянка", "Kupiansk": "Купянск", "Nova Kakhovka": "Новая Каховка",
	"Trostianets": "Тростянец", "Yahidne": "Ягодное", "Olenivka": "Оленовка", "Rubizhne": "Рубежное", "Chasiv Yar": "Часов Яр",
	"Kostiantynivka": "Константиновка", "Sievierodonetsk": "Северодонецк", "Vuhledar": "Угледар", "Balakliia": "Балаклея",
	"Makariv": "Макаров", "Motyzhyn": "Мотыжин", "Vorzel": "Ворзель", "Kamianka": "Каменка", "Hroza": "Гроза", "Serhiivka": "Сергеевка",
	"Mala Rohan": "Малая Рогань", "Tsyrkuny": "Циркуны", "Bilohorivka": "Белогоровка",
}

// kyivOffset is Kyiv's UTC offset at t (EET/EEST).
func kyivOffset(t time.Time) time.Duration {
	y := t.Year()
	lastSunday := func(m time.Month) time.Time {
		d := time.Date(y, m+1, 1, 1, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
		return d.AddDate(0, 0, -int(d.Weekday()))
	}
	if !t.Before(lastSunday(time.March)) && t.Before(lastSunday(time.October)) {
		return 3 * time.Hour
	}
	return 2 * time.Hour
}

// firstMember is the member of the first record: the office a
// one-member perturbation applies to.
func firstMember(recs []Record) string { return recs[0].Member }

var stressSets = []stressSet{
	{"baseline", "the dataset as it is", 0.96, func(_ *rand.Rand, r []Record) []Record { return r }},
	{"sparse coordinates", "80% of incidents without coordinates", 0.93, func(rng *rand.Rand, recs []Record) []Record {
		for i := range recs {
			for j := range recs[i].Incidents {
				if rng.Float64() < 0.8 {
					in := &recs[i].Incidents[j]
					in.HasCoords, in.Lat, in.Lon, in.RadiusM = false, 0, 0, 0
				}
			}
		}
		return recs
	}},
	{"no victim counts", "no case gives a victim count", 0.93, func(_ *rand.Rand, recs []Record) []Record {
		for i := range recs {
			recs[i].VictimCount = -1
		}
		return recs
	}},
	{"typos", "one typo in half the place names and titles", 0.94, func(rng *rand.Rand, recs []Record) []Record {
		for i := range recs {
			for j := range recs[i].Incidents {
				if rng.Float64() < 0.5 {
					recs[i].Incidents[j].Place = typo(rng, recs[i].Incidents[j].Place)
				}
			}
			if rng.Float64() < 0.5 {
				w := strings.Fields(recs[i].Title)
				if len(w) > 0 {
					k := rng.IntN(len(w))
					w[k] = typo(rng, w[k])
					recs[i].Title = strings.Join(w, " ")
				}
			}
		}
		return recs
	}},
	{"transliteration drift", "half the Latin place names romanised another way (Kharkiv → Charkow, Zaporizhzhia → Saporischja)", 0.95, func(rng *rand.Rand, recs []Record) []Record {
		for i := range recs {
			for j := range recs[i].Incidents {
				if p := recs[i].Incidents[j].Place; rng.Float64() < 0.5 && p != "" && p[0] < utf8.RuneSelf {
					recs[i].Incidents[j].Place = drift(rng, p)
				}
			}
		}
		return recs
	}},
	{"renamed places, no coordinates", "one member writes renamed towns by their former names (Dnipro → Dnipropetrovsk) without coordinates", 0.95, func(_ *rand.Rand, recs []Record) []Record {
		m := firstMember(recs)
		for i := range recs {
			if recs[i].Member != m {
				continue
			}
			for j := range recs[i].Incidents {
				in := &recs[i].Incidents[j]
				if old, ok := renamed[in.Place]; ok {
					in.Place, in.HasCoords, in.Lat, in.Lon = old, false, 0, 0
				}
			}
		}
		return recs
	}},
	{"titles only", "only time, place, coordinates and title: no evidence, persons, units, crime codes or victims", 0.85, func(_ *rand.Rand, recs []Record) []Record {
		for i := range recs {
			recs[i].Evidence, recs[i].Persons, recs[i].Units, recs[i].CrimeCodes, recs[i].VictimCount = nil, nil, nil, nil, -1
		}
		return recs
	}},
	{"local time as UTC", "one member writes Kyiv wall-clock time with a UTC offset", 0.95, func(_ *rand.Rand, recs []Record) []Record {
		m := firstMember(recs)
		for i := range recs {
			if recs[i].Member != m {
				continue
			}
			for j := range recs[i].Incidents {
				in := &recs[i].Incidents[j]
				d := kyivOffset(in.Start)
				in.Start, in.End = in.Start.Add(d), in.End.Add(d)
			}
		}
		return recs
	}},
	{"a member writing in Russian", "one member writes places in Russian Cyrillic (Kharkiv → Харьков, Bakhmut → Артёмовск)", 0.95, func(_ *rand.Rand, recs []Record) []Record {
		m := firstMember(recs)
		for i := range recs {
			if recs[i].Member != m {
				continue
			}
			for j := range recs[i].Incidents {
				if ru, ok := russianPlaces[recs[i].Incidents[j].Place]; ok {
					recs[i].Incidents[j].Place = ru
				}
			}
		}
		return recs
	}},
	{"dense same place and day", "a third of the cases get a decoy: another incident at the same place on the same day, a few hours apart, with its own evidence and unit", 0.90, func(rng *rand.Rand, recs []Record) []Record {
		n := len(recs)
		for i := range n {
			if rng.Float64() >= 1.0/3 || len(recs[i].Incidents) == 0 {
				continue
			}
			d := recs[i]
			d.ID = fmt.Sprintf("%s-9999-%06d", d.Member, i)
			d.Incidents = slices.Clone(d.Incidents)
			shift := time.Duration(3+rng.IntN(6)) * time.Hour
			if rng.IntN(2) == 0 {
				shift = -shift
			}
			for j := range d.Incidents {
				d.Incidents[j].Start, d.Incidents[j].End = d.Incidents[j].Start.Add(shift), d.Incidents[j].End.Add(shift)
				if d.Incidents[j].HasCoords {
					d.Incidents[j].Lat += (rng.Float64() - 0.5) * 0.02
					d.Incidents[j].Lon += (rng.Float64() - 0.5) * 0.02
				}
			}
			d.Evidence = []string{fmt.Sprintf("%064x", rng.Uint64())}
			d.Persons, d.Units, d.VictimCount = nil, []string{"decoy unit " + d.ID}, int64(1+rng.IntN(20))
			recs = append(recs, d)
		}
		return recs
	}},
}

func init() {
	// All of them at once: the office whose register differs from the dev
	// set in every way above.
	var parts []stressSet
	for _, s := range stressSets {
		if s.name != "baseline" && s.name != "titles only" {
			parts = append(parts, s)
		}
	}
	// It collapses today (F1 0.47: the unsupervised fit takes 70% of the
	// candidate pairs for matches); its floor only keeps it from getting
	// worse until issue 18's EM is fixed, and is then to be raised.
	stressSets = append(stressSets, stressSet{"all of the above", "every perturbation above but titles only, one after the other", 0.44,
		func(rng *rand.Rand, recs []Record) []Record {
			for _, p := range parts {
				recs = p.apply(rng, recs)
			}
			return recs
		}})
}

// changed counts the records a perturbation changed or added.
func changed(base, recs []Record) int {
	n := len(recs) - len(base)
	for i := range base {
		if fmt.Sprint(base[i]) != fmt.Sprint(recs[i]) {
			n++
		}
	}
	return n
}

// TestStressSuite scores every set of the suite against its floor.
func TestStressSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("the stress suite matches the dev dataset ten times (-short)")
	}
	base, truth := loadDataset(t, "dedup-dev")
	only := os.Getenv("ACCORD_STRESS_SET")
	var table strings.Builder
	fmt.Fprintf(&table, "\n| set | precision | recall | F1 | floor |\n|---|---:|---:|---:|---:|\n")
	for k, set := range stressSets {
		if only != "" && !strings.Contains(set.name, only) {
			continue
		}
		recs := set.apply(rand.New(rand.NewPCG(18, uint64(k))), cloneRecords(base))
		if n := changed(base, recs); set.name != "baseline" && n == 0 {
			t.Errorf("%s: the perturbation changed no record", set.name)
		} else {
			t.Logf("%s: %d of %d records changed or added", set.name, n, len(recs))
		}
		ms, _, st, err := MatchAll(recs, Config{}, true)
		if err != nil {
			t.Fatalf("%s: %v", set.name, err)
		}
		pred := map[[2]string]bool{}
		for _, m := range ms {
			pred[pairOf(m.A, m.B)] = true
		}
		s := score(pred, truth, all)
		t.Logf("%s: %s", set.name, st)
		fmt.Fprintf(&table, "| %s | %.3f | %.3f | %.3f | %.2f |\n", set.name, s.p, s.r, s.f, set.floor)
		if s.f < set.floor {
			t.Errorf("%s (%s): F1 %.3f (precision %.3f, recall %.3f), below the floor %.2f", set.name, set.what, s.f, s.p, s.r, set.floor)
		}
	}
	t.Log(table.String())
}
