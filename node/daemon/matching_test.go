package daemon_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/matching"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/custody"
	"github.com/accordfed/accord/node/daemon/daemontest"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func sealerFor(t *testing.T, member string) store.Actor {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, err := custody.NewSealer(key, "spiffe://accord.test/member/"+member+"/node/"+strings.ToLower(member)+"-1")
	if err != nil {
		t.Fatal(err)
	}
	return store.Actor{ID: "spiffe://accord.test/member/" + member + "/user/analyst", Sealer: s}
}

// TestMatchAcrossMembers: two offices record the same incident their own
// way; a match decision with reasons appears at both within seconds; a
// rejected match is not proposed again until a case changes.
func TestMatchAcrossMembers(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	nodes, _ := startFederation(t, fed, "UA", "PL")
	ua, pl := nodes[0], nodes[1]
	lat, lon := 49.9935, 36.2304
	uaCase := &accordv1.Case{
		CaseId: "UA-2022-000101", Country: "UA", Title: "Обстріл житлового кварталу, Харків", Sensitivity: accordv1.Sensitivity_SENSITIVITY_FEDERATION,
		CrimeCodes: []string{"RS-8.2.b.i", "UA-CC-438"},
		Incidents: []*accordv1.Incident{{Start: "2022-03-01T08:00:00+02:00", End: "2022-03-01T09:00:00+02:00",
			Precision: accordv1.TimePrecision_TIME_PRECISION_HOUR, Place: "Харків", Region: "Харківська область", Lat: &lat, Lon: &lon}},
		Perpetrators: []*accordv1.Perpetrator{{Kind: accordv1.PerpetratorKind_PERPETRATOR_KIND_UNIT, Name: "64th Separate Motor Rifle Brigade"}},
		Evidence:     []*accordv1.EvidenceRef{{Id: "UA-2022-000101-E1", Sha256: strings.Repeat("ab", 32), MediaType: "video/mp4"}},
	}
	lat2, lon2 := 49.9951, 36.2288
	plCase := &accordv1.Case{
		CaseId: "PL-2022-000007", Country: "PL", Title: "Ostrzał osiedla mieszkaniowego w Charkowie", Sensitivity: accordv1.Sensitivity_SENSITIVITY_FEDERATION,
		CrimeCodes: []string{"RS-8.2.b.i"},
		Incidents: []*accordv1.Incident{{Start: "2022-03-01T06:00:00Z", End: "2022-03-01T07:00:00Z",
			Precision: accordv1.TimePrecision_TIME_PRECISION_HOUR, Place: "Charków", Region: "obwód charkowski", Lat: &lat2, Lon: &lon2}},
		Perpetrators: []*accordv1.Perpetrator{{Kind: accordv1.PerpetratorKind_PERPETRATOR_KIND_UNIT, Name: "64 OMSBr"}},
		Evidence:     []*accordv1.EvidenceRef{{Id: "PL-2022-000007-E1", Sha256: strings.Repeat("ab", 32), MediaType: "video/mp4"}},
	}
	// Another incident in the same city, days later: no match.
	other := &accordv1.Case{
		CaseId: "PL-2022-000008", Country: "PL", Title: "Ostrzał szpitala", Sensitivity: accordv1.Sensitivity_SENSITIVITY_FEDERATION,
		Incidents: []*accordv1.Incident{{Start: "2022-03-09T15:00:00Z", Place: "Charków"}},
	}
	if _, err := ua.d.Store().CreateCase(uaCase, sealerFor(t, "UA")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*accordv1.Case{plCase, other} {
		if _, err := pl.d.Store().CreateCase(c, sealerFor(t, "PL")); err != nil {
			t.Fatal(err)
		}
	}

	var decision registry.MatchDecision
	start := time.Now()
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		ms := query[[]registry.MatchDecision](t, pl.user, "matches", "")
		if len(ms) != 1 {
			return fmt.Errorf("PL sees %d match decisions", len(ms))
		}
		decision = ms[0]
		return nil
	})
	t.Logf("match decision %s at PL %s after the cases were written: score %.3f, reasons %q", decision.ID, time.Since(start).Round(time.Millisecond), decision.Score, decision.Reasons)
	if decision.Cases[0].CaseID != "PL-2022-000007" || decision.Cases[1].CaseID != "UA-2022-000101" || len(decision.Reasons) == 0 {
		t.Fatalf("decision %+v", decision)
	}
	// The real matcher's explanation, when the registry servers had all
	// reported match answers v2 by then, passed the registry's checks and
	// adds up to the score.
	if e := decision.Explanation; e != nil {
		if len(e.Comparisons) != matching.Comparisons || math.Abs(math.Round(e.Probability*10000)/10000-decision.Score) > 1e-9 {
			t.Errorf("explanation %+v of score %v", e, decision.Score)
		}
	} else {
		t.Log("proposed before every registry server reported match answers v2: no explanation")
	}
	if got := query[[]registry.MatchDecision](t, ua.user, "matches", ""); len(got) != 1 || got[0].ID != decision.ID {
		t.Fatalf("UA sees %+v", got)
	}
	// Both offices count the match, each by how it learned of it: the
	// proposer's node (PL, first of the pair) and the other's, through the
	// registry.
	proposer, notProposer := map[string]*regNode{"PL": pl, "UA": ua}[decision.Created.Member], map[string]*regNode{"PL": ua, "UA": pl}[decision.Created.Member]

	raftnettest.WaitFor(t, 10*time.Second, func() error {
		for _, c := range []struct {
			n      *regNode
			series string
		}{
			{proposer, `accord_matches_found_total{learned="proposed_here"}`},
			{notProposer, `accord_matches_found_total{learned="registry"}`},
		} {
			if v := scrapeMetric(t, c.n.d.MetricsAddr(), c.series); v != 1 {
				return fmt.Errorf("%s: %s = %v, want 1", c.n.member, c.series, v)
			}
		}
		return nil
	})

	// Both nodes count the decision as waiting for both members' answers,
	// from the registry's changes.
	waitingIs := func(want float64) {
		t.Helper()
		raftnettest.WaitFor(t, 10*time.Second, func() error {
			for _, n := range []*regNode{ua, pl} {
				for _, m := range []string{"UA", "PL"} {
					series := `accord_matches_waiting{member="` + m + `"}`
					if v := scrapeMetric(t, n.d.MetricsAddr(), series); v != want {
						return fmt.Errorf("%s: %s = %v, want %v", n.member, series, v, want)
					}
				}
			}
			return nil
		})
	}
	waitingIs(1)

	// UA's incident clusters follow the registry: one cluster of the two
	// cases, named after the decision, scored by UA's own matcher.
	uaClusters := accordv1.NewClusterServiceClient(daemontest.LocalConn(t, ua.d, fed.User("UA", "analyst"), "UA"))
	clusterOf := func() (*accordv1.Cluster, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := uaClusters.GetCluster(ctx, &accordv1.GetClusterRequest{CaseRef: &accordv1.RegistryCaseRef{Member: "UA", CaseId: "UA-2022-000101"}})
		return r.GetCluster(), err
	}
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		c, err := clusterOf()
		if err != nil {
			return err
		}
		if c.GetName() != "clusters/cluster-"+strings.TrimPrefix(decision.ID, "match-") || len(c.GetCases()) != 2 || c.GetAwaitingAnswer() != 1 || c.GetGuard().GetFlagged() {
			return fmt.Errorf("UA's cluster %v", c)
		}
		return nil
	})

	// UA reads both cases side by side: its own as it published it, PL's
	// from its federation index, with the video both hold and UA's
	// matcher's score of the pair now.
	uaCoord := daemontest.Coordination(t, ua.d, fed.User("UA", "analyst"), "UA")
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := uaCoord.CompareMatchDecision(ctx, &accordv1.CompareMatchDecisionRequest{Name: "matchDecisions/" + decision.ID})
		if err != nil {
			return err
		}
		if len(r.GetPairs()) != 1 || !r.GetPairs()[0].GetScored() {
			return fmt.Errorf("compare: %d pairs (scored: %v); cases %v", len(r.GetPairs()), len(r.GetPairs()) == 1 && r.GetPairs()[0].GetScored(), r.GetCases())
		}
		p := r.GetPairs()[0]
		in := p.GetIncidents()
		if r.GetCases()[1].GetShared().GetTitle() != uaCase.GetTitle() || r.GetCases()[0].GetShared().GetIncidents()[0].GetPlace() != "Charków" ||
			len(p.GetEvidence().GetCommonSha256()) != 1 || len(in) != 1 || !in[0].GetBest() || in[0].GetStartDifferenceSeconds() != 0 ||
			!in[0].GetHasDistance() || in[0].GetDistanceKm() > 1 || p.GetScore() < 0.5 {
			return fmt.Errorf("compare: %v", r)
		}
		return nil
	})
	// UA answers by a rule: a dry run first, then the run bound to it.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rule := &accordv1.MatchRule{MinScore: 0.5, MinSharedEvidence: 1}
	dry, err := uaCoord.DecideMatches(ctx, &accordv1.DecideMatchesRequest{Rule: rule, Answer: accordv1.Answer_ANSWER_YES, ValidateOnly: true})
	if err != nil || len(dry.GetAnswers()) != 1 || dry.GetAnswers()[0].GetName() != "matchDecisions/"+decision.ID || dry.GetAnswers()[0].GetSharedEvidence() != 1 {
		t.Fatalf("dry run: %v, %v", dry, err)
	}
	done, err := uaCoord.DecideMatches(ctx, &accordv1.DecideMatchesRequest{Rule: rule, Answer: accordv1.Answer_ANSWER_YES, Reason: "same video",
		RequestId: "rule-1", ExpectedSelection: dry.GetSelection()})
	if err != nil || done.GetAnswered() != 1 {
		t.Fatalf("answering by rule: %v, %v", done, err)
	}

	// PL rejects: the pair is not proposed again while the cases stay as
	// they are; when UA's case changes it is.
	mustExecute(t, pl.user, "reject-1", registry.DecideMatch{Match: decision.ID, Confirm: false, Reason: "another district"})
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		if c, err := clusterOf(); status.Code(err) != codes.NotFound {
			return fmt.Errorf("after the rejection UA's case is still in %v (%w)", c.GetName(), err)
		}
		return nil
	})
	waitingIs(0)
	uaCase.Title = "Обстріл житлового кварталу, Харків (уточнено)"
	if _, err := ua.d.Store().ImportBatch([]*accordv1.Case{uaCase}, sealerFor(t, "UA")); err != nil {
		t.Fatal(err)
	}
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		ms := query[[]registry.MatchDecision](t, pl.user, "matches", "")
		if len(ms) != 2 {
			return fmt.Errorf("PL sees %d match decisions", len(ms))
		}
		return nil
	})
}
