package localapi

import (
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
		ix.Put(c.GetCaseId(), casesearch.DocOf(c.GetTitle(), c.GetIncidents()))
		return nil
	})
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
				ix.Put(id, casesearch.DocOf(c.GetTitle(), c.GetIncidents()))
			}
		}
	}
}

// withQuery adds the place, near and text filters of f to a store filter.
func (s *Service) withQuery(out store.Filter, f *accordv1.CaseFilter) (store.Filter, string, error) {
	q, err := casesearch.Parse(casesearch.Input{Place: f.GetPlace(), Text: f.GetText(),
		NearLat: f.GetNearLat(), NearLon: f.GetNearLon(), RadiusKm: f.GetRadiusKm()}, "filter.", s.aliases)
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
