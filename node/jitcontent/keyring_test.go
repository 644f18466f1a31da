package jitcontent

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/teamkey"
)

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "jit.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("jit.key: %v, mode %v", err, fi.Mode())
	}
	k2, err := LoadKey(dir)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("second load: %v, same key %v", err, k1.Equal(k2))
	}
	if err := os.WriteFile(filepath.Join(dir, "jit.key"), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(dir); err == nil {
		t.Fatal("a damaged jit.key loads")
	}
}

// TestOpen: a node opens a team's fields with the wrap for its key; one
// without a wrap shows Waiting; a moved ciphertext shows Unreadable.
func TestOpen(t *testing.T) {
	priv, _ := LoadKey(t.TempDir())
	ring := New("PL", "pl-1", priv, nil)
	other, _ := LoadKey(t.TempDir())
	outsider := New("DE", "de-1", other, nil)
	key, _ := teamkey.NewTeamKey()
	j := registry.JIT{ID: "jit-000001", KeyEpoch: 1, Created: registry.Change{Member: "UA", RequestID: "r1"}}
	scope := j.Scope()
	ek := ring.EncryptionKey()
	pub, _ := teamkey.ParsePublicKey(ek.PublicKey)
	w, _ := teamkey.Wrap(pub, key, teamkey.WrapAD(scope, 1, "PL", ek.ID))
	j.KeyWraps = []registry.KeyWrap{{Epoch: 1, Member: "PL", KeyID: ek.ID, Wrapped: w}}
	j.Name, _ = teamkey.Seal(key, 1, "Operation X", registry.JITAD(scope, "name"))
	j.LegalBasis, _ = teamkey.Seal(key, 1, "Art. 13", registry.JITAD(scope, "name")) // moved: sealed as the name

	mine, theirs := j, j
	ring.OpenJIT(&mine)
	if mine.Name != "Operation X" || mine.LegalBasis != Unreadable || mine.KeyWraps != nil {
		t.Fatalf("PL reads %q / %q", mine.Name, mine.LegalBasis)
	}
	outsider.OpenJIT(&theirs)
	if theirs.Name != Waiting {
		t.Fatalf("DE reads %q", theirs.Name)
	}
}
