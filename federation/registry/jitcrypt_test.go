package registry

import (
	"bytes"
	"crypto/ecdh"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/accordfed/accord/federation/teamkey"
)

// cryptMember is a member's node key in these tests.
type cryptMember struct {
	code string
	priv *ecdh.PrivateKey
	kid  string
}

func newCryptMember(t *testing.T, h *harness, code string) cryptMember {
	t.Helper()
	priv, err := teamkey.NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	c := cryptMember{code: code, priv: priv, kid: strings.ToLower(code) + "-1.x25519"}
	m := h.member(code)
	h.ok(code, UpdateMember{Code: code, Name: m.Name, CACerts: m.CACerts, SigningKeys: m.SigningKeys,
		EncryptionKeys: []EncryptionKey{{ID: c.kid, PublicKey: teamkey.EncodePublicKey(priv.PublicKey())}}})
	return c
}

func (c cryptMember) wrap(t *testing.T, scope string, epoch int, key []byte) WrapSpec {
	t.Helper()
	w, err := teamkey.Wrap(c.priv.PublicKey(), key, teamkey.WrapAD(scope, epoch, c.code, c.kid))
	if err != nil {
		t.Fatal(err)
	}
	return WrapSpec{Epoch: epoch, Member: c.code, KeyID: c.kid, Wrapped: w}
}

// teamKeyOf unwraps the team key of epoch with c's node key, as c's node
// does.
func (c cryptMember) teamKeyOf(t *testing.T, j JIT, epoch int) ([]byte, error) {
	t.Helper()
	w := j.Wrap(epoch, c.code, c.kid)
	if w == nil {
		return nil, fmt.Errorf("no wrap of epoch %d for %s", epoch, c.code)
	}
	return teamkey.Unwrap(c.priv, w.Wrapped, teamkey.WrapAD(j.Scope(), epoch, c.code, c.kid))
}

