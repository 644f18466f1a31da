package localapi

import (
	"context"
	"errors"

	"github.com/accordfed/accord/node/casesearch"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// WithSearch makes ListCases answer the place, near and text filters from
// ix, an in-memory search index of the office's cases (BuildSearch,
// FollowCases), and fold place names with the aliases the matcher
// learned (aliases may be nil: no matcher). Without it those filters
// scan the store.
func (s *Service) WithSearch(ix *casesearch.Index, aliases casesearch.Aliases) *Service {
	s.search, s.aliases = ix, aliases
	return s
}

// BuildSearch adds every case of st to ix.
func BuildSearch(st *store.Store, ix *casesearch.Index) error {
	return st.ExportCases(store.Filter{}, func(c *accordv1.Case) error {
		ix.Put(c.GetCaseId(), docOf(c))
		return nil
	})
}

// docOf is what the search index keeps of a case: with its crime codes
// and its status as the store's filter reads it (none given: under
// investigation).
func docOf(c *accordv1.Case) casesearch.Doc {
	d := casesearch.DocOf(c.GetTitle(), c.GetIncidents())
	d.CrimeCodes = c.GetCrimeCodes()
	d.Status = int32(c.GetStatus())
	if c.GetStatus() == accordv1.CaseStatus_CASE_STATUS_UNSPECIFIED {
		d.Status = int32(accordv1.CaseStatus_CASE_STATUS_INVESTIGATION)
	}
	return d
}

// FollowCases returns the store hook (store.Hooks.Cases) that keeps ix
// current: each case created or changed is read again, a deleted one
// dropped.
func FollowCases(st *store.Store, ix *casesearch.Index) func(caseIDs []string) {
	return func(ids []string) {
		for _, id := range ids {
			c, err := st.GetCase(id)
			switch {
			case errors.Is(err, store.ErrNotFound):
				ix.Remove(id)
			case err == nil:
				ix.Put(id, docOf(c))
			}
		}
	}
}

// query parses the place, near and text filters of f.
func (s *Service) query(f *accordv1.CaseFilter) (casesearch.Query, error) {
	return casesearch.Parse(casesearch.Input{Place: f.GetPlace(), Text: f.GetText(),
		NearLat: f.GetNearLat(), NearLon: f.GetNearLon(), RadiusKm: f.GetRadiusKm()}, "filter.", s.aliases)
}

// withQuery adds the place, near and text filters of f to a store filter.
func (s *Service) withQuery(out store.Filter, f *accordv1.CaseFilter) (store.Filter, string, error) {
	q, err := s.query(f)
	if err != nil {
		return out, "", err
	}
	out.Place = "" // folded by q
	if q.Empty() {
		return out, q.Key(), nil
	}
	if q.HasIncident() {
		out.IncidentMatch = q.MatchIncident
	}
	out.Match = func(c *accordv1.Case) bool { return q.MatchTitle(c.GetTitle()) }
	if s.search != nil {
		ix, q := s.search, q.WithWindow(out.After, out.Before)
		out.Candidates = func(after string, limit int) ([]string, bool) { return ix.Search(q, after, limit) }
	}
	return out, q.Key(), nil
}

// AggregateCases counts every case that ListCases returns for the same
// filter into grid cells and weeks: from the search index, or (without
// one, or with title_contains, which the index does not hold) from a
// scan of the store with the list's own filter.
func (s *Service) AggregateCases(ctx context.Context, req *accordv1.AggregateCasesRequest) (*accordv1.AggregateCasesResponse, error) {
	f, _, err := s.toFilter(req.GetFilter())
	if err != nil {
		return nil, err
	}
	grid, err := casesearch.ParseGrid(req.GetCellDeg(), casesearch.BoxOf(req.GetBounds()), "")
	if err != nil {
		return nil, err
	}
	var agg casesearch.Aggregate
	if s.search != nil && f.TitleContains == "" {
		q, err := s.query(req.GetFilter())
		if err != nil {
			return nil, err
		}
		agg = s.search.Aggregate(casesearch.Filter{Query: q, CrimeCode: f.CrimeCode, Status: int32(f.Status),
			Window: casesearch.Window{After: f.After, Before: f.Before, NeedStart: true}}, grid)
	} else {
		a := casesearch.NewAggregator(grid)
		err := s.st.ExportCases(f, func(c *accordv1.Case) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			a.Add(c.GetCaseId(), docOf(c))
			return nil
		})
		if err != nil {
			return nil, err
		}
		agg = a.Result()
	}
	resp := &accordv1.AggregateCasesResponse{}
	resp.CaseCount, resp.Cells, resp.Weeks = agg.Proto(func(key string) (string, string) { return "", key })
	return resp, nil
}
