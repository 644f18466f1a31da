package custody_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"io"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/node/custody"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func TestSealAndVerify(t *testing.T) {
	for name, key := range map[string]crypto.Signer{"ECDSA P-256": newECDSAKey(t), "Ed25519": newEd25519Key(t)} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, key)
			spki, err := x509.MarshalPKIXPublicKey(key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(f.sealer.PublicKey(), spki) || f.sealer.Signer() != nodeURI {
				t.Fatal("sealer's public key or signer differs")
			}
			batch := f.seals[1]
			if batch.GetId() != 1 || len(batch.GetEventHashes()) != 5 || batch.GetSigner() != nodeURI ||
				!bytes.Equal(batch.GetSignerPublicKey(), spki) || !batch.GetTime().AsTime().Equal(t0.Add(time.Hour)) {
				t.Fatalf("batch seal: %v", batch)
			}
			// The hashes are in the order given, and the digest is SHA-256 of
			// their concatenation.
			order := []*accordv1.CustodyEvent{f.others[0], f.chain[0], f.chain[1], f.others[1], f.chain[2]}
			var cat []byte
			for i, ev := range order {
				if !bytes.Equal(batch.GetEventHashes()[i], ev.GetHash()) {
					t.Fatalf("event_hashes[%d] is not the hash of the event given at %d", i, i)
				}
				if ev.GetSealId() != 1 {
					t.Fatalf("event %s/%d: seal_id %d, want 1", ev.GetEvidenceId(), ev.GetSeq(), ev.GetSealId())
				}
				cat = append(cat, ev.GetHash()...)
			}
			if d := sha256.Sum256(cat); !bytes.Equal(custody.SealDigest(batch.GetEventHashes()), d[:]) {
				t.Fatal("SealDigest is not SHA-256 of the concatenated hashes")
			}
			for id, seal := range f.seals {
				if err := custody.VerifySeal(seal); err != nil {
					t.Fatalf("VerifySeal(%d): %v", id, err)
				}
			}
			// The seal holds copies: changing an event afterwards does not
			// change the seal.
			f.chain[0].Hash[0] ^= 1
			if err := custody.VerifySeal(batch); err != nil {
				t.Fatalf("seal changed with its event: %v", err)
			}
		})
	}
}

func TestVerifySealRefuses(t *testing.T) {
	f := newFixture(t, newECDSAKey(t))
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaSPKI, err := x509.MarshalPKIXPublicKey(rsaKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	otherSPKI, err := x509.MarshalPKIXPublicKey(newECDSAKey(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(*accordv1.CustodySeal)
		want   error
	}{
		{"signature byte", func(s *accordv1.CustodySeal) { s.Signature[len(s.Signature)/2] ^= 1 }, custody.ErrBadSignature},
		{"signature truncated", func(s *accordv1.CustodySeal) { s.Signature = s.Signature[:len(s.Signature)-1] }, custody.ErrBadSignature},
		{"event hash byte", func(s *accordv1.CustodySeal) { s.EventHashes[2][5] ^= 0x40 }, custody.ErrBadSignature},
		{"event hashes reordered", func(s *accordv1.CustodySeal) {
			s.EventHashes[0], s.EventHashes[1] = s.EventHashes[1], s.EventHashes[0]
		}, custody.ErrBadSignature},
		{"event hash removed", func(s *accordv1.CustodySeal) { s.EventHashes = s.EventHashes[1:] }, custody.ErrBadSignature},
		{"event hash added", func(s *accordv1.CustodySeal) { s.EventHashes = append(s.EventHashes, make([]byte, 32)) }, custody.ErrBadSignature},
		{"another key", func(s *accordv1.CustodySeal) { s.SignerPublicKey = otherSPKI }, custody.ErrBadSignature},
		{"RSA key", func(s *accordv1.CustodySeal) { s.SignerPublicKey = rsaSPKI }, custody.ErrUnsupportedKey},
		{"key byte", func(s *accordv1.CustodySeal) { s.SignerPublicKey[3] ^= 0xff }, custody.ErrInvalidSeal},
		{"no key", func(s *accordv1.CustodySeal) { s.SignerPublicKey = nil }, custody.ErrInvalidSeal},
		{"no signature", func(s *accordv1.CustodySeal) { s.Signature = nil }, custody.ErrInvalidSeal},
		{"no hashes", func(s *accordv1.CustodySeal) { s.EventHashes = nil }, custody.ErrInvalidSeal},
		{"short hash", func(s *accordv1.CustodySeal) { s.EventHashes[1] = s.EventHashes[1][:31] }, custody.ErrInvalidSeal},
		{"id 0", func(s *accordv1.CustodySeal) { s.Id = 0 }, custody.ErrInvalidSeal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := proto.Clone(f.seals[1]).(*accordv1.CustodySeal)
			tt.change(s)
			if err := custody.VerifySeal(s); !errors.Is(err, tt.want) {
				t.Fatalf("VerifySeal = %v, want %v", err, tt.want)
			} else {
				t.Log(err)
			}
		})
	}
	if err := custody.VerifySeal(nil); !errors.Is(err, custody.ErrInvalidSeal) {
		t.Fatalf("VerifySeal(nil) = %v", err)
	}
	// signer, time are not signed (the accord.v1 contract): changing them
	// does not invalidate the seal.
	s := proto.Clone(f.seals[1]).(*accordv1.CustodySeal)
	s.Signer, s.Time = otherURI, nil
	if err := custody.VerifySeal(s); err != nil {
		t.Fatalf("signer and time are informational, yet: %v", err)
	}
}

// badSigner is a crypto.Signer whose signatures do not match its public key.
type badSigner struct{ crypto.Signer }

func (b badSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return other.Sign(r, digest, opts)
}

// failingSigner fails to sign.
type failingSigner struct{ crypto.Signer }

func (failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("hardware key unplugged")
}

func TestNewSealerRefuses(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := custody.NewSealer(p384, nodeURI); err != nil {
		t.Fatalf("P-384: %v", err)
	}
	tests := []struct {
		name   string
		key    crypto.Signer
		signer string
		want   error
	}{
		{"nil key", nil, nodeURI, custody.ErrUnsupportedKey},
		{"RSA", rsaKey, nodeURI, custody.ErrUnsupportedKey},
		{"P-224", p224, nodeURI, custody.ErrUnsupportedKey},
		{"mismatched key", badSigner{newECDSAKey(t)}, nodeURI, custody.ErrUnsupportedKey},
		{"failing key", failingSigner{newECDSAKey(t)}, nodeURI, custody.ErrUnsupportedKey},
		{"empty signer", newECDSAKey(t), "", custody.ErrInvalidSigner},
		{"relative signer", newECDSAKey(t), "kyiv-1", custody.ErrInvalidSigner},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := custody.NewSealer(tt.key, tt.signer); !errors.Is(err, tt.want) {
				t.Fatalf("NewSealer = %v, want %v", err, tt.want)
			} else {
				t.Log(err)
			}
		})
	}
}

