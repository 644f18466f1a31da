package registry

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
)

// TestApplyBatchSameAsApply: a log applied in batches (ApplyBatch, whose
// signature checks run on several goroutines) reaches the very snapshot
// bytes, log chain included, and answers every entry with the very result
// that applying it entry by entry does — for the previous build's log
// (version 2, with refusals and configuration entries) and for the same
// history written in version 3, in batches of every size.
func TestApplyBatchSameAsApply(t *testing.T) {
	legacy, _, _, _ := readLegacy(t)
	r, _, _, _ := legacyHistory(t, LegacyCommandVersion)
	logs := map[string][]*raft.Log{
		"version 2 (fixture)": legacy,
		"version 3":           encodeSteps(t, r.steps, always(CommandVersion)),
	}
	for name, entries := range logs {
		t.Run(name, func(t *testing.T) {
			single := NewFSM()
			var want []any
			for _, l := range entries {
				if l.Type == raft.LogConfiguration {
					single.StoreConfiguration(l.Index, raft.DecodeConfiguration(l.Data))
					want = append(want, nil)
					continue
				}
				want = append(want, single.Apply(l))
			}
			wantSnap := snapshotBytes(t, single)
			refused := 0
			for _, r := range want {
				if res, ok := r.(Result); ok && res.Err != nil {
					refused++
				}
			}
			if refused == 0 {
				t.Fatal("the log has no refused command: the comparison would miss how refusals are batched")
			}
			for _, size := range []int{1, 2, 3, 7, 64, len(entries)} {
				f := NewFSM()
				var got []any
				for start := 0; start < len(entries); start += size {
					batch := entries[start:min(start+size, len(entries))]
					res := f.ApplyBatch(batch)
					if len(res) != len(batch) {
						t.Fatalf("batches of %d: %d results for %d entries", size, len(res), len(batch))
					}
					got = append(got, res...)
				}
				for i := range want {
					if d := resultDiff(got[i], want[i]); d != "" {
						t.Fatalf("batches of %d: entry %d: %s", size, entries[i].Index, d)
					}
				}
				sameSnapshot(t, fmt.Sprintf("batches of %d", size), snapshotBytes(t, f), wantSnap)
			}
		})
	}
}

// resultDiff says how two answers of the state machine differ ("" when
// they do not): the outcome, or the refusal's kind and words.
func resultDiff(got, want any) string {
	if want == nil || got == nil {
		if got != want {
			return fmt.Sprintf("answer %#v, want %#v", got, want)
		}
		return ""
	}
	g, w := got.(Result), want.(Result)
	switch {
	case (g.Err == nil) != (w.Err == nil):
		return fmt.Sprintf("error %v, want %v", g.Err, w.Err)
	case g.Err != nil && (g.Err.Error() != w.Err.Error() || codeOf(canonical(g.Err)) != codeOf(canonical(w.Err))):
		return fmt.Sprintf("error %v, want %v", g.Err, w.Err)
	case fmt.Sprint(g.Value) != fmt.Sprint(w.Value):
		return fmt.Sprintf("outcome %v, want %v", g.Value, w.Value)
	}
	return ""
}

// TestPreverify: a check the leader made before proposing decides the
// command it was made for, and no other: a command changed after it was
// checked (its payload, its signer, its signature) is checked afresh and
// refused; a command whose check failed stays refused.
func TestPreverify(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL")

	good := h.command("UA", CreateEntry{Kind: KindTheme, Title: "Checked before it was proposed"})
	if err := good.Sign(nodeCert(t, good.Actor.Node), h.index, h.now); err != nil {
		t.Fatal(err)
	}
	h.f.Preverify(good)
	if res := h.applyCommand(good); res.Err != nil {
		t.Fatalf("preverified command: %v", res.Err)
	}

	// Checked, then changed: the payload, with the same signature.
	changed := h.command("UA", CreateEntry{Kind: KindTheme, Title: "The title that was signed"})
	if err := changed.Sign(nodeCert(t, changed.Actor.Node), h.index, h.now); err != nil {
		t.Fatal(err)
	}
	h.f.Preverify(changed)
	forged := *changed
	forged.Payload = CreateEntry{Kind: KindTheme, Title: "A title nobody signed"}
	forged.signedPayload = nil
	if res := h.applyCommand(&forged); !errors.Is(res.Err, ErrPermissionDenied) {
		t.Fatalf("payload changed after the check: %v, want %v", res.Err, ErrPermissionDenied)
	}

	// Signed by PL's node but claiming UA's: refused when checked, and
	// still refused when applied.
	wrong := h.command("UA", CreateEntry{Kind: KindTheme, Title: "Signed by the wrong node"})
	if err := wrong.Sign(nodeCert(t, nodeURI("PL")), h.index, h.now); err != nil {
		t.Fatal(err)
	}
	h.f.Preverify(wrong)
	if res := h.applyCommand(wrong); !errors.Is(res.Err, ErrPermissionDenied) {
		t.Fatalf("signed by another node: %v, want %v", res.Err, ErrPermissionDenied)
	}

	// The table forgets what was applied, and stays bounded.
	if n := len(h.f.sigs.checks); n != 1 {
		t.Fatalf("%d checks kept after three commands were applied, want 1 (the changed command's, never applied)", n)
	}
	for i := range maxCheckedSignatures + 10 {
		c := h.command("UA", CreateEntry{Kind: KindTheme, Title: fmt.Sprintf("never proposed %d", i)})
		c.Signature, c.SignerCert = []byte{1}, []byte{2}
		h.f.Preverify(c)
	}
	if n := len(h.f.sigs.checks); n > maxCheckedSignatures {
		t.Fatalf("%d checks kept, at most %d", n, maxCheckedSignatures)
	}
}
