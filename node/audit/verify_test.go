package audit_test

import (
	"crypto"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/node/audit"
)

// sealedLog writes n entries and closes the log; it returns the file.
func sealedLog(t *testing.T, n int, opts audit.Options) string {
	t.Helper()
	l, _ := openLog(t, opts)
	appendN(t, l, n, 4)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return l.Path()
}

func TestVerifyOK(t *testing.T) {
	path := sealedLog(t, 10, audit.Options{})
	rep, err := audit.Verify(path)
	if err != nil || rep.Entries != 10 || rep.Break != nil {
		t.Fatalf("report %+v, err %v", rep, err)
	}
	empty := t.TempDir()
	l, err := audit.Open(empty, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if rep, err := audit.Verify(l.Path()); err != nil || rep.Entries != 0 || rep.Head != audit.ZeroHash {
		t.Fatalf("empty log: %+v, %v", rep, err)
	}
	if _, err := audit.Verify(t.TempDir() + "/none"); err == nil || errors.Is(err, audit.ErrBroken) {
		t.Fatalf("missing file: %v", err)
	}
}

// TestTamperEveryByte changes each byte of a line in the middle of the log,
// in turn, to two other values: Verify must name that line and its seq
// every time.
func TestTamperEveryByte(t *testing.T) {
	path := sealedLog(t, 5, audit.Options{})
	lines := readLines(t, path)
	const k = 3 // line 3, entry 3
	orig := lines[k-1]
	for i := 0; i < len(orig); i++ {
		for _, b := range []byte{orig[i] ^ 0x01, 'A'} {
			if b == orig[i] {
				continue
			}
			changed := []byte(orig)
			changed[i] = b
			lines[k-1] = string(changed)
			writeLines(t, path, lines)
			_, err := audit.Verify(path)
			br, ok := errors.AsType[*audit.Break](err)
			if !ok || br.Line != k || br.Seq != k {
				t.Fatalf("byte %d (%q) changed to %q: err = %v, want a break at line %d", i, orig[i], b, err, k)
			}
		}
	}
	lines[k-1] = orig
	writeLines(t, path, lines)
	if _, err := audit.Verify(path); err != nil {
		t.Fatal(err)
	}
}

func TestTamperFields(t *testing.T) {
	for _, tc := range []struct {
		name, old, new, reason string
	}{
		{"records", `"records":3,`, `"records":4,`, "hash does not match"},
		{"peer", `"peer":"DE"`, `"peer":"FR"`, "peer_id names member DE"},
		{"kind", `"kind":"received"`, `"kind":"refused"`, "hash does not match"},
		{"case id", `"DE-2"`, `"DE-7"`, "hash does not match"},
		{"time", `:01Z"`, `:02Z"`, "hash does not match"},
		{"extra field", `"what":{`, `"note":"x","what":{`, "not in the form"},
		{"spacing", `"seq":2,`, `"seq": 2,`, "not in the form"},
		{"upper-case hash", `","hash":"`, `","hash":"A`, "hash is not 64 lower-case"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := sealedLog(t, 4, audit.Options{})
			lines := readLines(t, path)
			if !strings.Contains(lines[1], tc.old) {
				t.Fatalf("line 2 has no %q: %s", tc.old, lines[1])
			}
			lines[1] = strings.Replace(lines[1], tc.old, tc.new, 1)
			if tc.name == "upper-case hash" {
				lines[1] = lines[1][:len(lines[1])-4] + `"}` + "\n" // keep 64 digits
			}
			writeLines(t, path, lines)
			_, err := audit.Verify(path)
			wantBreak(t, err, 2, 2, tc.reason)
		})
	}
}

