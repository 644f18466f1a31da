package audit_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accordfed/accord/node/audit"
)

func TestAppendReopenContinue(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	l, err := audit.OpenWith(dir, nil, audit.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if seq, h := l.Head(); seq != 0 || h != audit.ZeroHash {
		t.Fatalf("empty head = %d %s", seq, h)
	}
	first := appendN(t, l, 7, 3)
	seq, head := l.Head()
	if seq != 7 || head != first[6].Hash {
		t.Fatalf("head = %d %s, want 7 %s", seq, head, first[6].Hash)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l, err = audit.OpenWith(dir, nil, audit.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if s, h := l.Head(); s != seq || h != head {
		t.Fatalf("head after reopen = %d %s, want %d %s", s, h, seq, head)
	}
	more := appendN(t, l, 4, 4)
	if more[0].Seq != 8 || more[0].Prev != head {
		t.Fatalf("first entry after reopen: seq %d prev %s, want 8 %s", more[0].Seq, more[0].Prev, head)
	}
	all := append(first, more...)
	for i, e := range all {
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d has seq %d", i, e.Seq)
		}
		if i > 0 && e.Prev != all[i-1].Hash {
			t.Fatalf("entry %d: prev %s, want %s", e.Seq, e.Prev, all[i-1].Hash)
		}
	}
	rep, err := audit.Verify(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 11 || rep.LastSeq != 11 || rep.Head != all[10].Hash || rep.Break != nil || rep.TornBytes != 0 {
		t.Fatalf("report = %+v", rep)
	}
	if !rep.First.Equal(all[0].Time) || !rep.Last.Equal(all[10].Time) {
		t.Fatalf("report times %v..%v, want %v..%v", rep.First, rep.Last, all[0].Time, all[10].Time)
	}
	if rep.Anchors != 0 || rep.Unanchored != 11 || rep.AnchorsVerified {
		t.Fatalf("anchors in report = %+v", rep)
	}
}

func TestAppendAssigns(t *testing.T) {
	l, _ := openLog(t, audit.Options{})
	in := served(1)
	in.Seq, in.Time, in.Prev, in.Hash = 99, t0.Add(-time.Hour), "x", "y" // ignored
	ids := make([]string, 40)
	for i := range ids {
		ids[i] = fmt.Sprintf("UA-%d", i)
	}
	in.What.CaseIDs, in.What.MoreCases = ids, 2
	out, err := l.Append(in, refused("permission_denied"))
	if err != nil {
		t.Fatal(err)
	}
	e := out[0]
	if e.Seq != 1 || e.Prev != audit.ZeroHash || len(e.Hash) != 64 || e.Time.Location() != time.UTC || !e.Time.Equal(t0.Add(time.Second)) {
		t.Fatalf("assigned: %+v", e)
	}
	if len(e.What.CaseIDs) != audit.MaxCaseIDs || e.What.CaseIDs[15] != "UA-15" || e.What.MoreCases != 2+40-16 {
		t.Fatalf("case ids %v more %d", e.What.CaseIDs, e.What.MoreCases)
	}
	if len(in.What.CaseIDs) != 40 {
		t.Fatal("Append changed the caller's slice")
	}
	if out[1].Seq != 2 || out[1].Prev != e.Hash || !out[1].Time.Equal(e.Time) {
		t.Fatalf("second entry of the batch: %+v", out[1])
	}
	// What the file holds is what Append returned.
	var got []audit.Entry
	if err := audit.Scan(l.Path(), audit.Filter{}, func(e audit.Entry) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Hash != e.Hash || !slices.Equal(got[0].What.CaseIDs, e.What.CaseIDs) || got[1].What.Reason != "permission_denied" {
		t.Fatalf("scanned %+v", got)
	}
}

// TestCanonicalEncoding rebuilds the hash from the specification in doc.go,
// byte by byte, independently of the package's code.
func TestCanonicalEncoding(t *testing.T) {
	l, _ := openLog(t, audit.Options{Signer: newEd25519(t), AnchorEvery: 2})
	out, err := l.Append(served(3), audit.Entry{Kind: audit.KindNudged, Peer: "PL", PeerID: plID, What: audit.What{ToSeq: 5000}})
	if err != nil {
		t.Fatal(err)
	}
	u64 := func(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }
	str := func(b []byte, s string) []byte { return append(u64(b, uint64(len(s))), s...) }
	raw := func(h string) []byte {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	spec := func(e audit.Entry) string {
		b := str(nil, "accord-audit-entry-v1")
		b = u64(b, e.Seq)
		b = u64(b, uint64(e.Time.Unix()))
		b = binary.BigEndian.AppendUint32(b, uint32(e.Time.Nanosecond()))
		b = str(b, e.Kind.String())
		b = str(b, e.Peer)
		b = str(b, e.PeerID)
		b = u64(b, uint64(e.What.Records))
		b = u64(b, e.What.FromSeq)
		b = u64(b, e.What.ToSeq)
		b = u64(b, uint64(len(e.What.CaseIDs)))
		for _, id := range e.What.CaseIDs {
			b = str(b, id)
		}
		b = u64(b, uint64(e.What.MoreCases))
		b = str(b, e.What.Cursor)
		b = str(b, e.What.Reason)
		if e.Key != "" {
			b = str(b, string(raw(e.Key)))
		} else {
			b = u64(b, 0)
		}
		sig, _ := base64.StdEncoding.DecodeString(e.Sig)
		b = str(b, string(sig))
		b = append(b, raw(e.Prev)...)
		h := sha256.Sum256(b)
		return hex.EncodeToString(h[:])
	}
	for _, e := range out {
		if got := spec(e); got != e.Hash {
			t.Errorf("entry %d: hash %s, the specification gives %s", e.Seq, e.Hash, got)
		}
	}
	var anchors []audit.Entry
	if err := audit.Scan(l.Path(), audit.Filter{Kind: audit.KindAnchor}, func(e audit.Entry) error { anchors = append(anchors, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(anchors) != 1 || anchors[0].Seq != 3 || spec(anchors[0]) != anchors[0].Hash {
		t.Fatalf("anchors %+v", anchors)
	}
	// The line format of doc.go.
	line := readLines(t, l.Path())[0]
	want := `{"seq":1,"time":"2026-03-01T10:00:01Z","kind":"served","peer":"PL","peer_id":"` + plID +
		`","what":{"records":120,"from_seq":3001,"to_seq":3120,"case_ids":["UA-2022-000003"],"more_cases":119,"cursor":"c3120"},"prev":"` +
		audit.ZeroHash + `","hash":"` + out[0].Hash + "\"}\n"
	if line != want {
		t.Fatalf("line\n%s\nwant\n%s", line, want)
	}
	// encoding/json reads a line into the same Entry.
	var viaJSON audit.Entry
	if err := json.Unmarshal([]byte(line), &viaJSON); err != nil || !reflect.DeepEqual(viaJSON, out[0]) {
		t.Fatalf("json.Unmarshal: %+v, %v; want %+v", viaJSON, err, out[0])
	}
}

func TestAppendInvalid(t *testing.T) {
	l, _ := openLog(t, audit.Options{})
	mod := func(f func(*audit.Entry)) audit.Entry { e := served(1); f(&e); return e }
	for _, tc := range []struct {
		name string
		e    audit.Entry
		want string
	}{
		{"no kind", mod(func(e *audit.Entry) { e.Kind = 0 }), "kind 0"},
		{"unknown kind", mod(func(e *audit.Entry) { e.Kind = 42 }), "kind 42"},
		{"anchor", mod(func(e *audit.Entry) { e.Kind = audit.KindAnchor }), "anchor"},
		{"key", mod(func(e *audit.Entry) { e.Key = audit.ZeroHash }), "key and sig"},
		{"no peer", mod(func(e *audit.Entry) { e.Peer = "" }), "peer"},
		{"lower-case peer", mod(func(e *audit.Entry) { e.Peer = "pl" }), `peer "pl"`},
		{"no peer id", mod(func(e *audit.Entry) { e.PeerID = "" }), "peer_id is empty"},
		{"peer id not a URI", mod(func(e *audit.Entry) { e.PeerID = "pl-1" }), "peer_id"},
		{"peer id of another member", mod(func(e *audit.Entry) { e.PeerID = deID }), "names member DE"},
		{"negative records", mod(func(e *audit.Entry) { e.What.Records = -1 }), "what.records"},
		{"negative more cases", mod(func(e *audit.Entry) { e.What.MoreCases = -1 }), "what.more_cases"},
		{"from after to", mod(func(e *audit.Entry) { e.What.FromSeq, e.What.ToSeq = 9, 8 }), "what.from_seq"},
		{"case id with a space", mod(func(e *audit.Entry) { e.What.CaseIDs = []string{"UA-1", "UA 2"} }), "what.case_ids[1]"},
		{"case id too long", mod(func(e *audit.Entry) { e.What.CaseIDs = []string{"UA-" + strings.Repeat("1", 62)} }), "what.case_ids[0]"},
		{"case id without member", mod(func(e *audit.Entry) { e.What.CaseIDs = []string{"2022-1"} }), "what.case_ids[0]"},
		{"cursor with a quote", mod(func(e *audit.Entry) { e.What.Cursor = `c"1` }), "what.cursor"},
		{"cursor too long", mod(func(e *audit.Entry) { e.What.Cursor = strings.Repeat("c", 513) }), "what.cursor"},
		{"reason in prose", mod(func(e *audit.Entry) { e.What.Reason = "refused to Ivan Petrenko" }), "what.reason"},
		{"reason upper-case", mod(func(e *audit.Entry) { e.What.Reason = "Denied" }), "what.reason"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := l.Append(served(0), tc.e)
			if !errors.Is(err, audit.ErrInvalid) || !strings.Contains(err.Error(), "entry 1: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalid naming entry 1 and %q", err, tc.want)
			}
			if seq, _ := l.Head(); seq != 0 {
				t.Fatalf("head moved to %d: part of a refused call was written", seq)
			}
		})
	}
	if st, err := os.Stat(l.Path()); err != nil || st.Size() != 0 {
		t.Fatalf("file: %v, %v", st, err)
	}
}

func TestClockBackwards(t *testing.T) {
	c := newClock()
	l, _ := openLog(t, audit.Options{Now: c.Now})
	a, _ := l.Append(served(1))
	c.set(t0.Add(-time.Hour))
	b, _ := l.Append(served(2))
	c.set(t0.Add(time.Hour))
	d, _ := l.Append(served(3))
	if !b[0].Time.Equal(a[0].Time) || !d[0].Time.Equal(t0.Add(time.Hour)) {
		t.Fatalf("times %v %v %v", a[0].Time, b[0].Time, d[0].Time)
	}
	if _, err := audit.Verify(l.Path()); err != nil {
		t.Fatal(err)
	}
}

func TestLockRefusesSecondOpen(t *testing.T) {
	l, dir := openLog(t, audit.Options{})
	if _, err := audit.Open(dir, nil); !errors.Is(err, audit.ErrLocked) {
		t.Fatalf("second open: err = %v, want ErrLocked", err)
	}
	appendN(t, l, 2, 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := audit.Open(dir, nil)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	defer l2.Close()
	if seq, _ := l2.Head(); seq != 2 {
		t.Fatalf("head %d", seq)
	}
}

func TestClosed(t *testing.T) {
	l, _ := openLog(t, audit.Options{})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := l.Append(served(1)); !errors.Is(err, audit.ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
}

// TestConcurrentAppends: 8 goroutines append single entries and batches at
// once; every call gets consecutive seqs, together they cover 1..n without
// gaps, and the file verifies.
func TestConcurrentAppends(t *testing.T) {
	l, _ := openLog(t, audit.Options{Signer: newECDSA(t), AnchorEvery: 50})
	const workers, calls = 8, 100
	var mu sync.Mutex
	var seqs []uint64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range calls {
				batch := make([]audit.Entry, 1+(w+i)%3)
				for j := range batch {
					batch[j] = served(w*1000 + i)
				}
				out, err := l.Append(batch...)
				if err != nil {
					t.Error(err)
					return
				}
				for j := range out {
					if out[j].Seq != out[0].Seq+uint64(j) {
						t.Errorf("one call's entries are not consecutive: %d then %d", out[0].Seq, out[j].Seq)
					}
				}
				mu.Lock()
				for _, e := range out {
					seqs = append(seqs, e.Seq)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.VerifyWith(l.Path(), audit.VerifyOptions{PublicKeys: nil, RequireAnchoredTail: true})
	if err != nil {
		t.Fatal(err)
	}
	// Anchors take seqs too: the callers' seqs plus the anchors' are 1..n.
	var anchorSeqs []uint64
	if err := audit.Scan(l.Path(), audit.Filter{Kind: audit.KindAnchor}, func(e audit.Entry) error {
		anchorSeqs = append(anchorSeqs, e.Seq)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	all := append(slices.Clone(seqs), anchorSeqs...)
	slices.Sort(all)
	if uint64(len(all)) != rep.Entries {
		t.Fatalf("%d seqs returned + anchors, %d entries in the file", len(all), rep.Entries)
	}
	for i, s := range all {
		if s != uint64(i+1) {
			t.Fatalf("seq %d at position %d: gap or duplicate", s, i)
		}
	}
	if len(anchorSeqs) == 0 || rep.Unanchored != 0 {
		t.Fatalf("anchors %v, report %+v", anchorSeqs, rep)
	}
}
