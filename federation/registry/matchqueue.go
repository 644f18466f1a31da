package registry

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/google/btree"
)

// matchQueues is the review queue's derived index of the match decisions:
// per viewing member, ordered sets of the decisions it is involved in, so
// that a page of a filtered, ordered list costs O(log n + page + skipped)
// rather than a sort of every decision (View.QueryMatchDecisions).
//
// A decision involving members A and B is in these sets of each, say A:
// every decision of A; those of A in the decision's state; those waiting
// for A's answer (proposed, A's answer pending); those of A that involve B
// as well; and those waiting for A's answer that involve B as well. Each
// set holds two B-trees, one by id (which is also the order of creation:
// ids are numbered as decisions are proposed) and one by score, highest
// first, then id. The entries are shared pointers, so a set costs two tree
// slots per decision.
//
// It is a derived index: rebuilt on restore, never snapshotted, changed in
// place by putMatch, which passes the decision as it was before the change
// (any change: a new decision, an answer, an answer changed back).
type matchQueues struct {
	entries map[string]*queueEntry         // decision id -> its entry
	sets    map[queueKey]*queueSet         // viewer, state, other member -> decisions
	byCase  map[string]map[string]struct{} // "MEMBER/CASE" -> decision ids
}

type queueEntry struct {
	id    string
	score float64
}

// queueKey names a set: the decisions viewer is involved in, in state
// status ("" every state, queueAwaiting waiting for viewer's answer), that
// involve other as well ("" any).
type queueKey struct {
	viewer, status, other string
}

// queueAwaiting is the pseudo-state of the decisions waiting for the
// viewer's answer.
const queueAwaiting = "awaiting"

type queueSet struct {
	byID    *btree.BTreeG[*queueEntry]
	byScore *btree.BTreeG[*queueEntry]
}

const queueDegree = 32

func lessByID(a, b *queueEntry) bool { return idCompare(a.id, b.id) < 0 }

func lessByScore(a, b *queueEntry) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return idCompare(a.id, b.id) < 0
}

func newMatchQueues() matchQueues {
	return matchQueues{entries: map[string]*queueEntry{}, sets: map[queueKey]*queueSet{}, byCase: map[string]map[string]struct{}{}}
}

// queueKeys returns the sets d belongs to.
func queueKeys(d *MatchDecision) []queueKey {
	var keys []queueKey
	for _, v := range d.Decisions {
		wait := d.Status == MatchProposed && v.Answer == AnswerPending
		keys = append(keys, queueKey{v.Member, "", ""}, queueKey{v.Member, string(d.Status), ""})
		if wait {
			keys = append(keys, queueKey{v.Member, queueAwaiting, ""})
		}
		for _, o := range d.Decisions {
			if o.Member == v.Member {
				continue
			}
			keys = append(keys, queueKey{v.Member, "", o.Member})
			if wait {
				keys = append(keys, queueKey{v.Member, queueAwaiting, o.Member})
			}
		}
	}
	return keys
}

// put moves decision d from the sets old (its previous value, nil when new)
// belonged to into those it belongs to now: O(log n) per set changed.
func (q *matchQueues) put(old, d *MatchDecision) {
	e := q.entries[d.ID]
	var oldKeys []queueKey
	if old != nil && e != nil {
		oldKeys = queueKeys(old)
	}
	if e != nil && e.score != d.Score {
		q.remove(e, oldKeys)
		oldKeys, e = nil, nil
	}
	if e == nil {
		e = &queueEntry{id: d.ID, score: d.Score}
		q.entries[d.ID] = e
	}
	newKeys := queueKeys(d)
	for _, k := range oldKeys {
		if !slices.Contains(newKeys, k) {
			q.removeFrom(k, e)
		}
	}
	for _, k := range newKeys {
		if !slices.Contains(oldKeys, k) {
			q.set(k).add(e)
		}
	}
	if old != nil {
		for _, c := range old.Cases {
			if ids := q.byCase[c.String()]; ids != nil {
				delete(ids, d.ID)
				if len(ids) == 0 {
					delete(q.byCase, c.String())
				}
			}
		}
	}
	for _, c := range d.Cases {
		ids := q.byCase[c.String()]
		if ids == nil {
			ids = map[string]struct{}{}
			q.byCase[c.String()] = ids
		}
		ids[d.ID] = struct{}{}
	}
}

func (q *matchQueues) remove(e *queueEntry, keys []queueKey) {
	for _, k := range keys {
		q.removeFrom(k, e)
	}
	delete(q.entries, e.id)
}

func (q *matchQueues) removeFrom(k queueKey, e *queueEntry) {
	s := q.sets[k]
	if s == nil {
		return
	}
	s.byID.Delete(e)
	s.byScore.Delete(e)
	if s.byID.Len() == 0 {
		delete(q.sets, k)
	}
}