func seal(t *testing.T, key []byte, epoch int, s string, ad []byte) string {
	t.Helper()
	ct, err := teamkey.Seal(key, epoch, s, ad)
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

func TestJITEncryption(t *testing.T) {
	const marker = "witness W-17 ready to testify"
	h := bootstrapped(t, Policy{}, "UA", "PL", "DE")
	ua, pl, de := newCryptMember(t, h, "UA"), newCryptMember(t, h, "PL"), newCryptMember(t, h, "DE")
	_ = de

	// Encryption keys are checked like signing keys.
	m := h.member("UA")
	h.refuse("UA", UpdateMember{Code: "UA", Name: m.Name, CACerts: m.CACerts, SigningKeys: m.SigningKeys,
		EncryptionKeys: []EncryptionKey{{ID: "x", PublicKey: "AAAA"}}}, ErrInvalidArgument)

	// UA creates an encrypted team; the scope is UA's request id.
	scope := fmt.Sprintf("UA/req-%d", h.rid+1)
	k1, _ := teamkey.NewTeamKey()
	create := CreateJIT{
		Name:       seal(t, k1, 1, "Operation Marker", JITAD(scope, "name")),
		LegalBasis: seal(t, k1, 1, "Art. 13 EU MLA Convention 2000", JITAD(scope, "legal_basis")),
		Invite:     []string{"PL"},
		Wraps:      []WrapSpec{ua.wrap(t, scope, 1, k1)},
	}
	id := h.ok("UA", create).ID
	j, _ := h.jit(id, "UA")
	if j.KeyEpoch != 1 || j.Scope() != scope || len(j.KeyWraps) != 1 {
		t.Fatalf("created %+v", j)
	}
	if k, err := ua.teamKeyOf(t, j, 1); err != nil || !bytes.Equal(k, k1) {
		t.Fatalf("UA unwraps: %v", err)
	}

	// Refused creations: a wrap for an invitee (not accepted), clear text
	// beside wraps, a later epoch, an unregistered key, a malformed wrap.
	bad := func(mut func(c *CreateJIT)) CreateJIT {
		c := create
		c.Wraps = append([]WrapSpec(nil), create.Wraps...)
		mut(&c)
		return c
	}
	h.refuse("UA", bad(func(c *CreateJIT) { c.Wraps = append(c.Wraps, pl.wrap(t, scope, 1, k1)) }), ErrFailedPrecondition)
	h.refuse("UA", bad(func(c *CreateJIT) { c.Name = "Operation Marker" }), ErrInvalidArgument)
	h.refuse("UA", bad(func(c *CreateJIT) { c.Wraps[0].Epoch = 2 }), ErrInvalidArgument)
	h.refuse("UA", bad(func(c *CreateJIT) { c.Wraps[0].KeyID = "ua-9" }), ErrFailedPrecondition)
	h.refuse("UA", bad(func(c *CreateJIT) { c.Wraps[0].Wrapped = "accord-wrap1.AAAA" }), ErrInvalidArgument)
	h.refuse("UA", bad(func(c *CreateJIT) { c.Name = seal(t, k1, 1, strings.Repeat("n", maxNameLen+1), JITAD(scope, "name")) }), ErrInvalidArgument)

	// PL accepts. Wraps by a non-member, by a member without the key, for a
	// non-member: refused. UA wraps the key for PL.
	h.ok("PL", RespondToJIT{JIT: id, Accept: true})
	h.refuse("DE", WrapJITKey{JIT: id, Wraps: []WrapSpec{de.wrap(t, scope, 1, k1)}}, ErrNotFound)
	h.refuse("PL", WrapJITKey{JIT: id, Wraps: []WrapSpec{pl.wrap(t, scope, 1, k1)}}, ErrPermissionDenied)
	h.refuse("UA", WrapJITKey{JIT: id, Wraps: []WrapSpec{de.wrap(t, scope, 1, k1)}}, ErrFailedPrecondition)
	h.refuse("UA", WrapJITKey{JIT: id, Wraps: []WrapSpec{pl.wrap(t, scope, 2, k1)}}, ErrInvalidArgument)
	h.ok("UA", WrapJITKey{JIT: id, Wraps: []WrapSpec{pl.wrap(t, scope, 1, k1)}})
	h.refuse("UA", WrapJITKey{JIT: id, Wraps: []WrapSpec{pl.wrap(t, scope, 1, k1)}}, ErrAlreadyExists)
	j, _ = h.jit(id, "PL")
	plKey, err := pl.teamKeyOf(t, j, 1)
	if err != nil || !bytes.Equal(plKey, k1) {
		t.Fatalf("PL unwraps: %v", err)
	}
	if name, err := teamkey.Open(plKey, j.Name, JITAD(j.Scope(), "name")); err != nil || name != "Operation Marker" {
		t.Fatalf("PL reads the name: %q, %v", name, err)
	}

	// Entries of the team: clear text refused, sealed accepted within the
	// plaintext bounds and at the current epoch.
	ref := fmt.Sprintf("PL/req-%d", h.rid+1)
	entry := CreateEntry{Kind: KindPriority, JIT: id,
		Title: seal(t, k1, 1, "Hearing", EntryAD(scope, ref, "title")), Text: seal(t, k1, 1, marker, EntryAD(scope, ref, "text"))}
	eid := h.ok("PL", entry).ID
	h.refuse("PL", CreateEntry{Kind: KindPriority, JIT: id, Title: "Hearing", Text: marker}, ErrInvalidArgument)
	h.refuse("PL", CreateEntry{Kind: KindPriority, JIT: id, Title: entry.Title, Text: seal(t, k1, 1, strings.Repeat("x", maxTextLen+1), nil)}, ErrInvalidArgument)
	h.refuse("PL", CreateEntry{Kind: KindPriority, JIT: id, Title: seal(t, k1, 2, "Hearing", nil)}, ErrFailedPrecondition)
	h.refuse("PL", DeleteEntry{Entry: eid, Reason: "done"}, ErrInvalidArgument)
	// A member outside the team learns nothing from its refusal, not even
	// that the team is encrypted.
	h.refuse("DE", CreateEntry{Kind: KindPriority, JIT: id, Title: "Hearing"}, ErrNotFound)
	// Federation-wide entries stay in the clear.
	h.ok("DE", CreateEntry{Kind: KindTheme, Title: "Cultural heritage"})

	var e StrategyEntry
	h.read(func(v View) { e, err = v.GetEntry(eid, "UA") })
	if err != nil {
		t.Fatal(err)
	}
	if e.Current.Sealed != ref {
		t.Fatalf("sealed ref %q, want %q", e.Current.Sealed, ref)
	}
	if text, err := teamkey.Open(k1, e.Current.Text, EntryAD(scope, e.Current.Sealed, "text")); err != nil || text != marker {
		t.Fatalf("UA reads the text: %q, %v", text, err)
	}
	// A ciphertext copied into another record does not open there.
	moved := h.ok("UA", CreateEntry{Kind: KindPriority, JIT: id, Title: entry.Title}).ID
	h.read(func(v View) { e, err = v.GetEntry(moved, "UA") })
	if _, err := teamkey.Open(k1, e.Current.Title, EntryAD(scope, e.Current.Sealed, "title")); !errors.Is(err, teamkey.ErrDecrypt) {
		t.Fatalf("moved title opened: %v", err)
	}

	// Nothing of the team's text is in the state in the clear.
	snap := snapshotBytes(t, h.f)
	for _, s := range []string{marker, "Operation Marker", "Hearing", "Art. 13"} {
		if bytes.Contains(snap, []byte(s)) {
			t.Errorf("snapshot holds %q in the clear", s)
		}
	}

	// PL leaves: it can no longer rotate or wrap; UA rotates to epoch 2,
	// only for the accepted members.
	h.ok("PL", LeaveJIT{JIT: id})
	k2, _ := teamkey.NewTeamKey()
	h.refuse("PL", RotateJITKey{JIT: id, Epoch: 2, Wraps: []WrapSpec{pl.wrap(t, scope, 2, k2)}}, ErrNotFound)
	h.refuse("UA", RotateJITKey{JIT: id, Epoch: 3, Wraps: []WrapSpec{ua.wrap(t, scope, 3, k2)}}, ErrFailedPrecondition)
	h.refuse("UA", RotateJITKey{JIT: id, Epoch: 2, Wraps: []WrapSpec{ua.wrap(t, scope, 2, k2), pl.wrap(t, scope, 2, k2)}}, ErrFailedPrecondition)
	if out := h.ok("UA", RotateJITKey{JIT: id, Epoch: 2, Wraps: []WrapSpec{ua.wrap(t, scope, 2, k2)}}); out.Version != 2 {
		t.Fatalf("rotated %+v", out)
	}
	// New content must use the new epoch.
	h.refuse("UA", CreateEntry{Kind: KindPriority, JIT: id, Title: seal(t, k1, 1, "After", nil)}, ErrFailedPrecondition)
	ref = fmt.Sprintf("UA/req-%d", h.rid+1)
	after := h.ok("UA", CreateEntry{Kind: KindPriority, JIT: id, Title: seal(t, k2, 2, "After", EntryAD(scope, ref, "title"))}).ID
	h.read(func(v View) { e, err = v.GetEntry(after, "UA") })
	if _, err := teamkey.Open(plKey, e.Current.Title, EntryAD(scope, e.Current.Sealed, "title")); !errors.Is(err, teamkey.ErrDecrypt) {
		t.Fatalf("PL's old key opens content after the rotation: %v", err)
	}
	j, _ = h.jit(id, "UA")
	if j.Wrap(2, "PL", pl.kid) != nil {
		t.Fatal("PL got the key of epoch 2")
	}
	// A deletion's reason is sealed too.
	ref = fmt.Sprintf("UA/req-%d", h.rid+1)
	h.ok("UA", DeleteEntry{Entry: after, Reason: seal(t, k2, 2, "obsolete", EntryAD(scope, ref, "reason"))})
}