func TestTamperLines(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func([]string) []string
		line   int
		seq    uint64
		reason string
	}{
		{"delete a line", func(l []string) []string { return append(l[:2:2], l[3:]...) }, 3, 3, "seq is 4 where 3 was expected"},
		{"delete the first line", func(l []string) []string { return l[1:] }, 1, 1, "seq is 2 where 1 was expected"},
		{"swap two lines", func(l []string) []string { l[2], l[3] = l[3], l[2]; return l }, 3, 3, "seq is 4 where 3 was expected"},
		{"repeat a line", func(l []string) []string { return append(l[:3:3], l[2:]...) }, 4, 4, "seq is 3 where 4 was expected"},
		{"empty line", func(l []string) []string { return append(l[:2:2], append([]string{"\n"}, l[2:]...)...) }, 3, 3, "not a JSON entry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := sealedLog(t, 6, audit.Options{})
			writeLines(t, path, tc.edit(readLines(t, path)))
			rep, err := audit.Verify(path)
			wantBreak(t, err, tc.line, tc.seq, tc.reason)
			if rep.Break == nil || rep.Entries != uint64(tc.line-1) {
				t.Fatalf("report %+v", rep)
			}
		})
	}
}

// TestTornTail: a last line cut in the middle (a crash mid-write) is not a
// break for Verify (it reports TornBytes), and Open cuts it off with a
// warning and continues the chain.
func TestTornTail(t *testing.T) {
	for _, tc := range []struct {
		name string
		tail func(last string) string
	}{
		{"half a line", func(last string) string { return last[:len(last)/2] }},
		{"all but the newline", func(last string) string { return last[:len(last)-1] }},
		{"zeros longer than a read chunk", func(string) string { return strings.Repeat("\x00", 100_000) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := sealedLog(t, 5, audit.Options{})
			lines := readLines(t, path)
			last := lines[4]
			lines[4] = tc.tail(last)
			writeLines(t, path, lines)

			rep, err := audit.Verify(path)
			if err != nil || rep.Entries != 4 || rep.TornBytes != int64(len(lines[4])) {
				t.Fatalf("verify: %+v, %v", rep, err)
			}
			if _, err := audit.VerifyWith(path, audit.VerifyOptions{RequireAnchoredTail: true}); !errors.Is(err, audit.ErrBroken) {
				t.Fatalf("anchored tail required: %v", err)
			}

			logger, logs := newLogger()
			l, err := audit.OpenWith(dirOf(path), logger, audit.Options{Now: newClock().Now})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if !strings.Contains(logs.String(), "unfinished line") || !strings.Contains(logs.String(), "line=5") {
				t.Fatalf("no warning naming line 5: %s", logs)
			}
			if seq, _ := l.Head(); seq != 4 {
				t.Fatalf("head %d after recovery", seq)
			}
			out, err := l.Append(refused("cursor_out_of_range"))
			if err != nil || out[0].Seq != 5 {
				t.Fatalf("append after recovery: %v %v", out, err)
			}
			if rep, err := audit.Verify(path); err != nil || rep.Entries != 5 || rep.TornBytes != 0 {
				t.Fatalf("verify after recovery: %+v, %v", rep, err)
			}
		})
	}
}

// dirOf returns the directory of a log file.
func dirOf(path string) string {
	return strings.TrimSuffix(path, "/"+audit.FileName)
}

func TestTornWholeFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(logPath(dir), []byte(`{"seq":1,"ti`), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if seq, h := l.Head(); seq != 0 || h != audit.ZeroHash {
		t.Fatalf("head %d %s", seq, h)
	}
}

