package matcher

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/feed"
	"github.com/accordfed/accord/federation/matching"
	"github.com/accordfed/accord/federation/records"
	"github.com/accordfed/accord/federation/registry"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// fakeStore is an office's cases and its federation index, in memory.
type fakeStore struct {
	mu      sync.Mutex
	cases   map[string]*accordv1.Case
	fed     map[string][]byte // case id -> signed record
	changes []feed.Change
}

func newFakeStore() *fakeStore {
	return &fakeStore{cases: map[string]*accordv1.Case{}, fed: map[string][]byte{}}
}

func (s *fakeStore) put(c *accordv1.Case) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.Version++
	s.cases[c.GetCaseId()] = c
	s.changes = append(s.changes, feed.Change{Seq: uint64(len(s.changes) + 1), CaseID: c.GetCaseId()})
}

// receive stores another member's case as it arrives through the
// exchange: its projection (or a tombstone), in a signed record.
func (s *fakeStore) receive(t *testing.T, c *accordv1.Case, tombstone bool) {
	t.Helper()
	fr := &accordv1.FeedRecord{Origin: memberOf(c.GetCaseId()), CaseId: c.GetCaseId(), Tombstone: tombstone}
	if !tombstone {
		c.Version++
		sc, _, err := records.Project(c, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		fr.Case = sc
	}
	rec, err := proto.Marshal(fr)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := proto.Marshal(&accordv1.SignedRecord{Record: rec})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.fed[c.GetCaseId()] = raw
	s.mu.Unlock()
}

func (s *fakeStore) Changes(after uint64, limit int) ([]feed.Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []feed.Change
	for _, c := range s.changes {
		if c.Seq > after && len(out) < limit {
			out = append(out, c)
		}
	}
	return out, nil
}
func (s *fakeStore) Feed() (feed.Info, error) { return feed.Info{}, nil }
func (s *fakeStore) Changed() <-chan struct{} { return make(chan struct{}) }
func (s *fakeStore) FindCase(id string) (*accordv1.Case, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cases[id], nil
}
func (s *fakeStore) ForEachCase(fn func(*accordv1.Case) error) error {
	s.mu.Lock()
	cs := slices.Collect(func(yield func(*accordv1.Case) bool) {
		for _, c := range s.cases {
			if !yield(c) {
				return
			}
		}
	})
	s.mu.Unlock()
	for _, c := range cs {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}
func (s *fakeStore) FedScan(origin string, fn func(origin, caseID string, seq uint64, record []byte) error) error {
	s.mu.Lock()
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range s.fed {
			if !yield(id) {
				return
			}
		}
	})
	s.mu.Unlock()
	for _, id := range ids {
		if origin != "" && memberOf(id) != origin {
			continue
		}
		s.mu.Lock()
		raw := s.fed[id]
		s.mu.Unlock()
		if err := fn(memberOf(id), id, 1, raw); err != nil {
			return err
		}
	}
	return nil
}

// kharkiv is one incident as an office records it: the same hour, place
// and unit as every other office's case of it, so that all of them match.
func kharkiv(id string, sens accordv1.Sensitivity, place, unit string, victims int64) *accordv1.Case {
	lat, lon := 49.9935, 36.2304
	return &accordv1.Case{
		CaseId: id, Country: memberOf(id), Title: "Shelling of a residential block", Sensitivity: sens,
		CrimeCodes: []string{"RS-8.2.b.i"}, VictimCount: &victims,
		Incidents: []*accordv1.Incident{{Start: "2022-03-01T06:00:00Z", End: "2022-03-01T07:00:00Z",
			Precision: accordv1.TimePrecision_TIME_PRECISION_HOUR, Place: place, Lat: &lat, Lon: &lon}},
		Perpetrators: []*accordv1.Perpetrator{{Kind: accordv1.PerpetratorKind_PERPETRATOR_KIND_UNIT, Name: unit}},
		Evidence:     []*accordv1.EvidenceRef{{Id: id + "-E1", Sha256: strings.Repeat("ab", 32)}},
	}
}

