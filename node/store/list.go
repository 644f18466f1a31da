package store

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/accordfed/accord/federation/records"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Filter selects cases; zero fields do not filter.
type Filter struct {
	Status        accordv1.CaseStatus
	CrimeCode     string
	After, Before time.Time // an incident window [start, end) must overlap [After, Before)
	Place         string    // matched after NormalizePlace
	TitleContains string    // case-insensitive substring
	// Match, when set, must hold too (node/casesearch's place, near and
	// text rules); it is not part of Key: the caller binds what it
	// checks.
	Match func(*accordv1.Case) bool
	// IncidentMatch, when set, must hold for the incident that meets the
	// place and window filters (one incident holds them all).
	IncidentMatch func(*accordv1.Incident) bool
	// Candidates, when set, drives the scan instead of the store's
	// indexes: it returns up to limit case ids after after, in order, that
	// may match (an in-memory search index), and whether more follow.
	Candidates func(after string, limit int) (ids []string, more bool)
}

// Key returns the filter in a canonical form: two filters with the same
// key select the same cases (places are compared folded, titles without
// case). The local API binds its page tokens to it.
func (f Filter) Key() string {
	return fmt.Sprintf("%d\x00%s\x00%d\x00%d\x00%s\x00%s", f.Status, f.CrimeCode, f.After.UnixNano(), f.Before.UnixNano(),
		NormalizePlace(f.Place), strings.ToLower(f.TitleContains))
}

// Page-size limits of ListCases.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// ListCases returns up to pageSize cases matching f, in case-id order,
// those with a case id after after ("" for the first page), and the case
// id to pass as after for the next page ("" on the last page). The local
// API wraps the positions in page tokens bound to the caller and the
// filter (node/pagetoken).
func (s *Store) ListCases(f Filter, pageSize int, after string) ([]*accordv1.Case, string, error) {
	if pageSize < 0 {
		return nil, "", fmt.Errorf("%w: page_size: must not be negative", ErrInvalid)
	}
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	pageSize = min(pageSize, MaxPageSize)
	var out []*accordv1.Case
	next := ""
	err := s.db.View(func(tx *bolt.Tx) error {
		return scan(tx, f, after, func(c *accordv1.Case) bool {
			if len(out) == pageSize {
				next = out[len(out)-1].GetCaseId()
				return false
			}
			out = append(out, c)
			return true
		})
	})
	return out, next, err
}

// ExportCases calls fn for every case matching f, in case-id order, within
// one consistent read of the store.
func (s *Store) ExportCases(f Filter, fn func(*accordv1.Case) error) error {
	defer s.trimAfterScan()
	var fnErr error
	err := s.db.View(func(tx *bolt.Tx) error {
		return scan(tx, f, "", func(c *accordv1.Case) bool {
			fnErr = fn(c)
			return fnErr == nil
		})
	})
	if err != nil {
		return err
	}
	return fnErr
}

// scan visits the cases matching f with case id > after, in case-id order,
// until visit returns false. It drives the scan with the most selective
// index the filter allows and checks the other filters on each candidate.
func scan(tx *bolt.Tx, f Filter, after string, visit func(*accordv1.Case) bool) error {
	titles := tx.Bucket(bucketTitles)
	needle := strings.ToLower(f.TitleContains)
	candidate := func(caseID string, seq uint64) (bool, error) {
		if needle != "" && !strings.Contains(string(titles.Get(u64(seq))), needle) {
			return true, nil
		}
		c, err := loadCase(txGetter{tx}, seq)
		if err != nil {
			return false, err
		}
		if !matches(c, f) {
			return true, nil
		}
		return visit(c), nil
	}
	run := func(bucket, prefix []byte) error {
		cur := tx.Bucket(bucket).Cursor()
		start := append(slices.Clone(prefix), after...)
		k, v := cur.Seek(start)
		if after != "" && k != nil && bytes.Equal(k, start) {
			k, v = cur.Next()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
			more, err := candidate(string(k[len(prefix):]), getU64(v))
			if err != nil {
				return err
			}
			if !more {
				return nil
			}
		}
		return nil
	}
	switch {
	case f.Candidates != nil:
		return scanCandidates(tx, f, after, candidate)
	case f.Place != "":
		return run(idxPlace, textKey(NormalizePlace(f.Place), ""))
	case f.CrimeCode != "":
		return run(idxCrime, textKey(f.CrimeCode, ""))
	case !f.After.IsZero() && !f.Before.IsZero() && f.Before.Sub(f.After) <= 400*24*time.Hour:
		return scanDays(tx, f, after, candidate)
	case f.Status != accordv1.CaseStatus_CASE_STATUS_UNSPECIFIED:
		return run(idxStatus, []byte{byte(f.Status)})
	default:
		return run(bucketCaseIDs, nil)
	}
}

