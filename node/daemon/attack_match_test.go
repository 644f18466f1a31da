package daemon_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registry"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// matchCase is one office's case of the one incident every case of
// TestAttackMatchDisclosure records: the same hour, coordinates, crime code
// and evidence item, so that every pair of them matches.
type matchCase struct {
	id    string
	sens  accordv1.Sensitivity
	place string
	unit  string
	// victims is the victim count: close to the others' (so that the
	// signal argues for a match and its words quote it) and distinct.
	victims int64
}

func (c matchCase) build() *accordv1.Case {
	lat, lon := 49.9935, 36.2304
	member, _, _ := strings.Cut(c.id, "-")
	return &accordv1.Case{
		CaseId: c.id, Country: member, Title: "Shelling of a residential block", Sensitivity: c.sens,
		CrimeCodes: []string{"RS-8.2.b.i"}, VictimCount: &c.victims,
		Incidents: []*accordv1.Incident{{Start: "2022-03-01T06:00:00Z", End: "2022-03-01T07:00:00Z",
			Precision: accordv1.TimePrecision_TIME_PRECISION_HOUR, Place: c.place, Region: "Kharkiv oblast", Lat: &lat, Lon: &lon}},
		Perpetrators: []*accordv1.Perpetrator{{Kind: accordv1.PerpetratorKind_PERPETRATOR_KIND_UNIT, Name: c.unit}},
		Evidence:     []*accordv1.EvidenceRef{{Id: c.id + "-E1", Sha256: strings.Repeat("cd", 32), MediaType: "video/mp4"}},
	}
}

