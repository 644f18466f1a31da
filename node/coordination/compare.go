package coordination

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/matching"
	"github.com/accordfed/accord/federation/records"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/grpcserver"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

const (
	// maxComparePairs bounds the pairs of a decision's cases one compare
	// aligns, and maxAlignIncidents the incidents of each case paired
	// (the rest are listed alone).
	maxComparePairs   = 16
	maxAlignIncidents = 50
)

// CaseSource is what the node holds of the members' shared cases
// (*fedindex.Service): another member's case from the federation index,
// the node's own member's as the node published it.
type CaseSource interface {
	Case(member, caseID string) (*accordv1.FederationCase, bool, error)
}

// PairComparer compares two cases the node's matcher indexes, under its
// current model (*matcher.Matcher); false when it does not index both.
type PairComparer interface {
	Compare(a, b string) (matching.Comparison, bool)
}

// WithCompare lets CompareMatchDecision and DecideMatches read the
// decisions' cases from cases, and CompareMatchDecision score them with
// cmp (nil: pairs are not scored). Without it both are
// FailedPrecondition.
func (s *Service) WithCompare(cases CaseSource, cmp PairComparer) {
	s.cases, s.comparer = cases, cmp
}

func (s *Service) caseSource() (CaseSource, error) {
	if s.cases == nil {
		return nil, fmt.Errorf("%w: this node reads no shared cases (it runs no federation exchange)", grpcserver.ErrFailedPrecondition)
	}
	return s.cases, nil
}

// CompareMatchDecision implements CoordinationService.CompareMatchDecision.
func (s *Service) CompareMatchDecision(ctx context.Context, req *accordv1.CompareMatchDecisionRequest) (*accordv1.CompareMatchDecisionResponse, error) {
	return call(ctx, s, req, func(ctx context.Context, id identity.Identity, req *accordv1.CompareMatchDecisionRequest) (*accordv1.CompareMatchDecisionResponse, error) {
		matchID, err := parseName("name", req.GetName(), "matchDecisions", matchExample)
		if err != nil {
			return nil, err
		}
		src, err := s.caseSource()
		if err != nil {
			return nil, err
		}
		d, err := s.match(ctx, id, matchID, req.GetStale())
		if err != nil {
			return nil, err
		}
		resp := &accordv1.CompareMatchDecisionResponse{MatchDecision: d}
		shared := make([]*accordv1.SharedCase, len(d.GetCases()))
		for i, ref := range d.GetCases() {
			cc, sc, err := s.comparedCase(src, ref, d.GetCaseVersions())
			if err != nil {
				return nil, err
			}
			resp.Cases, shared[i] = append(resp.Cases, cc), sc
		}
		// The pairs with a case of the caller's own member when it holds
		// one (another member may group many cases with one of ours),
		// at most maxComparePairs.
		own := slices.ContainsFunc(d.GetCases(), func(c *accordv1.RegistryCaseRef) bool { return c.GetMember() == id.Member })
		for i := range shared {
			for j := i + 1; j < len(shared) && len(resp.Pairs) < maxComparePairs; j++ {
				if shared[i] == nil || shared[j] == nil ||
					(own && d.GetCases()[i].GetMember() != id.Member && d.GetCases()[j].GetMember() != id.Member) {
					continue
				}
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				p := comparePair(shared[i], shared[j], s.comparer)
				p.First, p.Second = int32(i), int32(j)
				resp.Pairs = append(resp.Pairs, p)
			}
		}
		return resp, nil
	})
}

// comparedCase reads one case of a decision; the shared case it returns
// keeps its persons (for the pair comparisons), the ComparedCase does not.
func (s *Service) comparedCase(src CaseSource, ref *accordv1.RegistryCaseRef, versions map[string]int64) (*accordv1.ComparedCase, *accordv1.SharedCase, error) {
	cc := &accordv1.ComparedCase{CaseRef: ref, DecidedVersion: versions[fromCaseRef(ref).String()]}
	fc, ok, err := src.Case(ref.GetMember(), ref.GetCaseId())
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		if ref.GetMember() == s.member {
			cc.Missing = "this node does not share the case now (deleted, made national, or not published yet)"
		} else {
			cc.Missing = "this node holds no shared form of the case (not received yet, or deleted or no longer shared by its member)"
		}
		return cc, nil, nil
	}
	sc := fc.GetCase()
	cc.Held, cc.Seq, cc.PublishTime = true, fc.GetSeq(), fc.GetPublishTime()
	counts := personCounts(sc)
	for _, role := range slices.Sorted(maps.Keys(counts)) {
		cc.Persons = append(cc.Persons, &accordv1.PersonCount{Role: role, Count: counts[role]})
	}
	bare := proto.CloneOf(sc)
	bare.Persons = nil
	cc.Shared = bare
	return cc, sc, nil
}

