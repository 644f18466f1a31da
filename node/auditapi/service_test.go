package auditapi_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/node/audit"
	"github.com/accordfed/accord/node/auditapi"
	"github.com/accordfed/accord/node/grpcserver"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// logOf writes n entries, PL's and DE's in turn, and returns the file.
func logOf(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	l, err := audit.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		peer := []string{"PL", "DE"}[i%2]
		if _, err := l.Append(audit.Entry{Kind: audit.KindServed, Peer: peer, PeerID: "spiffe://accord.test/member/" + peer + "/node/" + strings.ToLower(peer) + "-1",
			What: audit.What{Records: 1, FromSeq: uint64(i + 1), ToSeq: uint64(i + 1), CaseIDs: []string{"UA-2022-000031"}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, audit.FileName)
}

func seqs(r *accordv1.ListAuditEntriesResponse) []uint64 {
	var out []uint64
	for _, e := range r.GetEntries() {
		out = append(out, e.GetSeq())
	}
	return out
}

func TestPages(t *testing.T) {
	s := auditapi.New(logOf(t, 250), "UA")
	ctx := context.Background()
	r, err := s.ListAuditEntries(ctx, &accordv1.ListAuditEntriesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	v := r.GetVerification()
	if !v.GetVerified() || v.GetEntries() != 250 || v.GetLastSeq() != 250 || len(v.GetHead()) != 64 || v.GetFirstTime() == nil {
		t.Fatalf("verification: %v", v)
	}
	got := seqs(r)
	if len(got) != 100 || got[0] != 250 || got[99] != 151 || r.GetNextBeforeSeq() != 151 {
		t.Fatalf("first page: %d entries %v..%v, next %d", len(got), got[0], got[len(got)-1], r.GetNextBeforeSeq())
	}
	e := r.GetEntries()[0]
	if e.GetKind() != "served" || e.GetPeer() != "DE" || e.GetRecords() != 1 || e.GetCaseIds()[0] != "UA-2022-000031" || len(e.GetHash()) != 64 {
		t.Errorf("entry: %v", e)
	}
	// Older pages, to the first entry.
	var all []uint64
	all = append(all, got...)
	for next := r.GetNextBeforeSeq(); next != 0; {
		p, err := s.ListAuditEntries(ctx, &accordv1.ListAuditEntriesRequest{BeforeSeq: next, PageSize: 100})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, seqs(p)...)
		next = p.GetNextBeforeSeq()
	}
	if len(all) != 250 || all[249] != 1 {
		t.Errorf("all pages: %d entries, last %d", len(all), all[len(all)-1])
	}
	// PL's entries only (the odd seqs).
	p, err := s.ListAuditEntries(ctx, &accordv1.ListAuditEntriesRequest{Peer: "PL", PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	got = seqs(p)
	if len(got) != 10 || got[0] != 249 || got[9] != 231 || p.GetNextBeforeSeq() != 231 {
		t.Errorf("PL's page: %v next %d", got, p.GetNextBeforeSeq())
	}
}

func TestBadRequests(t *testing.T) {
	s := auditapi.New(logOf(t, 3), "UA")
	for _, c := range []struct {
		req   *accordv1.ListAuditEntriesRequest
		field string
	}{
		{&accordv1.ListAuditEntriesRequest{PageSize: -1}, "page_size"},
		{&accordv1.ListAuditEntriesRequest{PageSize: 1001}, "page_size"},
		{&accordv1.ListAuditEntriesRequest{Peer: "pl"}, "peer"},
	} {
		_, err := s.ListAuditEntries(context.Background(), c.req)
		st := status.Convert(grpcserver.ToStatus(err))
		if st.Code() != codes.InvalidArgument || !strings.HasPrefix(strings.TrimPrefix(st.Message(), "invalid argument: "), c.field) {
			t.Errorf("%v: %v, want InvalidArgument naming %s", c.req, st, c.field)
		}
	}
}

// TestBroken: an entry altered after it was written breaks the chain
// there; the page holds only the entries before it.
func TestBroken(t *testing.T) {
	path := logOf(t, 20)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	lines[4] = strings.Replace(lines[4], `"records":1`, `"records":7`, 1)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := auditapi.New(path, "UA").ListAuditEntries(context.Background(), &accordv1.ListAuditEntriesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	v := r.GetVerification()
	if v.GetVerified() || v.GetBrokenSeq() != 5 || v.GetBrokenLine() != 5 || v.GetBrokenReason() == "" {
		t.Fatalf("verification of an altered log: %v", v)
	}
	if got := seqs(r); len(got) != 4 || got[0] != 4 || got[3] != 1 {
		t.Errorf("entries of a log broken at 5: %v", got)
	}
}

// TestPolicy: the office's own users read the log; another member's users
// and every node are refused.
func TestPolicy(t *testing.T) {
	p := grpcserver.NewPolicy()
	auditapi.New("", "UA").Allow(p)
	m := accordv1.AuditService_ListAuditEntries_FullMethodName
	for _, c := range []struct {
		id identity.Identity
		ok bool
	}{
		{identity.Identity{Federation: "accord.test", Member: "UA", Kind: identity.KindUser, Name: "analyst"}, true},
		{identity.Identity{Federation: "accord.test", Member: "PL", Kind: identity.KindUser, Name: "analyst"}, false},
		{identity.Identity{Federation: "accord.test", Member: "UA", Kind: identity.KindNode, Name: "ua-2"}, false},
		{identity.Identity{Federation: "accord.test", Member: "PL", Kind: identity.KindNode, Name: "pl-1"}, false},
	} {
		if err := p.Check(m, c.id); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.id, err)
		}
	}
}

// BenchmarkListAuditEntries is the first page of a log of
// ACCORD_BENCH_AUDIT_ENTRIES entries (default 100,000): one read of the
// whole file, checking the chain.
func BenchmarkListAuditEntries(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("ACCORD_BENCH_AUDIT_ENTRIES")); err == nil && v > 0 {
		n = v
	}
	dir := b.TempDir()
	l, err := audit.Open(dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]audit.Entry, 0, 1000)
	for i := range n {
		batch = append(batch, audit.Entry{Kind: audit.KindServed, Peer: "PL", PeerID: "spiffe://accord.test/member/PL/node/pl-1",
			What: audit.What{Records: 1, FromSeq: uint64(i + 1), ToSeq: uint64(i + 1), CaseIDs: []string{"UA-2022-000031"}}})
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := l.Append(batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	s := auditapi.New(filepath.Join(dir, audit.FileName), "UA")
	b.ResetTimer()
	for b.Loop() {
		r, err := s.ListAuditEntries(context.Background(), &accordv1.ListAuditEntriesRequest{})
		if err != nil || len(r.GetEntries()) != 100 {
			b.Fatal(err)
		}
	}
}

// TestReadersBounded: while maxReaders calls read the log, one more is
// refused with ResourceExhausted rather than queued behind them.
func TestReadersBounded(t *testing.T) {
	s := auditapi.New(logOf(t, 3), "UA")
	release := auditapi.HoldReaders(s)
	_, err := s.ListAuditEntries(context.Background(), &accordv1.ListAuditEntriesRequest{})
	if st := status.Convert(grpcserver.ToStatus(err)); st.Code() != codes.ResourceExhausted {
		t.Errorf("a call while the readers are busy: %v, want ResourceExhausted", st)
	}
	release()
	if _, err := s.ListAuditEntries(context.Background(), &accordv1.ListAuditEntriesRequest{}); err != nil {
		t.Errorf("after the readers are done: %v", err)
	}
}
