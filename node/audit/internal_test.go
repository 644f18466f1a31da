package audit

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
)

func testEntry(i int) Entry {
	return Entry{Kind: KindServed, Peer: "PL", PeerID: "spiffe://accord.example/member/PL/node/pl-1", What: What{Records: i + 1}}
}

// TestRewriteDetectedByAnchors: someone who can write the file changes an
// entry and recomputes every hash after it. Without keys the log verifies
// (a bare hash chain cannot tell); with the anchor key, the first anchor
// after the change does not verify.
func TestRewriteDetectedByAnchors(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	dir := t.TempDir()
	l, err := OpenWith(dir, nil, Options{Signer: key, AnchorEvery: 5})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := l.Append(testEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()

	// Read, change entry 3, re-chain everything.
	var entries []Entry
	if err := Scan(l.Path(), Filter{}, func(e Entry) error { entries = append(entries, e); return nil }); err != nil {
		t.Fatal(err)
	}
	entries[2].What.Records = 999
	var prev [HashSize]byte
	var buf []byte
	for i := range entries {
		e := &entries[i]
		e.Prev = hex.EncodeToString(prev[:])
		prev = e.sum(&prev)
		e.Hash = hex.EncodeToString(prev[:])
		buf = e.appendLine(buf)
	}
	if err := os.WriteFile(l.Path(), buf, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(l.Path()); err != nil {
		t.Fatalf("without keys: %v", err)
	}
	_, err = VerifyWith(l.Path(), VerifyOptions{PublicKeys: []crypto.PublicKey{key.Public()}})
	var b *Break
	if !errors.As(err, &b) || b.Seq != 6 || !strings.Contains(b.Reason, "signature does not verify") {
		t.Fatalf("with the key: %v, want a break at the anchor, seq 6", err)
	}
}

// TestWriteFailure: after a failed write the log refuses appends, and the
// file holds what it held before.
func TestWriteFailure(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(testEntry(0)); err != nil {
		t.Fatal(err)
	}
	// Swap the file for one opened read-only: writes fail.
	ro, err := os.Open(l.path)
	if err != nil {
		t.Fatal(err)
	}
	rw := l.file
	l.file = ro
	if _, err := l.Append(testEntry(1)); !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("err = %v, want ErrWriteFailed", err)
	}
	if _, err := l.Append(testEntry(2)); !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("after a failure: err = %v, want ErrWriteFailed", err)
	}
	if seq, _ := l.Head(); seq != 1 {
		t.Fatalf("head moved to %d", seq)
	}
	l.Close()
	rw.Close()
	l, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if seq, _ := l.Head(); seq != 1 {
		t.Fatalf("head after reopen %d", seq)
	}
}

func TestKindText(t *testing.T) {
	for k := KindSent; k <= KindAnchor; k++ {
		b, err := k.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Kind
		if err := back.UnmarshalText(b); err != nil || back != k {
			t.Fatalf("%s: %v %v", b, back, err)
		}
	}
	if _, err := Kind(0).MarshalText(); err == nil {
		t.Fatal("kind 0 marshalled")
	}
	if _, err := ParseKind("deleted"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("ParseKind: %v", err)
	}
}