func (q *matchQueues) set(k queueKey) *queueSet {
	s := q.sets[k]
	if s == nil {
		s = &queueSet{byID: btree.NewG(queueDegree, lessByID), byScore: btree.NewG(queueDegree, lessByScore)}
		q.sets[k] = s
	}
	return s
}

func (s *queueSet) add(e *queueEntry) {
	s.byID.ReplaceOrInsert(e)
	s.byScore.ReplaceOrInsert(e)
}

// rebuild derives the index from the decisions.
func (q *matchQueues) rebuild(m map[string]*MatchDecision) {
	*q = newMatchQueues()
	for _, d := range m {
		q.put(nil, d)
	}
}

// MatchOrder is the order of a match decision query.
type MatchOrder int

// The orders of a match decision query.
const (
	// OrderByID is by id, which is also the order of creation (the default).
	OrderByID MatchOrder = iota
	// OrderByIDDesc is by id, newest first.
	OrderByIDDesc
	// OrderByScoreDesc is by score, highest first, then by id.
	OrderByScoreDesc
	// OrderByScore is by score, lowest first, then by id, newest first.
	OrderByScore
)

// MatchQuery selects, orders and pages the match decisions a viewer is
// involved in (View.QueryMatchDecisions).
type MatchQuery struct {
	// Status keeps the decisions in this state ("" any).
	Status MatchStatus
	// Awaiting keeps the proposed decisions waiting for the viewer's answer.
	Awaiting bool
	// Member keeps the decisions that involve this member as well ("" any).
	Member string
	// Case keeps the decisions that group this case (nil any).
	Case *CaseRef
	// IDs keeps only these decisions (nil: any; empty: none).
	IDs []string
	// MinScore and MaxScore bound the score, inclusive; MaxScore 0 means
	// no upper bound.
	MinScore, MaxScore float64
	Order              MatchOrder
	// After is the cursor a previous page returned ("" the first page).
	After string
	// Limit is the page size (<= 0: every decision).
	Limit int
}

// QueryMatchDecisions returns a page of the match decisions the viewer is
// involved in that q selects, in q's order, how many q selects over every
// page, and the cursor of the next page ("" on the last). A page costs
// O(log n + page + skipped), skipped being the decisions of the index set
// used that a filter it does not cover drops (a state together with a
// member, a score range in id order); the total is the set's size, or a
// count of the decisions in range when a score range or such a filter is
// given.
func (v View) QueryMatchDecisions(viewer string, q MatchQuery) ([]MatchDecision, int, string, error) {
	if err := v.viewer(viewer); err != nil {
		return nil, 0, "", err
	}
	cur, err := parseCursor(q.Order, q.After)
	if err != nil {
		return nil, 0, "", err
	}
	maxScore := q.MaxScore
	if maxScore <= 0 {
		maxScore = 2 // above every score
	}
	idx := &v.s.matchQueue
	keep := func(e *queueEntry) bool {
		if e.score < q.MinScore || e.score > maxScore {
			return false
		}
		d := v.s.matches.m[e.id]
		switch {
		case d == nil,
			q.Status != "" && d.Status != q.Status,
			q.Awaiting && !awaitsAnswer(d, viewer),
			q.Member != "" && !involved(d.Decisions, q.Member),
			q.Case != nil && !slices.Contains(d.Cases, *q.Case),
			!involved(d.Decisions, viewer):
			return false
		}
		return true
	}
	if q.IDs != nil || q.Case != nil {
		return v.queryFew(idx, q, cur, keep)
	}
	key := queueKey{viewer: viewer}
	residual := false
	switch {
	case q.Awaiting:
		key.status = queueAwaiting
		residual = q.Status != "" && q.Status != MatchProposed
	case q.Status != "" && (q.Member == "" || q.Member == viewer):
		key.status = string(q.Status)
	default:
		residual = q.Status != ""
	}
	if q.Member != viewer {
		key.other = q.Member
	}
	s := idx.sets[key]
	if s == nil {
		return nil, 0, "", nil
	}
	ranged := q.MinScore > 0 || q.MaxScore > 0
	total := 0
	switch {
	case !residual && !ranged:
		total = s.byID.Len()
	default:
		s.byScore.AscendGreaterOrEqual(&queueEntry{score: maxScore}, func(e *queueEntry) bool {
			if e.score < q.MinScore {
				return false
			}
			if !residual || keep(e) {
				total++
			}
			return true
		})
	}
	var page []MatchDecision
	next := ""
	visit := func(e *queueEntry) bool {
		if q.Order == OrderByScoreDesc && e.score < q.MinScore || q.Order == OrderByScore && e.score > maxScore {
			return false
		}
		if cur != nil && !cur.before(q.Order, e) {
			return true // the cursor itself
		}
		if !keep(e) {
			return true
		}
		if q.Limit > 0 && len(page) == q.Limit {
			next = cursorOf(q.Order, v.s.matches.m[page[len(page)-1].ID])
			return false
		}
		page = append(page, *v.s.matches.m[e.id].clone())
		return true
	}
	switch q.Order {
	case OrderByID:
		if cur == nil {
			s.byID.Ascend(visit)
		} else {
			s.byID.AscendGreaterOrEqual(cur, visit)
		}
	case OrderByIDDesc:
		if cur == nil {
			s.byID.Descend(visit)
		} else {
			s.byID.DescendLessOrEqual(cur, visit)
		}
	case OrderByScoreDesc:
		pivot := &queueEntry{score: maxScore}
		if cur != nil && lessByScore(pivot, cur) {
			pivot = cur
		}
		s.byScore.AscendGreaterOrEqual(pivot, visit)
	case OrderByScore:
		pivot := &queueEntry{score: q.MinScore, id: strings.Repeat("\xff", 64)}
		if cur != nil && lessByScore(cur, pivot) {
			pivot = cur
		}
		s.byScore.DescendLessOrEqual(pivot, visit)
	}
	return page, total, next, nil
}