// TestAttackMatchDisclosure: DE, PL and UA each hold cases of one
// incident: shared, national, jit in a team, and jit in no team. A member
// whose node proposed every match it found (as nodes did before issue 13)
// disclosed its national cases and its jit cases to members outside their
// teams, through the case refs and the reasons of match decisions that
// the registry replicates and shows to the other involved member. Read as
// each member, no decision names a national case or a jit case the other
// involved member may not see, and no reason carries a place, unit or
// victim count the other involved member never received; the matches
// that may be proposed are.
func TestAttackMatchDisclosure(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "DE", "PL", "UA")
	nodes, _ := startFederation(t, fed, "DE", "PL", "UA")
	byMember := map[string]*regNode{}
	for _, n := range nodes {
		byMember[n.member] = n
	}
	de, pl, ua := byMember["DE"], byMember["PL"], byMember["UA"]

	const (
		shared   = accordv1.Sensitivity_SENSITIVITY_FEDERATION
		national = accordv1.Sensitivity_SENSITIVITY_NATIONAL
		jit      = accordv1.Sensitivity_SENSITIVITY_JIT
	)
	cases := []matchCase{
		{"DE-2022-000001", shared, "Charkiw", "64. Motorisierte Schützenbrigade", 12},
		{"DE-2022-000002", national, "Saltiwka-Nord", "Wagner-Sturmabteilung 7", 13},
		{"DE-2022-000003", jit, "Charkiw-Ost", "Kadyrow-Bataillon Sever", 14}, // team of DE and PL
		{"DE-2022-000004", jit, "Piatychatky", "Rosgwardija OMON 3", 15},      // in no team
		{"PL-2022-000001", shared, "Charków", "64 OMSBr", 12},
		{"PL-2022-000002", national, "Sałtiwka Północna", "Grupa Wagnera 9", 16},
		{"PL-2022-000003", jit, "Charków Wschód", "Batalion Wostok", 17}, // team of PL and UA
		{"PL-2022-000004", jit, "Osnowa", "Pułk Achmat 2", 18},           // in no team
		{"UA-2022-000001", shared, "Харків", "64-та окрема мотострілецька бригада", 12},
		{"UA-2022-000002", national, "Північна Салтівка", "Вагнер штурмовий загін 11", 19},
		{"UA-2022-000003", jit, "Жуковського", "Ахмат полк 5", 20}, // in no team
	}
	byID := map[string]matchCase{}
	for _, c := range cases {
		byID[c.id] = c
	}

	// The teams, before the cases: DE's with PL (DE-2022-000003), PL's
	// with UA (PL-2022-000003).
	deTeam := mustExecute(t, de.user, "am-jit-de", registry.CreateJIT{Name: "Kharkiv shelling (DE)", LegalBasis: "EU JIT model agreement", Invite: []string{"PL"}})
	mustExecute(t, pl.user, "am-accept-de", registry.RespondToJIT{JIT: deTeam.GetId(), Accept: true})
	mustExecute(t, de.user, "am-link-de", registry.LinkCase{JIT: deTeam.GetId(), Case: registry.CaseRef{Member: "DE", CaseID: "DE-2022-000003"}})
	plTeam := mustExecute(t, pl.user, "am-jit-pl", registry.CreateJIT{Name: "Kharkiv shelling (PL)", LegalBasis: "EU JIT model agreement", Invite: []string{"UA"}})
	mustExecute(t, ua.user, "am-accept-pl", registry.RespondToJIT{JIT: plTeam.GetId(), Accept: true})
	mustExecute(t, pl.user, "am-link-pl", registry.LinkCase{JIT: plTeam.GetId(), Case: registry.CaseRef{Member: "PL", CaseID: "PL-2022-000003"}})
	// audience is who may see each case besides its own member.
	audience := func(id string) []string {
		switch byID[id].sens {
		case shared:
			return []string{"DE", "PL", "UA"}
		case jit:
			switch id {
			case "DE-2022-000003":
				return []string{"DE", "PL"}
			case "PL-2022-000003":
				return []string{"PL", "UA"}
			}
		}
		return nil
	}

	for _, c := range cases {
		n := byMember[strings.SplitN(c.id, "-", 2)[0]]
		if _, err := n.d.Store().CreateCase(c.build(), sealerFor(t, n.member)); err != nil {
			t.Fatal(err)
		}
	}

	// What may be proposed is, in time.
	want := [][2]string{
		{"DE-2022-000001", "PL-2022-000001"}, {"DE-2022-000001", "UA-2022-000001"}, {"PL-2022-000001", "UA-2022-000001"},
		{"DE-2022-000003", "PL-2022-000001"}, {"PL-2022-000003", "UA-2022-000001"},
	}
	decisions := func() map[string]registry.MatchDecision {
		out := map[string]registry.MatchDecision{}
		for _, n := range nodes {
			for _, d := range query[[]registry.MatchDecision](t, n.user, "matches", "") {
				out[d.ID] = d
			}
		}
		return out
	}
	pair := func(d registry.MatchDecision) [2]string {
		p := [2]string{d.Cases[0].CaseID, d.Cases[1].CaseID}
		if p[1] < p[0] {
			p[0], p[1] = p[1], p[0]
		}
		return p
	}
	// Matching goes on at every node a moment after the wanted decisions
	// are in (a node proposes one pair after another): the decisions are
	// read once they have stayed the same for a second.
	var (
		all     map[string]registry.MatchDecision
		last    string
		lastSet time.Time
	)
	raftnettest.WaitFor(t, 60*time.Second, func() error {
		all = decisions()
		var have [][2]string
		for _, d := range all {
			have = append(have, pair(d))
		}
		slices.SortFunc(have, func(x, y [2]string) int { return strings.Compare(x[0]+x[1], y[0]+y[1]) })
		for _, w := range want {
			if !slices.Contains(have, w) {
				return fmt.Errorf("no decision for %s ~ %s yet (have %v)", w[0], w[1], have)
			}
		}
		if key := fmt.Sprint(have); key != last {
			last, lastSet = key, time.Now()
		}
		if time.Since(lastSet) < time.Second {
			return fmt.Errorf("decisions still changing: %s", last)
		}
		return nil
	})

	// The values of a case that words could quote.
	values := func(c matchCase) []string {
		return []string{c.place, c.unit, fmt.Sprint(c.victims)}
	}
	word := func(v string) *regexp.Regexp {
		return regexp.MustCompile(`(^|[^\pL\pN])` + regexp.QuoteMeta(v) + `($|[^\pL\pN])`)
	}
	for _, d := range all {
		p := pair(d)
		involved := []string{d.Cases[0].Member, d.Cases[1].Member}
		for _, ref := range d.Cases {
			c := byID[ref.CaseID]
			for _, m := range involved {
				if !slices.Contains(audience(c.id), m) && m != ref.Member {
					t.Errorf("%s (%s ~ %s) names %s case %s to %s, who may not see it", d.ID, p[0], p[1], c.sens, c.id, m)
				}
			}
		}
		// No reason quotes a value of a case one of the two may not see.
		for _, c := range cases {
			visible := true
			for _, m := range involved {
				visible = visible && (slices.Contains(audience(c.id), m) || strings.HasPrefix(c.id, m+"-"))
			}
			if visible && c.sens == shared {
				continue
			}
			// Not visible to one of them; or a jit case both may see:
			// the registry replicates the words to every member's
			// server, so they carry none of its values either.
			for _, r := range d.Reasons {
				for _, v := range values(c) {
					if word(v).MatchString(r) {
						t.Errorf("%s (%s ~ %s): reason %q carries %q of %s case %s", d.ID, p[0], p[1], r, v, c.sens, c.id)
					}
				}
			}
		}
	}
	if t.Failed() {
		for _, d := range all {
			t.Logf("%s %s ~ %s: %q", d.ID, d.Cases[0].CaseID, d.Cases[1].CaseID, d.Reasons)
		}
	}
	t.Logf("%d match decisions, none disclosing a case or a value", len(all))

	// DE links its jit case in no team to a new team with UA: the case
	// reaches UA, and the match withheld until now is proposed, its words
	// bare of the case's values.
	later := mustExecute(t, de.user, "am-jit-de2", registry.CreateJIT{Name: "Kharkiv shelling (DE, UA)", LegalBasis: "EU JIT model agreement", Invite: []string{"UA"}})
	mustExecute(t, ua.user, "am-accept-de2", registry.RespondToJIT{JIT: later.GetId(), Accept: true})
	mustExecute(t, de.user, "am-link-de2", registry.LinkCase{JIT: later.GetId(), Case: registry.CaseRef{Member: "DE", CaseID: "DE-2022-000004"}})
	var linked registry.MatchDecision
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		for _, d := range query[[]registry.MatchDecision](t, ua.user, "matches", "") {
			if pair(d) == [2]string{"DE-2022-000004", "UA-2022-000001"} {
				linked = d
				return nil
			}
		}
		return fmt.Errorf("UA sees no decision of DE-2022-000004 ~ UA-2022-000001")
	})
	for _, r := range linked.Reasons {
		for _, v := range values(byID["DE-2022-000004"]) {
			if word(v).MatchString(r) {
				t.Errorf("%s: reason %q carries %q of DE's jit case", linked.ID, r, v)
			}
		}
	}
	for _, d := range query[[]registry.MatchDecision](t, pl.user, "matches", "") {
		if p := pair(d); p[0] == "DE-2022-000004" {
			t.Errorf("PL, outside DE's new team, sees %s naming DE-2022-000004", d.ID)
		}
	}
	t.Logf("after the link: %s %q", linked.ID, linked.Reasons)
}
