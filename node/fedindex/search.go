package fedindex

import (
	"log/slog"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/node/casesearch"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Search is the in-memory search index of the federation index
// (node/casesearch): built from the store at start (Build), then kept
// current by Apply, which the store calls after each commit that stores
// or drops a record (store.Hooks.Fed).
type Search struct {
	ix     *casesearch.Index
	logger *slog.Logger
}

// NewSearch returns an empty search index.
func NewSearch(logger *slog.Logger) *Search {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Search{ix: casesearch.NewIndex(), logger: logger}
}

// docKey is a case's key in the search index: (member, case id) order.
func docKey(origin, caseID string) string { return origin + "\x00" + caseID }

// Build adds every record of idx, in the index's (member, case id) order.
func (sx *Search) Build(idx Index) error {
	return idx.FedScan("", func(origin, caseID string, seq uint64, record []byte) error {
		sx.Apply(origin, caseID, seq, record)
		return nil
	})
}

// Apply follows one change of the federation index: record stored under
// the feed seq, or dropped (nil: withdrawn by a tombstone of seq, or
// dropped for a resync, seq 0). Changes of one case reported out of
// order (two commits' hooks racing) leave the newer one in place.
func (sx *Search) Apply(origin, caseID string, seq uint64, record []byte) {
	key := docKey(origin, caseID)
	if record == nil {
		sx.ix.RemoveVersion(key, seq)
		return
	}
	var sr accordv1.SignedRecord
	var r accordv1.FeedRecord
	err := proto.Unmarshal(record, &sr)
	if err == nil {
		err = proto.Unmarshal(sr.GetRecord(), &r)
	}
	if err != nil || r.GetCase() == nil || r.GetTombstone() || r.GetOrigin() != origin || r.GetCaseId() != caseID || r.GetCase().GetCaseId() != caseID {
		// The listing skips (and logs) such an entry; nothing to search.
		sx.ix.RemoveVersion(key, seq)
		return
	}
	sx.ix.PutVersion(key, seq, docOf(r.GetCase()))
}

// docOf is what the search index keeps of a shared case.
func docOf(c *accordv1.SharedCase) casesearch.Doc {
	d := casesearch.DocOf(c.GetTitle(), c.GetIncidents())
	d.CrimeCodes = c.GetCrimeCodes()
	return d
}

// splitKey returns the member and case id of a docKey.
func splitKey(key string) (member, caseID string) {
	member, caseID, _ = strings.Cut(key, "\x00")
	return member, caseID
}

// Len is the number of cases the search index holds.
func (sx *Search) Len() int { return sx.ix.Len() }
