package console

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/node/audit"
)

// auditPageSize is how many audit entries a page shows.
const auditPageSize = 100

// auditRow is one audit entry as the page shows it: identifiers and
// counts only (the log holds no name).
type auditRow struct {
	Seq                uint64
	When, Kind         string
	Peer, Actor        string
	Records            int
	Seqs, Reason, Hash string
	Cases              []string
	MoreCases          int
}

// auditPage is a page of the office's audit log and its chain's check.
type auditPage struct {
	// Configured is false when the console was started without the
	// node's audit log (no configuration with a data directory).
	Configured bool
	// Verified: the chain holds from the first entry to the last; else
	// Broken is set.
	Verified            bool
	Broken              *audit.Break
	Entries, LastAnchor uint64
	Unanchored          uint64
	Head, First, Last   string
	Rows                []auditRow
	Newer, Older        string
}

// errAuditPageFull stops a scan once the page is full.
var errAuditPageFull = errors.New("page full")

// handleAudit shows the office's audit log, newest first, with its hash
// chain's verification (as accordctl audit verify and show read it).
func (s *Server) handleAudit(q *request) error {
	if s.opts.Office != nil && (s.opts.AuditReader == nil || !s.opts.AuditReader(q.sess.account)) {
		return status.Error(codes.PermissionDenied, "the audit log is for the node's admins (local_api.admins)")
	}
	p := auditPage{Configured: s.opts.AuditFile != ""}
	d := pageData{Title: T(q.lang, "audit.title"), Nav: "audit", Page: &p}
	if !p.Configured {
		s.render(q.w, q.r, "audit", q.lang, q.sess, d)
		return nil
	}
	rep, err := audit.Verify(s.opts.AuditFile)
	if brk, ok := errors.AsType[*audit.Break](err); ok {
		p.Broken = brk
	} else if err != nil {
		return err
	}
	p.Verified = p.Broken == nil
	p.Entries, p.LastAnchor, p.Unanchored, p.Head = rep.Entries, rep.LastAnchorSeq, rep.Unanchored, rep.Head
	p.First, p.Last = dateTime(q.lang, rep.First), dateTime(q.lang, rep.Last)
	// The page's entries: those before seq "before", newest first.
	before := rep.LastSeq + 1
	if b, err := strconv.ParseUint(q.r.URL.Query().Get("before"), 10, 64); err == nil && b >= 1 && b < before {
		before = b
	}
	lo := uint64(1)
	if before > auditPageSize {
		lo = before - auditPageSize
	}
	err = audit.Scan(s.opts.AuditFile, audit.Filter{}, func(e audit.Entry) error {
		if e.Seq >= before {
			return errAuditPageFull
		}
		if e.Seq >= lo {
			p.Rows = append(p.Rows, s.auditRowOf(q.lang, e))
		}
		return nil
	})
	if _, broken := errors.AsType[*audit.Break](err); err != nil && !broken && !errors.Is(err, errAuditPageFull) {
		return err
	}
	slices.Reverse(p.Rows)
	if lo > 1 {
		p.Older = strconv.FormatUint(lo, 10)
	}
	if before <= rep.LastSeq {
		p.Newer = strconv.FormatUint(min(before+auditPageSize, rep.LastSeq+1), 10)
	}
	s.render(q.w, q.r, "audit", q.lang, q.sess, d)
	return nil
}

// auditRowOf is an entry's row: the actor is the peer's node (or, for a
// lookup, the user's account), by the last part of its identity.
func (s *Server) auditRowOf(lang string, e audit.Entry) auditRow {
	r := auditRow{Seq: e.Seq, When: dateTime(lang, e.Time), Kind: auditKind(lang, e.Kind), Peer: e.Peer, Records: e.What.Records,
		Reason: e.What.Reason, Cases: e.What.CaseIDs, MoreCases: e.What.MoreCases}
	if e.PeerID != "" {
		r.Actor = shortName(e.PeerID)
	}
	if e.What.FromSeq != 0 || e.What.ToSeq != 0 {
		r.Seqs = strconv.FormatUint(e.What.FromSeq, 10) + "–" + strconv.FormatUint(e.What.ToSeq, 10)
	}
	if len(e.Hash) >= 12 {
		r.Hash = e.Hash[:12]
	}
	return r
}

// auditKind is a kind's words in lang (the catalog's audit.kind.<name>).
func auditKind(lang string, k audit.Kind) string {
	if s, ok := catalogs[lang]["audit.kind."+k.String()]; ok {
		return s
	}
	return strings.ReplaceAll(k.String(), "_", " ")
}