// personCounts counts a shared case's persons per role. A case carries
// each person once under each key its node publishes tokens of, so a
// role's count is the most under any one key.
func personCounts(c *accordv1.SharedCase) map[accordv1.PersonRole]int32 {
	type roleKey struct {
		role    accordv1.PersonRole
		key     string
		version int32
	}
	perKey := map[roleKey]int32{}
	counts := map[accordv1.PersonRole]int32{}
	for _, p := range c.GetPersons() {
		k := roleKey{p.GetRole(), p.GetKeyName(), p.GetKeyVersion()}
		perKey[k]++
		counts[k.role] = max(counts[k.role], perKey[k])
	}
	return counts
}

// personTotal is how many persons a shared case carries.
func personTotal(c *accordv1.SharedCase) int32 {
	var n int32
	for _, k := range personCounts(c) {
		n += k
	}
	return n
}

// comparePair aligns two shared cases and, when cmp indexes both, scores
// them under the current model.
func comparePair(a, b *accordv1.SharedCase, cmp PairComparer) *accordv1.CasePairComparison {
	p := &accordv1.CasePairComparison{
		CrimeCodes: compareValues(a.GetCrimeCodes(), b.GetCrimeCodes(), func(s string) string { return s }),
		Units:      compareUnits(unitNames(a), unitNames(b)),
		Evidence:   evidenceOverlap(a, b),
		Persons:    &accordv1.PersonAgreement{First: personTotal(a), Second: personTotal(b), Matching: -1},
	}
	best := [2]int{-1, -1}
	if cmp != nil {
		if c, ok := cmp.Compare(a.GetCaseId(), b.GetCaseId()); ok {
			ia, ib := c.IncidentA, c.IncidentB
			if c.A != a.GetCaseId() {
				ia, ib = ib, ia
			}
			best = [2]int{ia, ib}
			p.Scored, p.Score, p.Reasons = true, math.Round(c.Score*10000)/10000, c.Reasons
			p.Explanation = toExplanation(registry.ExplanationOf(c.Match))
			for _, w := range p.GetExplanation().GetComparisons() {
				if w.GetName() == "persons" && w.GetObserved() {
					p.Persons.Matching, p.Persons.Level = int32(c.PersonsMatching), w.GetLabel()
				}
			}
		}
	}
	p.Incidents = alignIncidents(a.GetIncidents(), b.GetIncidents(), best)
	return p
}

// unitNames are the names of a case's perpetrators that are not persons
// (units and organisations, as the matcher compares them).
func unitNames(c *accordv1.SharedCase) []string {
	var out []string
	for _, p := range c.GetPerpetrators() {
		if p.GetKind() != accordv1.PerpetratorKind_PERPETRATOR_KIND_PERSON && p.GetName() != "" {
			out = append(out, p.GetName())
		}
	}
	return out
}

// compareUnits says which units of a and b the matcher takes for one (a
// unit number or a name's skeleton in common: matching.UnitKeys), each
// as its case writes it.
func compareUnits(a, b []string) *accordv1.ValueComparison {
	keys := func(us []string) []map[string]bool {
		out := make([]map[string]bool, len(us))
		for i, u := range us {
			out[i] = map[string]bool{}
			for _, k := range matching.UnitKeys(u) {
				out[i][k] = true
			}
		}
		return out
	}
	ka, kb := keys(a), keys(b)
	same := func(x, y map[string]bool) bool {
		for k := range x {
			if y[k] {
				return true
			}
		}
		return false
	}
	out := &accordv1.ValueComparison{}
	for i, u := range a {
		if slices.ContainsFunc(kb, func(y map[string]bool) bool { return same(ka[i], y) }) {
			out.Common = append(out.Common, u)
		} else {
			out.OnlyFirst = append(out.OnlyFirst, u)
		}
	}
	for j, u := range b {
		if slices.ContainsFunc(ka, func(x map[string]bool) bool { return same(x, kb[j]) }) {
			out.CommonSecond = append(out.CommonSecond, u)
		} else {
			out.OnlySecond = append(out.OnlySecond, u)
		}
	}
	return out
}

