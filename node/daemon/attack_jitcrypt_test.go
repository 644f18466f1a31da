package daemon_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registry"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
	// rotation:begin
	"github.com/accordfed/accord/federation/teamkey"
	"github.com/accordfed/accord/node/jitcontent"
	// rotation:end
)

// filesHolding returns the files under dir whose bytes contain s.
func filesHolding(t *testing.T, dir, s string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte(s)) {
			out = append(out, strings.TrimPrefix(path, dir))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// executeWhen sends a command until the node accepts it (a node refuses to
// seal team content until it holds the key, with FailedPrecondition).
func executeWhen(t *testing.T, c accordv1.CoordinationServiceClient, rid string, p registry.Payload) *accordv1.ExecuteResponse {
	t.Helper()
	var resp *accordv1.ExecuteResponse
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		var err error
		resp, err = execute(t, c, rid, p)
		return err
	})
	return resp
}

// TestAttackJITContentOnOtherDisks: UA and PL work in a team; DE, a member
// outside it, runs a registry server that replicates everything. The
// team's name and the text of its strategy entries must not be on DE's
// disk (Raft log, stable store, snapshots) nor in any answer DE's node
// gives DE's users, while UA's and PL's users read them. When PL leaves,
// the team key is rotated and what UA writes next does not open with
// PL's node key.
func TestAttackJITContentOnOtherDisks(t *testing.T) {
	const (
		teamName = "Operation Nightjar-4471"
		marker   = "witness Zoryana-7731 ready to testify"
	)
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE")
	nodes, _ := startFederation(t, fed, "UA", "PL", "DE")
	ua, pl, de := nodes[0], nodes[1], nodes[2]

	jit := executeWhen(t, ua.user, "crypt-jit", registry.CreateJIT{Name: teamName, LegalBasis: "EU JIT model agreement", Invite: []string{"PL"}}).GetId()
	mustExecute(t, pl.user, "crypt-accept", registry.RespondToJIT{JIT: jit, Accept: true})
	// PL's node receives the team key (UA's node wraps it) and reads the
	// name.
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		if j := query[registry.JIT](t, pl.user, "jit", jit); j.Name != teamName {
			return fmt.Errorf("PL reads the team's name as %q", j.Name)
		}
		return nil
	})
	entry := executeWhen(t, pl.user, "crypt-entry", registry.CreateEntry{Kind: registry.KindPriority, Title: "Hearing of W-17", Text: marker, JIT: jit}).GetId()

	// UA and PL read the plaintext.
	for _, n := range []*regNode{ua, pl} {
		e := query[registry.StrategyEntry](t, n.user, "entry", entry)
		if e.Current.Text != marker || e.Current.Title != "Hearing of W-17" {
			t.Fatalf("%s reads the entry as %q / %q", n.member, e.Current.Title, e.Current.Text)
		}
		if j := query[registry.JIT](t, n.user, "jit", jit); j.Name != teamName {
			t.Fatalf("%s reads the team's name as %q", n.member, j.Name)
		}
	}

	// DE's server has applied the entry (a linearizable read waits for
	// it) ...
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := de.d.Registry().Read(ctx, true, func(registry.View) {}); err != nil {
		t.Fatal(err)
	}
	// ... and its disk holds the entry's command (the team id travels in
	// the clear: the scan finds what is there), but neither the marker nor
	// the team's name.
	regDir := filepath.Join(de.cfg.DataDir, "registry")
	// (The id alone: a version 3 command carries it typed, not as JSON.)
	if len(filesHolding(t, regDir, jit)) == 0 {
		t.Fatalf("the scan of %s does not find the entry's command at all", regDir)
	}
	for _, s := range []string{marker, teamName, "Hearing of W-17"} {
		if files := filesHolding(t, regDir, s); len(files) > 0 {
			t.Errorf("DE's registry data holds %q in the clear: %v", s, files)
		}
	}
	// DE's answers to DE's users: nothing of the team.
	for _, q := range []struct{ kind, id string }{{"jits", ""}, {"strategy", ""}, {"jit", jit}, {"entry", entry}, {"history", entry}} {
		resp, err := de.user.Query(ctx, &accordv1.QueryRequest{Kind: q.kind, Id: q.id})
		if err != nil {
			continue // NotFound: nothing shown
		}
		for _, s := range []string{marker, teamName} {
			if bytes.Contains(resp.GetResult(), []byte(s)) {
				t.Errorf("DE's query %s %s answers %q", q.kind, q.id, s)
			}
		}
	}

	// rotation:begin
	// PL leaves; UA's node rotates the key to epoch 2, wrapped for UA only.
	plKey, err := jitcontent.LoadKey(pl.cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	plRing := jitcontent.New("PL", "pl-1", plKey, nil)
	var old registry.JIT
	if _, err := ua.d.Registry().Read(ctx, true, func(v registry.View) { old, err = v.GetJIT(jit, "UA") }); err != nil || old.KeyEpoch != 1 {
		t.Fatalf("team key epoch %d, %v", old.KeyEpoch, err)
	}
	plEpoch1, ok := plRing.TeamKey(&old, 1)
	if !ok {
		t.Fatal("PL's node holds no key of epoch 1")
	}
	mustExecute(t, pl.user, "crypt-leave", registry.LeaveJIT{JIT: jit})
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		var j registry.JIT
		if _, err := ua.d.Registry().Read(ctx, false, func(v registry.View) { j, _ = v.GetJIT(jit, "UA") }); err != nil {
			return err
		}
		if j.KeyEpoch != 2 {
			return fmt.Errorf("team key at epoch %d", j.KeyEpoch)
		}
		return nil
	})
	after := executeWhen(t, ua.user, "crypt-after", registry.CreateEntry{Kind: registry.KindPriority, Title: "After PL left", Text: "second " + marker, JIT: jit}).GetId()
	if e := query[registry.StrategyEntry](t, ua.user, "entry", after); e.Current.Text != "second "+marker {
		t.Fatalf("UA reads %q", e.Current.Text)
	}
	var (
		raw registry.StrategyEntry
		j   registry.JIT
	)
	if _, err := ua.d.Registry().Read(ctx, true, func(v registry.View) {
		raw, _ = v.GetEntry(after, "UA")
		j, _ = v.GetJIT(jit, "UA")
	}); err != nil {
		t.Fatal(err)
	}
	if j.Wrap(2, "PL", teamkey.KeyID("pl-1", plKey.PublicKey())) != nil {
		t.Fatal("the key of epoch 2 is wrapped for PL, which left")
	}
	if _, err := teamkey.Open(plEpoch1, raw.Current.Text, registry.EntryAD(j.Scope(), raw.Current.Sealed, "text")); err == nil {
		t.Fatal("PL's key of epoch 1 opens what UA wrote after PL left")
	}
	v := raw.Current
	plRing.OpenVersions(&j, &v)
	if v.Text != jitcontent.Waiting {
		t.Fatalf("PL's node key reads the new entry as %q", v.Text)
	}
	// What PL had already seen stays readable with the key it had.
	var first registry.StrategyEntry
	_, _ = ua.d.Registry().Read(ctx, true, func(v registry.View) { first, _ = v.GetEntry(entry, "UA") })
	if got, err := teamkey.Open(plEpoch1, first.Current.Text, registry.EntryAD(j.Scope(), first.Current.Sealed, "text")); err != nil || got != marker {
		t.Fatalf("PL's old key on the old entry: %q, %v", got, err)
	}
	// rotation:end
}