// TestProposalsRespectSensitivity: of PL's cases of one incident, the
// national one is not matched at all; the jit one in a team with UA is
// proposed to UA with reasons that name no value; the jit one in no team
// is withheld; the shared one is proposed with full reasons. Nothing of
// the national case (its place, unit or victim count) is in any proposal.
func TestProposalsRespectSensitivity(t *testing.T) {
	st := newFakeStore()
	st.put(kharkiv("PL-2022-000001", accordv1.Sensitivity_SENSITIVITY_FEDERATION, "Charków", "64 OMSBr", 5))
	st.put(kharkiv("PL-2022-000002", accordv1.Sensitivity_SENSITIVITY_NATIONAL, "Saltivka-Nord", "Wagner detachment 7", 41))
	st.put(kharkiv("PL-2022-000003", accordv1.Sensitivity_SENSITIVITY_JIT, "Charków", "64 OMSBr", 5))
	st.put(kharkiv("PL-2022-000004", accordv1.Sensitivity_SENSITIVITY_JIT, "Charków", "64 OMSBr", 5))
	st.receive(t, kharkiv("UA-2022-000101", accordv1.Sensitivity_SENSITIVITY_FEDERATION, "Харків", "64th Separate Motor Rifle Brigade", 5), false)
	reg := &fakeRegistry{}
	var asked []string
	m := New("PL", st, reg, Options{JITVisible: func(member, caseID string) bool {
		asked = append(asked, member+" "+caseID)
		return member == "UA" && caseID == "PL-2022-000003"
	}})
	if err := m.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := m.index.Len(); n != 4 {
		t.Errorf("index holds %d records, want 4 (the national case left out)", n)
	}
	got := map[string]registry.ProposeMatch{}
	for _, p := range reg.proposed {
		got[p.Cases[0].CaseID] = p
		for _, c := range p.Cases {
			if c.CaseID == "PL-2022-000002" {
				t.Errorf("a proposal names the national case: %+v", p)
			}
		}
		for _, r := range p.Reasons {
			for _, private := range []string{"Saltivka", "Wagner", "41"} {
				if strings.Contains(r, private) {
					t.Errorf("reason %q of %s carries %q of the national case", r, p.Cases[0].CaseID, private)
				}
			}
		}
	}
	if len(got) != 2 || got["PL-2022-000001"].Cases == nil || got["PL-2022-000003"].Cases == nil {
		t.Fatalf("proposed %+v, want PL-2022-000001 and PL-2022-000003 with UA's case", reg.proposed)
	}
	if w := m.Withheld(); w != 1 {
		t.Errorf("withheld %d, want 1 (the jit case in no team with UA)", w)
	}
	if !slices.Contains(asked, "UA PL-2022-000004") {
		t.Errorf("the jit case's audience was not asked: %q", asked)
	}
	shared, jit := strings.Join(got["PL-2022-000001"].Reasons, "; "), strings.Join(got["PL-2022-000003"].Reasons, "; ")
	if !strings.Contains(shared, "Charków") {
		t.Errorf("reasons of the shared pair do not name the places: %s", shared)
	}
	if jit == "" {
		t.Error("the jit pair has no reasons")
	}
	for _, v := range []string{"Charków", "Харків", "OMSBr", "Brigade", "(5)"} {
		if strings.Contains(jit, v) {
			t.Errorf("reasons of the jit pair carry %q (the registry replicates them to every member): %s", v, jit)
		}
	}
	t.Logf("shared: %s", shared)
	t.Logf("jit:    %s", jit)
}