// scanCandidates visits the cases f.Candidates names, in order.
func scanCandidates(tx *bolt.Tx, f Filter, after string, candidate func(string, uint64) (bool, error)) error {
	ids := tx.Bucket(bucketCaseIDs)
	batch := 64
	for {
		cand, more := f.Candidates(after, batch)
		for _, id := range cand {
			after = id
			v := ids.Get([]byte(id))
			if v == nil {
				continue // deleted since the index saw it
			}
			ok, err := candidate(id, getU64(v))
			if err != nil || !ok {
				return err
			}
		}
		if !more {
			return nil
		}
		batch = min(4*batch, 4096)
	}
}

// scanDays collects the cases with an incident on the days of the window
// (and those with long windows), then visits them in case-id order.
func scanDays(tx *bolt.Tx, f Filter, after string, candidate func(string, uint64) (bool, error)) error {
	found := map[string]uint64{}
	cur := tx.Bucket(idxDay).Cursor()
	first, last := dayNumber(f.After), dayNumber(f.Before.Add(-time.Nanosecond))
	for k, v := cur.Seek(dayKey(first, "")); k != nil; k, v = cur.Next() {
		if getU32(k[:4]) > last {
			break
		}
		found[string(k[4:])] = getU64(v)
	}
	lc := tx.Bucket(idxLongWindow).Cursor()
	for k, v := lc.First(); k != nil; k, v = lc.Next() {
		found[string(k)] = getU64(v)
	}
	ids := make([]string, 0, len(found))
	for id := range found {
		if id > after {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		more, err := candidate(id, found[id])
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
	return nil
}

func getU32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// matches checks every filter on a case.
func matches(c *accordv1.Case, f Filter) bool {
	if f.Status != accordv1.CaseStatus_CASE_STATUS_UNSPECIFIED && effectiveStatus(c) != f.Status {
		return false
	}
	if f.CrimeCode != "" && !slices.Contains(c.GetCrimeCodes(), f.CrimeCode) {
		return false
	}
	if f.TitleContains != "" && !strings.Contains(strings.ToLower(c.GetTitle()), strings.ToLower(f.TitleContains)) {
		return false
	}
	if f.Match != nil && !f.Match(c) {
		return false
	}
	if f.Place != "" || f.IncidentMatch != nil || !f.After.IsZero() || !f.Before.IsZero() {
		place := NormalizePlace(f.Place)
		ok := false
		for _, inc := range c.GetIncidents() {
			if place != "" && NormalizePlace(inc.GetPlace()) != place {
				continue
			}
			if f.IncidentMatch != nil && !f.IncidentMatch(inc) {
				continue
			}
			start, end, valid := records.IncidentWindow(inc)
			if !valid {
				continue
			}
			if !f.After.IsZero() && !end.After(f.After) {
				continue
			}
			if !f.Before.IsZero() && !start.Before(f.Before) {
				continue
			}
			ok = true
			break
		}
		if !ok {
			return false
		}
	}
	return true
}
