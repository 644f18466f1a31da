package audit_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/node/audit"
)

func TestScanFilters(t *testing.T) {
	c := newClock()
	key := newEd25519(t)
	l, _ := openLog(t, audit.Options{Now: c.Now, Signer: key, AnchorEvery: 4})
	// One entry per second from t0+1s: served PL, received DE, refused DE,
	// nudged PL, then an anchor in the fourth batch, and so on.
	for i := range 8 {
		var e audit.Entry
		switch i % 4 {
		case 0:
			e = served(i)
		case 1:
			e = received(i)
		case 2:
			e = refused("permission_denied")
		case 3:
			e = audit.Entry{Kind: audit.KindNudged, Peer: "PL", PeerID: plID, What: audit.What{ToSeq: uint64(i)}}
		}
		if _, err := l.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	scan := func(f audit.Filter) []uint64 {
		t.Helper()
		var seqs []uint64
		if err := audit.Scan(l.Path(), f, func(e audit.Entry) error { seqs = append(seqs, e.Seq); return nil }); err != nil {
			t.Fatal(err)
		}
		return seqs
	}
	// Seqs: 1 served, 2 received, 3 refused, 4 nudged, 5 anchor, 6 served,
	// 7 received, 8 refused, 9 nudged, 10 anchor. Times: t0+1s..t0+8s for
	// the traffic; each anchor shares its batch's time.
	for _, tc := range []struct {
		name string
		f    audit.Filter
		want string
	}{
		{"all", audit.Filter{}, "1 2 3 4 5 6 7 8 9 10"},
		{"peer", audit.Filter{Peer: "PL"}, "1 4 6 9"},
		{"kind", audit.Filter{Kind: audit.KindRefused}, "3 8"},
		{"anchors", audit.Filter{Kind: audit.KindAnchor}, "5 10"},
		{"peer and kind", audit.Filter{Peer: "DE", Kind: audit.KindReceived}, "2 7"},
		{"since", audit.Filter{Since: t0.Add(6 * time.Second)}, "7 8 9 10"},
		{"until", audit.Filter{Until: t0.Add(3 * time.Second)}, "1 2"},
		{"window", audit.Filter{Since: t0.Add(2 * time.Second), Until: t0.Add(5 * time.Second)}, "2 3 4 5"},
		{"limit", audit.Filter{Peer: "DE", Limit: 3}, "2 3 7"},
		{"nothing", audit.Filter{Peer: "FR"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Trim(fmt.Sprint(scan(tc.f)), "[]")
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}

	stop := errors.New("stop")
	n := 0
	err := audit.Scan(l.Path(), audit.Filter{}, func(audit.Entry) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("fn's error: %v after %d", err, n)
	}

	// A broken entry stops the scan with a Break; fn saw the entries before.
	l.Close()
	lines := readLines(t, l.Path())
	lines[2] = strings.Replace(lines[2], "permission_denied", "permission_granted", 1)
	writeLines(t, l.Path(), lines)
	var seen []uint64
	err = audit.Scan(l.Path(), audit.Filter{}, func(e audit.Entry) error { seen = append(seen, e.Seq); return nil })
	wantBreak(t, err, 3, 3, "hash does not match")
	if len(seen) != 2 {
		t.Fatalf("seen %v", seen)
	}
}