// TestOwnRecordIsTheProjection: the office's case is matched as the
// other members receive it (a person's name blanked from the title), not
// as the office holds it.
func TestOwnRecordIsTheProjection(t *testing.T) {
	c := kharkiv("PL-2022-000001", accordv1.Sensitivity_SENSITIVITY_FEDERATION, "Charków", "64 OMSBr", 5)
	c.Title = "Killing of Olena Hrytsenko in Charków"
	c.Persons = []*accordv1.Person{{Role: accordv1.PersonRole_PERSON_ROLE_VICTIM, Name: "Olena Hrytsenko"}}
	m := New("PL", nil, &fakeRegistry{}, Options{})
	r, ok := m.ownRecord(c, nil)
	if !ok {
		t.Fatal("a shared case is not matched")
	}
	if strings.Contains(r.Title, "Hrytsenko") || strings.Contains(r.Title, "Olena") {
		t.Errorf("the record's title %q carries the victim's name, which the other members never get", r.Title)
	}
	sc, _, err := records.Project(c, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := matching.FromShared(sc)
	if err != nil {
		t.Fatal(err)
	}
	if r.Title != want.Title || r.VictimCount != want.VictimCount || !slices.Equal(r.Units, want.Units) {
		t.Errorf("record %+v, want the projection's %+v", r, want)
	}
	c.Sensitivity = accordv1.Sensitivity_SENSITIVITY_NATIONAL
	if _, ok := m.ownRecord(c, nil); ok {
		t.Error("a national case is matched")
	}
}

// TestForgetsWhatNoLongerLeaves: a case made national is dropped from the
// index at its next change, and a foreign case withdrawn by a tombstone
// at its next arrival; neither is proposed afterwards.
func TestForgetsWhatNoLongerLeaves(t *testing.T) {
	st := newFakeStore()
	pl := kharkiv("PL-2022-000001", accordv1.Sensitivity_SENSITIVITY_FEDERATION, "Charków", "64 OMSBr", 5)
	st.put(pl)
	ua := kharkiv("UA-2022-000101", accordv1.Sensitivity_SENSITIVITY_JIT, "Харків", "64th Separate Motor Rifle Brigade", 5)
	st.receive(t, ua, false)
	reg := &fakeRegistry{}
	m := New("PL", st, reg, Options{})
	ctx := context.Background()
	if err := m.load(ctx); err != nil {
		t.Fatal(err)
	}
	if len(reg.proposed) != 1 {
		t.Fatalf("proposed %+v, want PL's shared case with UA's jit case (PL is in UA's team)", reg.proposed)
	}
	for _, r := range reg.proposed[0].Reasons {
		if strings.Contains(r, "Харків") || strings.Contains(r, "Brigade") {
			t.Errorf("reason %q of a pair with UA's jit case names its values", r)
		}
	}

	// UA's case is withdrawn from PL (PL left the team): a tombstone.
	st.receive(t, ua, true)
	m.Federated("UA", []string{ua.GetCaseId()})
	m.federatedChanges(ctx)
	if n := m.index.Len(); n != 1 {
		t.Errorf("index holds %d records after UA's tombstone, want 1", n)
	}

	// PL makes its case national.
	pl2 := proto.CloneOf(pl)
	pl2.Sensitivity = accordv1.Sensitivity_SENSITIVITY_NATIONAL
	st.put(pl2)
	if _, err := m.localChanges(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if n := m.index.Len(); n != 0 {
		t.Errorf("index holds %d records after PL's case became national, want 0", n)
	}
	if _, ok := m.sens.Load(pl.GetCaseId()); ok {
		t.Error("the national case's sensitivity is still held")
	}

	// UA's case comes back (shared now): nothing to match it with.
	reg.proposed = nil
	ua.Sensitivity = accordv1.Sensitivity_SENSITIVITY_FEDERATION
	st.receive(t, ua, false)
	m.Federated("UA", []string{ua.GetCaseId()})
	m.federatedChanges(ctx)
	if len(reg.proposed) != 0 {
		t.Errorf("proposed %+v after PL's case became national", reg.proposed)
	}
}