// queryFew answers a query restricted to a few decisions (a case's, a
// cluster's) by filtering and sorting them.
func (v View) queryFew(idx *matchQueues, q MatchQuery, cur *queueEntry, keep func(*queueEntry) bool) ([]MatchDecision, int, string, error) {
	var ids []string
	if q.IDs != nil {
		ids = q.IDs
	} else {
		for id := range idx.byCase[q.Case.String()] {
			ids = append(ids, id)
		}
	}
	var es []*queueEntry
	for _, id := range ids {
		if e := idx.entries[id]; e != nil && keep(e) && !slices.Contains(es, e) {
			es = append(es, e)
		}
	}
	slices.SortFunc(es, func(a, b *queueEntry) int {
		switch {
		case beforeIn(q.Order, a, b):
			return -1
		case beforeIn(q.Order, b, a):
			return 1
		}
		return 0
	})
	total := len(es)
	start := 0
	if cur != nil {
		start = len(es)
		for i, e := range es {
			if cur.before(q.Order, e) {
				start = i
				break
			}
		}
	}
	end := len(es)
	next := ""
	if q.Limit > 0 && start+q.Limit < len(es) {
		end = start + q.Limit
		next = cursorOf(q.Order, v.s.matches.m[es[end-1].id])
	}
	page := make([]MatchDecision, 0, end-start)
	for _, e := range es[start:end] {
		page = append(page, *v.s.matches.m[e.id].clone())
	}
	return page, total, next, nil
}

// awaitsAnswer says whether d is proposed and waits for member's answer.
func awaitsAnswer(d *MatchDecision, member string) bool {
	i := slices.IndexFunc(d.Decisions, func(c Consent) bool { return c.Member == member })
	return d.Status == MatchProposed && i >= 0 && d.Decisions[i].Answer == AnswerPending
}

// beforeIn says whether a comes before b in order o.
func beforeIn(o MatchOrder, a, b *queueEntry) bool {
	switch o {
	case OrderByIDDesc:
		return lessByID(b, a)
	case OrderByScoreDesc:
		return lessByScore(a, b)
	case OrderByScore:
		return lessByScore(b, a)
	}
	return lessByID(a, b)
}

// before says whether the cursor c comes strictly before e in order o.
func (c *queueEntry) before(o MatchOrder, e *queueEntry) bool { return beforeIn(o, c, e) }

// cursorOf is the cursor after decision d in order o: its id, and its
// score first in the orders by score.
func cursorOf(o MatchOrder, d *MatchDecision) string {
	if o == OrderByScoreDesc || o == OrderByScore {
		return strconv.FormatFloat(d.Score, 'g', -1, 64) + " " + d.ID
	}
	return d.ID
}

func parseCursor(o MatchOrder, s string) (*queueEntry, error) {
	if s == "" {
		return nil, nil
	}
	if o != OrderByScoreDesc && o != OrderByScore {
		return &queueEntry{id: s}, nil
	}
	score, id, ok := strings.Cut(s, " ")
	f, err := strconv.ParseFloat(score, 64)
	if !ok || err != nil || id == "" {
		return nil, invalid("cursor %q is not a score and an id", s)
	}
	return &queueEntry{id: id, score: f}, nil
}

// String names the order as the API does.
func (o MatchOrder) String() string {
	switch o {
	case OrderByIDDesc:
		return "id desc"
	case OrderByScoreDesc:
		return "score desc"
	case OrderByScore:
		return "score"
	case OrderByID:
		return "id"
	}
	return fmt.Sprintf("MatchOrder(%d)", int(o))
}
