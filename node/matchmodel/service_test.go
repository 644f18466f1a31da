package matchmodel

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/matching"
	"github.com/accordfed/accord/node/grpcserver"
	"github.com/accordfed/accord/node/matcher"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func TestGetMatchingModel(t *testing.T) {
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	model := matching.DefaultModel()
	fit := matcher.Fit{Model: model, At: at, Stats: matching.Stats{Records: 1200, CandidatePairs: 9000, EMPairs: 4000, NonMatchPairs: 20000,
		Fallback: "m < u for place \"same name\"; u fixed"}}
	s := New("UA", func() (matcher.Fit, bool) { return fit, true })
	r, err := s.GetMatchingModel(context.Background(), &accordv1.GetMatchingModelRequest{})
	if err != nil {
		t.Fatal(err)
	}
	m := r.GetModel()
	prior, _, comps := model.Describe()
	if m.GetPrior() != prior || m.GetDefaultModel() || !m.GetFittedAt().AsTime().Equal(at) || m.GetFittedPairs() != 4000 ||
		m.GetCandidatePairs() != 9000 || m.GetNonMatchPairs() != 20000 || m.GetRecords() != 1200 || m.GetGuard() != fit.Stats.Fallback {
		t.Fatalf("model %v", m)
	}
	if len(m.GetComparisons()) != len(comps) {
		t.Fatalf("%d comparisons, want %d", len(m.GetComparisons()), len(comps))
	}
	for i, c := range m.GetComparisons() {
		if c.GetName() != comps[i].Name || len(c.GetLevels()) != len(comps[i].Levels) {
			t.Fatalf("comparison %d: %v", i, c)
		}
		for j, l := range c.GetLevels() {
			want := comps[i].Levels[j]
			if l.GetLabel() != want.Label || l.GetM() != want.M || l.GetU() != want.U || l.GetWeight() != want.Weight || want.M <= 0 || want.U <= 0 {
				t.Errorf("%s level %d: %v, want %+v", c.GetName(), j, l, want)
			}
		}
	}

	// No matcher: FailedPrecondition, saying why.
	none := New("UA", func() (matcher.Fit, bool) { return matcher.Fit{}, false })
	if _, err := none.GetMatchingModel(context.Background(), &accordv1.GetMatchingModelRequest{}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("no matcher: %v", err)
	}
}

func TestAllowOwnUsersOnly(t *testing.T) {
	p := grpcserver.NewPolicy()
	New("UA", nil).Allow(p)
	method := "/" + accordv1.MatchingService_ServiceDesc.ServiceName + "/GetMatchingModel"
	for _, tc := range []struct {
		id identity.Identity
		ok bool
	}{
		{identity.Identity{Federation: "f", Member: "UA", Kind: identity.KindUser, Name: "analyst"}, true},
		{identity.Identity{Federation: "f", Member: "PL", Kind: identity.KindUser, Name: "analyst"}, false},
		{identity.Identity{Federation: "f", Member: "UA", Kind: identity.KindNode, Name: "ua-1"}, false},
	} {
		err := p.Check(method, tc.id)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, grpcserver.ErrPermissionDenied)) {
			t.Errorf("%s: %v", tc.id, err)
		}
	}
}
