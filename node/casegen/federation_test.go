package casegen

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/matching"
	"github.com/accordfed/accord/node/caseformat"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

var fedMembers = []string{"UA", "PL", "DE", "LT", "NL"}

// fedRun generates a federation and returns each member's lines and the
// truth pairs as "a b".
func fedRun(t testing.TB, opts FederationOptions) (map[string][]byte, []string) {
	t.Helper()
	files := map[string][]byte{}
	var pairs []string
	err := GenerateFederation(opts, func(m string, c *accordv1.Case) error {
		line, err := caseformat.Append(nil, c)
		if err != nil {
			return err
		}
		files[m] = append(append(files[m], line...), '\n')
		return nil
	}, func(a, b string) error {
		pairs = append(pairs, a+" "+b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, pairs
}

// TestFederationValid parses every line with the strict parser of the
// member's node and checks the truth pairs.
func TestFederationValid(t *testing.T) {
	for _, opts := range []FederationOptions{
		{Members: fedMembers, Incidents: 3000, Seed: 1},
		{Members: []string{"UA", "FR", "EUROJUST", "SE"}, Incidents: 1000, Seed: 2, StartYear: 2023, SharedFraction: 0.6},
		{Members: []string{"PL"}, Incidents: 300, Seed: 3, StartYear: 1910},
	} {
		files, pairs := fedRun(t, opts)
		ids := map[string]string{}
		for m, data := range files {
			if !slices.Contains(opts.Members, m) {
				t.Fatalf("cases of %s, not a member", m)
			}
			for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
				c, errs := caseformat.Parse(line, int64(i+1), m)
				if errs != nil {
					t.Fatalf("%s: %v\n%s", m, caseformat.Join(errs), line)
				}
				if _, dup := ids[c.CaseId]; dup {
					t.Fatalf("case id %s twice", c.CaseId)
				}
				ids[c.CaseId] = m
				evIDs := map[string]bool{}
				for _, ev := range c.Evidence {
					if evIDs[ev.Id] {
						t.Fatalf("%s: evidence id %s twice", c.CaseId, ev.Id)
					}
					evIDs[ev.Id] = true
				}
			}
		}
		seen := map[string]bool{}
		for _, p := range pairs {
			a, b, _ := strings.Cut(p, " ")
			if a >= b {
				t.Errorf("pair %s: not a < b", p)
			}
			if ids[a] == "" || ids[b] == "" {
				t.Errorf("pair %s: unknown case", p)
			}
			if seen[p] {
				t.Errorf("pair %s twice", p)
			}
			seen[p] = true
		}
		if len(opts.Members) > 1 && len(pairs) < opts.Incidents/10 {
			t.Errorf("%v: only %d pairs for %d incidents", opts.Members, len(pairs), opts.Incidents)
		}
		t.Logf("%v: %d incidents, %d cases, %d truth pairs", opts.Members, opts.Incidents, len(ids), len(pairs))
	}
}

func TestFederationDeterministic(t *testing.T) {
	opts := FederationOptions{Members: fedMembers, Incidents: 500, Seed: 7}
	a, pa := fedRun(t, opts)
	b, pb := fedRun(t, opts)
	for _, m := range fedMembers {
		if !bytes.Equal(a[m], b[m]) {
			t.Errorf("%s: the same seed gave different cases", m)
		}
	}
	if !slices.Equal(pa, pb) {
		t.Error("the same seed gave different truth")
	}
	opts.Seed = 8
	c, _ := fedRun(t, opts)
	if bytes.Equal(a["UA"], c["UA"]) {
		t.Error("different seeds gave the same cases")
	}
}

// fedEvents generates with the test hook and returns, per incident, its
// members and cases.
type fedIncident struct {
	e     *event
	cases []*accordv1.Case
}

func fedEvents(t *testing.T, opts FederationOptions) []fedIncident {
	t.Helper()
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		t.Fatal(err)
	}
	g := newFedGen(opts)
	var out []fedIncident
	g.onEvent = func(e *event, cases []*accordv1.Case) { out = append(out, fedIncident{e, cases}) }
	nop := func(string, *accordv1.Case) error { return nil }
	if err := g.run(nop, func(a, b string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFederationShape(t *testing.T) {
	for _, frac := range []float64{0.35, 0.6, 0.1} {
		opts := FederationOptions{Members: fedMembers, Incidents: 5000, Seed: 11, SharedFraction: frac}
		evs := fedEvents(t, opts)
		var shared, spelled, multi, three float64
		sameDay := 0
		seenDay := map[string]int{}
		for _, x := range evs {
			ms := map[string]int{}
			for _, c := range x.cases {
				ms[c.Country]++
				if c.Incidents[0].Place == "" {
					t.Fatal("no place")
				}
			}
			if len(ms) >= 2 {
				shared++
				if len(ms) == 3 {
					three++
				}
				// Spellings of the place across the members' cases.
				sp := map[string]bool{}
				for _, c := range x.cases {
					sp[c.Incidents[0].Place] = true
				}
				if len(sp) >= 2 {
					spelled++
				}
			}
			for _, n := range ms {
				if n > 1 {
					multi++
					break
				}
			}
			k := fmt.Sprint(x.e.place, kyivWall(x.e.at).Format(time.DateOnly))
			seenDay[k]++
			if seenDay[k] == 2 {
				sameDay++
			}
		}
		n := float64(len(evs))
		t.Logf("shared %.3f (want %.2f), with 3 members %.3f, with several cases of one member %.3f, spelled differently %.3f, same town and day %d",
			shared/n, frac, three/n, multi/n, spelled/shared, sameDay)
		if math.Abs(shared/n-frac) > 0.03 {
			t.Errorf("share of shared incidents %.3f, want %.2f", shared/n, frac)
		}
		if spelled/shared < 0.6 {
			t.Errorf("only %.2f of shared incidents have two spellings of the place", spelled/shared)
		}
		if multi == 0 || three == 0 {
			t.Errorf("no member with several cases (%v) or no incident of three members (%v)", multi, three)
		}
		if sameDay < 20 {
			t.Errorf("only %d settlements and days with several incidents", sameDay)
		}
	}
}

// TestFederationStyles checks that members write their cases their way.
func TestFederationStyles(t *testing.T) {
	evs := fedEvents(t, FederationOptions{Members: append(fedMembers, "FR"), Incidents: 3000, Seed: 5})
	cyrillic := func(s string) bool {
		return strings.ContainsAny(s, "абвгдеєжзиіїйклмнопрстуфхцчшщьюяАБВГДЕЄЖЗИІЇЙКЛМНОПРСТУФХЦЧШЩЮЯ")
	}
	count := map[string]map[string]int{}
	add := func(m, k string) {
		if count[m] == nil {
			count[m] = map[string]int{}
		}
		count[m][k]++
	}
	for _, x := range evs {
		for _, c := range x.cases {
			m := c.Country
			in := c.Incidents[0]
			add(m, "cases")
			if cyrillic(in.Place) {
				add(m, "cyrillic place")
			}
			if cyrillic(c.Title) {
				add(m, "cyrillic title")
			}
			if strings.HasSuffix(in.Start, "+00:00") || strings.HasSuffix(in.Start, "Z") {
				add(m, "utc")
			}
			for _, code := range c.CrimeCodes {
				if strings.HasPrefix(code, m+"-CC-") {
					add(m, "national code")
					break
				}
			}
			if strings.ContainsAny(in.Place, "óżłś") {
				add(m, "polish")
			}
			if strings.Contains(in.Place, "sch") || strings.Contains(in.Place, "iw") {
				add(m, "german")
			}
			for _, w := range []string{" w miejscowości ", " am ", " op ", "), "} {
				if strings.Contains(c.Title, w) {
					add(m, "local title")
				}
			}
		}
	}
	for m, c := range count {
		t.Logf("%s: %v", m, c)
	}
	if count["UA"]["cyrillic place"] < count["UA"]["cases"]/2 || count["UA"]["utc"] != 0 {
		t.Errorf("UA: %v", count["UA"])
	}
	if count["PL"]["polish"] == 0 || count["PL"]["local title"] == 0 || count["PL"]["national code"] == 0 {
		t.Errorf("PL: %v", count["PL"])
	}
	if count["DE"]["german"] == 0 || count["DE"]["utc"] != count["DE"]["cases"] {
		t.Errorf("DE: %v", count["DE"])
	}
	if count["FR"]["cyrillic place"] != 0 || count["FR"]["national code"] != 0 {
		t.Errorf("FR: %v", count["FR"])
	}
}

func TestFederationOptions(t *testing.T) {
	nop := func(string, *accordv1.Case) error { return nil }
	nopT := func(a, b string) error { return nil }
	for _, opts := range []FederationOptions{
		{Incidents: 1},
		{Members: []string{"UA", "UA"}, Incidents: 1},
		{Members: []string{"ua"}, Incidents: 1},
		{Members: []string{"UA"}, Incidents: -1},
		{Members: []string{"UA"}, Incidents: MaxFederationIncidents + 1},
		{Members: []string{"UA"}, Incidents: 1, SharedFraction: 1.5},
		{Members: []string{"UA"}, Incidents: 1, StartYear: 1800},
	} {
		if err := GenerateFederation(opts, nop, nopT); !errors.Is(err, ErrOptions) {
			t.Errorf("%+v: %v, want ErrOptions", opts, err)
		}
	}
	stop := errors.New("stop")
	if err := GenerateFederation(FederationOptions{Members: fedMembers, Incidents: 100}, nop, func(a, b string) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("truth's error: %v", err)
	}
	n := 0
	err := GenerateFederation(FederationOptions{Members: fedMembers, Incidents: 100}, func(string, *accordv1.Case) error {
		if n++; n == 5 {
			return stop
		}
		return nil
	}, nopT)
	if !errors.Is(err, stop) || n != 5 {
		t.Errorf("fn's error: %v after %d cases", err, n)
	}
	// No shared incidents when asked for none.
	files, pairs := fedRun(t, FederationOptions{Members: fedMembers, Incidents: 300, SharedFraction: -1})
	for _, p := range pairs {
		a, b, _ := strings.Cut(p, " ")
		if a[:3] != b[:3] {
			t.Errorf("pair %s across members with SharedFraction -1", p)
		}
	}
	if len(files) < 2 {
		t.Errorf("cases of %d members", len(files))
	}
}

// TestTransliterate checks the schemes on the place table and the names.
func TestTransliterate(t *testing.T) {
	for _, p := range places {
		if got := transliterate(p.cyrillic, schemeNational); got != p.name {
			t.Errorf("national %s: %s, want %s", p.cyrillic, got, p.name)
		}
	}
	for _, n := range slices.Concat(maleFirst, femaleFirst, surnames) {
		if got := transliterate(n.cyrillic, schemeNational); got != n.latin {
			t.Errorf("national %s: %s, want %s", n.cyrillic, got, n.latin)
		}
	}
	for _, tc := range []struct {
		in   string
		sc   scheme
		want string
	}{
		{"Харків", schemeRussian, "Kharkov"},
		{"Чернігів", schemeRussian, "Chernigov"},
		{"Київ", schemeRussian, "Kiev"},
		{"Курахове", schemeRussian, "Kurakhovo"},
		{"Харків", schemePolish, "Charków"},
		{"Львів", schemePolish, "Lwów"},
		{"Полтава", schemePolish, "Połtawa"},
		{"Хмельницький", schemePolish, "Chmelnycki"},
		{"Ірпінь", schemePolish, "Irpiń"},
		{"Харків", schemeGerman, "Charkiw"},
		{"Київ", schemeGerman, "Kyjiw"},
		{"Запоріжжя", schemeGerman, "Saporischschja"},
		{"Одеса", schemeGerman, "Odessa"},
		{"Ізюм", schemeGerman, "Isjum"},
		{"Житомир", schemeDutch, "Zjytomyr"},
		{"Луцьк", schemeDutch, "Loetsk"},
		{"Харків", schemeLithuanian, "Charkivas"},
		{"Київ", schemeLithuanian, "Kyjivas"},
		{"Біла Церква", schemeGerman, "Bila Zerkwa"},
		{"Івано-Франківськ", schemeNational, "Ivano-Frankivsk"},
		{"ШЕВЧЕНКО", schemeGerman, "SCHEWTSCHENKO"},
		{"Харків", schemeCyrillic, "Харків"},
	} {
		if got := transliterate(tc.in, tc.sc); got != tc.want {
			t.Errorf("%v %s: %s, want %s", tc.sc, tc.in, got, tc.want)
		}
	}
}

// TestFederationMatching runs the matching engine on a generated
// federation and reports its precision and recall against the truth. It
// only asserts that most true pairs are found: the engine is tuned
// elsewhere.
func TestFederationMatching(t *testing.T) {
	if testing.Short() {
		t.Skip("matching 2,000 incidents: not with -short")
	}
	tokens := matching.OfflineTokens()
	var recs []matching.Record
	truth := map[[2]string]bool{}
	err := GenerateFederation(FederationOptions{Members: fedMembers, Incidents: 2000, Seed: 3}, func(_ string, c *accordv1.Case) error {
		r, err := matching.FromCase(c, tokens)
		recs = append(recs, r)
		return err
	}, func(a, b string) error {
		truth[[2]string{a, b}] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ms, _, st, err := matching.MatchAll(recs, matching.Config{}, true)
	if err != nil {
		t.Fatal(err)
	}
	tp := 0
	for _, m := range ms {
		if truth[[2]string{m.A, m.B}] {
			tp++
		}
	}
	p := float64(tp) / math.Max(1, float64(len(ms)))
	r := float64(tp) / math.Max(1, float64(len(truth)))
	f1 := 2 * p * r / math.Max(1e-9, p+r)
	t.Logf("%d cases, %d true pairs, %d matches (%+v) in %v: precision %.3f, recall %.3f, F1 %.3f",
		len(recs), len(truth), len(ms), st, time.Since(start).Round(time.Millisecond), p, r, f1)
	if r <= 0.5 {
		t.Errorf("recall %.3f, want > 0.5", r)
	}
}

// BenchmarkGenerateFederation: ns/op is per incident.
func BenchmarkGenerateFederation(b *testing.B) {
	b.ReportAllocs()
	cases := 0
	err := GenerateFederation(FederationOptions{Members: fedMembers, Incidents: b.N, Seed: 1},
		func(string, *accordv1.Case) error { cases++; return nil }, func(a, b string) error { return nil })
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(cases)/b.Elapsed().Seconds(), "cases/s")
}