func TestSealRefuses(t *testing.T) {
	sealer := newSealer(t, newECDSAKey(t))
	fresh := func() *accordv1.CustodyEvent {
		ev, err := custody.Next(nil, itemID, accordv1.CustodyAction_CUSTODY_ACTION_REGISTERED, nodeURI, "d", t0)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	sealed := fresh()
	sealed.SealId = 7
	altered := fresh()
	altered.Details = "changed after Next"
	short := fresh()
	short.Hash = short.Hash[:16]
	tests := []struct {
		name   string
		id     uint64
		events []*accordv1.CustodyEvent
		at     time.Time
	}{
		{"id 0", 0, []*accordv1.CustodyEvent{fresh()}, t0},
		{"no events", 1, nil, t0},
		{"too many events", 1, make([]*accordv1.CustodyEvent, custody.MaxSealEvents+1), t0},
		{"nil event", 1, []*accordv1.CustodyEvent{fresh(), nil}, t0},
		{"already sealed", 1, []*accordv1.CustodyEvent{fresh(), sealed}, t0},
		{"altered after Next", 1, []*accordv1.CustodyEvent{fresh(), altered}, t0},
		{"short hash", 1, []*accordv1.CustodyEvent{short}, t0},
		{"zero time", 1, []*accordv1.CustodyEvent{fresh()}, time.Time{}},
		{"time out of range", 1, []*accordv1.CustodyEvent{fresh()}, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seal, err := sealer.Seal(tt.id, tt.events, tt.at)
			if !errors.Is(err, custody.ErrInvalidSeal) {
				t.Fatalf("Seal = %v, %v; want ErrInvalidSeal", seal, err)
			}
			t.Log(err)
			// Nothing is half-written: the good events stay unsealed.
			for _, ev := range tt.events {
				if ev != nil && ev != sealed && ev.GetSealId() != 0 {
					t.Fatalf("event got seal_id %d from a refused seal", ev.GetSealId())
				}
			}
		})
	}
	ok := fresh()
	if _, err := sealer.Seal(5, []*accordv1.CustodyEvent{ok}, t0); err != nil || ok.GetSealId() != 5 {
		t.Fatalf("Seal = %v, seal_id %d", err, ok.GetSealId())
	}

	// A key that fails after the self-test: the error is passed on and no
	// event is marked sealed.
	flaky := &flakySigner{Signer: newECDSAKey(t), left: 1}
	fs, err := custody.NewSealer(flaky, nodeURI)
	if err != nil {
		t.Fatal(err)
	}
	ev := fresh()
	if _, err := fs.Seal(6, []*accordv1.CustodyEvent{ev}, t0); err == nil || ev.GetSealId() != 0 {
		t.Fatalf("Seal with a failing key = %v, seal_id %d", err, ev.GetSealId())
	} else {
		t.Log(err)
	}
}

// flakySigner signs left times, then fails.
type flakySigner struct {
	crypto.Signer
	left int
}

func (f *flakySigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if f.left == 0 {
		return nil, errors.New("hardware key unplugged")
	}
	f.left--
	return f.Signer.Sign(r, digest, opts)
}