// TestOpenCorrupt: damage in a complete last line, or a last line that
// does not link to the one before, fails Open with ErrCorrupt naming the
// line. Damage further back is Verify's to find.
func TestOpenCorrupt(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func([]string) []string
		line string
	}{
		{"last line altered", func(l []string) []string {
			l[4] = strings.Replace(l[4], `"records":120`, `"records":121`, 1)
			return l
		}, "line 5: hash does not match"},
		{"line before the last altered", func(l []string) []string {
			l[3] = strings.Replace(l[3], `"records":3`, `"records":4`, 1)
			return l
		}, "line 4: hash does not match"},
		{"last line deleted and another put back", func(l []string) []string { return append(l[:3:3], l[4]) }, "line 4: seq is 5, but the line before has seq 3"},
		{"first line only, not seq 1", func(l []string) []string { return l[4:] }, "line 1: the first entry has seq 5"},
		{"garbage line", func(l []string) []string { return append(l, "hello\n") }, "line 6: not a JSON entry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := sealedLog(t, 5, audit.Options{})
			writeLines(t, path, tc.edit(readLines(t, path)))
			_, err := audit.Open(dirOf(path), nil)
			if !errors.Is(err, audit.ErrCorrupt) || !strings.Contains(err.Error(), tc.line) {
				t.Fatalf("err = %v, want ErrCorrupt with %q", err, tc.line)
			}
		})
	}
	// Damage in the middle: Open continues (it reads the tail), Verify
	// finds it.
	path := sealedLog(t, 5, audit.Options{})
	lines := readLines(t, path)
	lines[1] = strings.Replace(lines[1], `"records":3`, `"records":4`, 1)
	writeLines(t, path, lines)
	l, err := audit.Open(dirOf(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	_, err = audit.Verify(path)
	wantBreak(t, err, 2, 2, "hash does not match")
}

// TestTruncateWholeLines: cutting whole entries off the end leaves a valid
// log for Verify; witnesses and an anchored tail show the cut.
func TestTruncateWholeLines(t *testing.T) {
	key := newEd25519(t)
	var anchors []audit.Entry
	path := sealedLog(t, 25, audit.Options{Signer: key, AnchorEvery: 10, OnAnchor: func(e audit.Entry) { anchors = append(anchors, e) }})
	// Batches of 4: anchors after 12 entries (seq 13), after 12 more
	// (seq 26), and Close's after the last one (seq 28).
	if len(anchors) != 3 || anchors[0].Seq != 13 || anchors[1].Seq != 26 || anchors[2].Seq != 28 {
		t.Fatalf("anchors at %v", anchors)
	}
	pub := []crypto.PublicKey{key.Public()}
	rep, err := audit.VerifyWith(path, audit.VerifyOptions{PublicKeys: pub, RequireAnchoredTail: true, Witnesses: []audit.Head{{Seq: 28, Hash: anchors[2].Hash}}})
	if err != nil || rep.Anchors != 3 || rep.LastAnchorSeq != 28 || rep.Unanchored != 0 || !rep.AnchorsVerified {
		t.Fatalf("report %+v, %v", rep, err)
	}

	lines := readLines(t, path)
	writeLines(t, path, lines[:22]) // entries 1..22 remain

	// From the file alone, the cut does not show.
	if rep, err := audit.VerifyWith(path, audit.VerifyOptions{PublicKeys: pub}); err != nil || rep.Entries != 22 || rep.Unanchored != 9 {
		t.Fatalf("cut log: %+v, %v", rep, err)
	}
	// A witness beyond the end shows it.
	_, err = audit.VerifyWith(path, audit.VerifyOptions{PublicKeys: pub, Witnesses: []audit.Head{{Seq: anchors[1].Seq, Hash: anchors[1].Hash}}})
	wantBreak(t, err, 23, 23, "entries were cut off its end")
	// So does requiring an anchored tail of a cleanly closed log.
	_, err = audit.VerifyWith(path, audit.VerifyOptions{RequireAnchoredTail: true})
	wantBreak(t, err, 23, 23, "does not end with an anchor (9 entries after the last one)")
	// A cut exactly after an anchor is seen by a witness only.
	writeLines(t, path, lines[:13])
	if _, err := audit.VerifyWith(path, audit.VerifyOptions{PublicKeys: pub, RequireAnchoredTail: true}); err != nil {
		t.Fatalf("cut at an anchor: %v", err)
	}
	_, err = audit.VerifyWith(path, audit.VerifyOptions{Witnesses: []audit.Head{{Seq: 28, Hash: anchors[2].Hash}}})
	wantBreak(t, err, 14, 14, "the log ends at entry 13, but entry 28")
	// A witness whose hash differs shows a rewrite.
	writeLines(t, path, lines)
	_, err = audit.VerifyWith(path, audit.VerifyOptions{Witnesses: []audit.Head{{Seq: 13, Hash: anchors[1].Hash}}})
	wantBreak(t, err, 13, 13, "is not the witnessed")
}

func TestAnchors(t *testing.T) {
	for _, k := range []struct {
		name string
		key  func(testing.TB) crypto.Signer
	}{
		{"Ed25519", func(t testing.TB) crypto.Signer { return newEd25519(t) }},
		{"ECDSA-P256", func(t testing.TB) crypto.Signer { return newECDSA(t) }},
	} {
		t.Run(k.name, func(t *testing.T) {
			key := k.key(t)
			logger, logs := newLogger()
			dir := t.TempDir()
			l, err := audit.OpenWith(dir, logger, audit.Options{Now: newClock().Now, Signer: key, AnchorEvery: 5})
			if err != nil {
				t.Fatal(err)
			}
			appendN(t, l, 12, 3)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			path := l.Path()
			pub := []crypto.PublicKey{key.Public()}
			rep, err := audit.VerifyWith(path, audit.VerifyOptions{PublicKeys: pub, RequireAnchoredTail: true})
			// Anchors after 6 entries (seq 7) and 12 (seq 14); Close adds
			// none, the tail is anchored.
			if err != nil || rep.Anchors != 2 || rep.LastAnchorSeq != 14 || rep.Entries != 14 {
				t.Fatalf("report %+v, %v", rep, err)
			}
			id, _ := audit.KeyID(key.Public())
			if !strings.Contains(logs.String(), "audit anchor") || !strings.Contains(logs.String(), "key="+id) {
				t.Fatalf("anchors not logged: %s", logs)
			}

			// Reopen: the last entry is an anchor, so nothing is due until
			// five more entries.
			l, err = audit.OpenWith(dir, nil, audit.Options{Now: newClock().Now, Signer: key, AnchorEvery: 5})
			if err != nil {
				t.Fatal(err)
			}
			appendN(t, l, 2, 2)
			l.Close()
			if rep, err := audit.VerifyWith(path, audit.VerifyOptions{PublicKeys: pub, RequireAnchoredTail: true}); err != nil || rep.Anchors != 3 || rep.Entries != 17 {
				t.Fatalf("after reopen: %+v, %v", rep, err)
			}

			// Another key: a break at the first anchor.
			other := newEd25519(t)
			_, err = audit.VerifyWith(path, audit.VerifyOptions{PublicKeys: []crypto.PublicKey{other.Public()}})
			wantBreak(t, err, 7, 7, "not one of the keys given")

			// A signature copied from another anchor does not verify.
			lines := readLines(t, path)
			sig := func(line string) string {
				i := strings.Index(line, `"sig":"`)
				return line[i : i+strings.Index(line[i+7:], `"`)+8]
			}
			lines[13] = strings.Replace(lines[13], sig(lines[13]), sig(lines[6]), 1)
			writeLines(t, path, lines)
			_, err = audit.VerifyWith(path, audit.VerifyOptions{PublicKeys: pub})
			wantBreak(t, err, 14, 14, "hash does not match")
		})
	}
}

func TestAnchorInterval(t *testing.T) {
	c := newClock()
	c.step = time.Minute
	key := newEd25519(t)
	l, _ := openLog(t, audit.Options{Now: c.Now, Signer: key, AnchorEvery: 1000, AnchorInterval: 90 * time.Second})
	appendN(t, l, 4, 1) // minutes 1..4: anchors at minute 1 (never anchored) and 3
	l.Close()
	rep, err := audit.VerifyWith(l.Path(), audit.VerifyOptions{PublicKeys: []crypto.PublicKey{key.Public()}, RequireAnchoredTail: true})
	if err != nil || rep.Anchors != 3 {
		t.Fatalf("%+v, %v", rep, err)
	}
}

// TestSpliceFromAnotherLog: a line that is intact on its own and has the
// right seq, but belongs to another log (a forked or forged chain), does
// not link.
func TestSpliceFromAnotherLog(t *testing.T) {
	a := sealedLog(t, 5, audit.Options{})
	c := newClock()
	c.set(t0.Add(time.Hour))
	b := sealedLog(t, 5, audit.Options{Now: c.Now})
	la, lb := readLines(t, a), readLines(t, b)
	la[2] = lb[2]
	writeLines(t, a, la)
	_, err := audit.Verify(a)
	wantBreak(t, err, 3, 3, "prev is not the hash of the entry before it")
}