// compareValues says which of a's and b's values are common (under key,
// as a writes them) and which only one gives, each list in order and
// without repeats.
func compareValues(a, b []string, key func(string) string) *accordv1.ValueComparison {
	inB := map[string]bool{}
	for _, v := range b {
		inB[key(v)] = true
	}
	inA := map[string]bool{}
	out := &accordv1.ValueComparison{}
	for _, v := range a {
		k := key(v)
		if inA[k] {
			continue
		}
		inA[k] = true
		if inB[k] {
			out.Common = append(out.Common, v)
		} else {
			out.OnlyFirst = append(out.OnlyFirst, v)
		}
	}
	seen := map[string]bool{}
	for _, v := range b {
		if k := key(v); !inA[k] && !seen[k] {
			seen[k] = true
			out.OnlySecond = append(out.OnlySecond, v)
		}
	}
	sort.Strings(out.Common)
	out.CommonSecond = out.Common
	sort.Strings(out.OnlyFirst)
	sort.Strings(out.OnlySecond)
	return out
}

// evidenceOverlap is the evidence both cases name, by SHA-256.
func evidenceOverlap(a, b *accordv1.SharedCase) *accordv1.EvidenceOverlap {
	hashes := func(c *accordv1.SharedCase) []string {
		out := make([]string, 0, len(c.GetEvidence()))
		for _, e := range c.GetEvidence() {
			out = append(out, e.GetSha256())
		}
		return out
	}
	v := compareValues(hashes(a), hashes(b), func(s string) string { return s })
	return &accordv1.EvidenceOverlap{CommonSha256: v.GetCommon(), OnlyFirst: int32(len(v.GetOnlyFirst())), OnlySecond: int32(len(v.GetOnlySecond()))}
}

// pairIncidents compares incident x of one case with y of the other.
func pairIncidents(x, y *accordv1.Incident) *accordv1.IncidentPair {
	p := &accordv1.IncidentPair{}
	fx, _ := matching.FoldPlace(x.GetPlace())
	fy, _ := matching.FoldPlace(y.GetPlace())
	p.SamePlace = fx != "" && fx == fy
	if x.Lat != nil && x.Lon != nil && y.Lat != nil && y.Lon != nil {
		p.HasDistance = true
		p.DistanceKm = math.Round(matching.DistanceKm(x.GetLat(), x.GetLon(), y.GetLat(), y.GetLon())*10) / 10
	}
	xs, xe, ok1 := records.IncidentWindow(x)
	ys, ye, ok2 := records.IncidentWindow(y)
	if ok1 && ok2 {
		p.StartDifferenceSeconds = int64(ys.Sub(xs) / time.Second)
		// The time between the windows: positive when apart, negative
		// (the overlap's length) when they overlap.
		later, earlier := xs, xe
		if ys.After(later) {
			later = ys
		}
		if ye.Before(earlier) {
			earlier = ye
		}
		p.GapSeconds = int64(later.Sub(earlier) / time.Second)
	}
	return p
}

// cost orders candidate incident pairs: closest in time first, then in
// space, a place name in common counting for closeness.
func cost(p *accordv1.IncidentPair) float64 {
	c := math.Max(float64(p.GetGapSeconds()), 0) / 3600
	switch {
	case p.GetHasDistance():
		c += p.GetDistanceKm() / 10
	case !p.GetSamePlace():
		c += 24
	}
	return c
}

// alignIncidents pairs the incidents of two cases, each used once: the
// matcher's best pair first (when known), then the closest remaining
// pairs; incidents left over are listed against -1.
func alignIncidents(a, b []*accordv1.Incident, best [2]int) []*accordv1.IncidentPair {
	type cand struct {
		i, j int
		p    *accordv1.IncidentPair
	}
	var cands []cand
	for i := range min(len(a), maxAlignIncidents) {
		for j := range min(len(b), maxAlignIncidents) {
			p := pairIncidents(a[i], b[j])
			p.First, p.Second = int32(i), int32(j)
			p.Best = i == best[0] && j == best[1]
			cands = append(cands, cand{i, j, p})
		}
	}
	sort.SliceStable(cands, func(x, y int) bool {
		if cands[x].p.Best != cands[y].p.Best {
			return cands[x].p.Best
		}
		return cost(cands[x].p) < cost(cands[y].p)
	})
	usedA, usedB := make([]bool, len(a)), make([]bool, len(b))
	var out []*accordv1.IncidentPair
	for _, c := range cands {
		if usedA[c.i] || usedB[c.j] {
			continue
		}
		usedA[c.i], usedB[c.j] = true, true
		out = append(out, c.p)
	}
	for i, u := range usedA {
		if !u {
			out = append(out, &accordv1.IncidentPair{First: int32(i), Second: -1})
		}
	}
	for j, u := range usedB {
		if !u {
			out = append(out, &accordv1.IncidentPair{First: -1, Second: int32(j)})
		}
	}
	return out
}
