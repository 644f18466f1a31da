package console

import (
	"strconv"
	"strings"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// auditPageSize is how many audit entries a page shows.
const auditPageSize = 100

// auditRow is one audit entry as the page shows it: identifiers and
// counts only (the log holds no name).
type auditRow struct {
	Seq                uint64
	When, Kind         string
	Peer, Actor        string
	Records            int64
	Seqs, Reason, Hash string
	Cases              []string
	MoreCases          int64
}

// auditBreak is where the log's chain breaks.
type auditBreak struct {
	Seq    uint64
	Line   int64
	Reason string
}

// auditPage is a page of the office's audit log and its chain's check, as
// the node's AuditService gives them.
type auditPage struct {
	// Verified: the chain holds from the first entry to the last; else
	// Broken is set.
	Verified            bool
	Broken              *auditBreak
	Entries, LastAnchor uint64
	Unanchored          uint64
	Head, First, Last   string
	Rows                []auditRow
	Newer, Older        string
}

// handleAudit shows the office's audit log, newest first, with its hash
// chain's verification: the node's AuditService, which decides who may
// read it.
func (s *Server) handleAudit(q *request) error {
	req := &accordv1.ListAuditEntriesRequest{PageSize: auditPageSize}
	if b, err := strconv.ParseUint(q.r.URL.Query().Get("before"), 10, 64); err == nil && b >= 1 {
		req.BeforeSeq = b
	}
	resp, err := accordv1.NewAuditServiceClient(q.conn).ListAuditEntries(q.ctx, req)
	if err != nil {
		return err
	}
	v := resp.GetVerification()
	p := auditPage{Verified: v.GetVerified(), Entries: v.GetEntries(), LastAnchor: v.GetLastAnchorSeq(), Unanchored: v.GetUnanchored(),
		Head: v.GetHead(), First: dateTime(q.lang, v.GetFirstTime().AsTime()), Last: dateTime(q.lang, v.GetLastTime().AsTime())}
	if v.GetFirstTime() == nil {
		p.First, p.Last = "–", "–"
	}
	if !p.Verified {
		p.Broken = &auditBreak{Seq: v.GetBrokenSeq(), Line: v.GetBrokenLine(), Reason: v.GetBrokenReason()}
	}
	for _, e := range resp.GetEntries() {
		p.Rows = append(p.Rows, auditRowOf(q.lang, e))
	}
	if n := resp.GetNextBeforeSeq(); n != 0 {
		p.Older = strconv.FormatUint(n, 10)
	}
	// A newer page when this one does not start at the newest entry.
	if len(p.Rows) > 0 && p.Rows[0].Seq < v.GetLastSeq() {
		p.Newer = strconv.FormatUint(min(p.Rows[0].Seq+1+auditPageSize, v.GetLastSeq()+1), 10)
	}
	s.render(q.w, q.r, "audit", q.lang, q.sess, pageData{Title: T(q.lang, "audit.title"), Nav: "audit", Page: &p})
	return nil
}

// auditRowOf is an entry's row: the actor is the peer's node (or, for a
// lookup, the user's account), by the last part of its identity.
func auditRowOf(lang string, e *accordv1.AuditEntry) auditRow {
	r := auditRow{Seq: e.GetSeq(), When: dateTime(lang, e.GetTime().AsTime()), Kind: auditKind(lang, e.GetKind()), Peer: e.GetPeer(),
		Records: e.GetRecords(), Reason: e.GetReason(), Cases: e.GetCaseIds(), MoreCases: e.GetMoreCases()}
	if e.GetPeerId() != "" {
		r.Actor = shortName(e.GetPeerId())
	}
	if e.GetFromSeq() != 0 || e.GetToSeq() != 0 {
		r.Seqs = strconv.FormatUint(e.GetFromSeq(), 10) + "–" + strconv.FormatUint(e.GetToSeq(), 10)
	}
	if h := e.GetHash(); len(h) >= 12 {
		r.Hash = h[:12]
	}
	return r
}

// auditKind is a kind's words in lang (the catalog's audit.kind.<name>).
func auditKind(lang, kind string) string {
	if s, ok := catalogs[lang]["audit.kind."+kind]; ok {
		return s
	}
	return strings.ReplaceAll(kind, "_", " ")
}
