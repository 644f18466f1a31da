package teamkey

import (
	"errors"
	"strings"
	"testing"
)

func mustKey(t *testing.T) []byte {
	t.Helper()
	k, err := NewTeamKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k := mustKey(t)
	ad := FieldAD("UA/req-1", "entry:UA/req-2", "title")
	ct, err := Seal(k, 3, "witness ready to testify", ad)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(ct, "witness") || !IsSealed(ct) {
		t.Fatalf("ciphertext %q", ct)
	}
	epoch, n, err := Parse(ct)
	if err != nil || epoch != 3 || n != len("witness ready to testify") {
		t.Fatalf("Parse = %d, %d, %v", epoch, n, err)
	}
	pt, err := Open(k, ct, ad)
	if err != nil || pt != "witness ready to testify" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	// A wrong key, another record, another field, another team: refused.
	for name, tc := range map[string]struct {
		key []byte
		ad  []byte
	}{
		"wrong key":    {mustKey(t), ad},
		"moved record": {k, FieldAD("UA/req-1", "entry:UA/req-9", "title")},
		"moved field":  {k, FieldAD("UA/req-1", "entry:UA/req-2", "text")},
		"moved team":   {k, FieldAD("PL/req-1", "entry:UA/req-2", "title")},
	} {
		if _, err := Open(tc.key, ct, tc.ad); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: Open err = %v, want ErrDecrypt", name, err)
		}
	}
	// Another epoch number on the same bytes: refused.
	moved := strings.Replace(ct, "accord-tk1.3.", "accord-tk1.4.", 1)
	if _, err := Open(k, moved, ad); !errors.Is(err, ErrDecrypt) {
		t.Errorf("changed epoch: Open err = %v, want ErrDecrypt", err)
	}
	for _, bad := range []string{"", "witness", "accord-tk1.", "accord-tk1.0.AAAA", "accord-tk1.01." + strings.Repeat("A", 40), "accord-tk1.1.!!", "accord-tk1.1.AAAA"} {
		if _, _, err := Parse(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) err = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestWrapUnwrap(t *testing.T) {
	priv, err := NewNodeKey()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(EncodePublicKey(priv.PublicKey()))
	if err != nil {
		t.Fatal(err)
	}
	k := mustKey(t)
	ad := WrapAD("UA/req-1", 1, "PL", "pl-1.x25519.00")
	w, err := Wrap(pub, k, ad)
	if err != nil {
		t.Fatal(err)
	}
	if err := ParseWrapped(w); err != nil {
		t.Fatal(err)
	}
	got, err := Unwrap(priv, w, ad)
	if err != nil || string(got) != string(k) {
		t.Fatalf("Unwrap = %x, %v", got, err)
	}
	other, _ := NewNodeKey()
	if _, err := Unwrap(other, w, ad); !errors.Is(err, ErrDecrypt) {
		t.Errorf("other node's key: err = %v, want ErrDecrypt", err)
	}
	for name, a := range map[string][]byte{
		"other epoch":  WrapAD("UA/req-1", 2, "PL", "pl-1.x25519.00"),
		"other member": WrapAD("UA/req-1", 1, "DE", "pl-1.x25519.00"),
		"other team":   WrapAD("UA/req-7", 1, "PL", "pl-1.x25519.00"),
	} {
		if _, err := Unwrap(priv, w, a); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: err = %v, want ErrDecrypt", name, err)
		}
	}
	for _, bad := range []string{"", "accord-wrap1.AAAA", w[:len(w)-2]} {
		if err := ParseWrapped(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseWrapped(%q) err = %v", bad, err)
		}
	}
	if _, err := ParsePublicKey("AAAA"); !errors.Is(err, ErrMalformed) {
		t.Errorf("short public key: err = %v", err)
	}
}
