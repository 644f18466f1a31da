package voprf

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/gtank/ristretto255"
)

func mustKey(t testing.TB) *PrivateKey {
	t.Helper()
	k, err := GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRoundTrip(t *testing.T) {
	k := mustKey(t)
	for _, n := range []int{1, 3, 7, 300} {
		inputs := randomInputs(t, n)
		req, err := Blind(nil, inputs)
		if err != nil {
			t.Fatal(err)
		}
		ev, proof, err := k.BlindEvaluate(nil, req.Elements)
		if err != nil {
			t.Fatal(err)
		}
		if len(ev) != n || len(proof) != ProofSize {
			t.Fatalf("%d evaluated elements and a proof of %d bytes for %d", len(ev), len(proof), n)
		}
		outs, err := req.Finalize(k.Public(), ev, proof)
		if err != nil {
			t.Fatal(err)
		}
		for i, in := range inputs {
			want, err := k.Evaluate(in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(outs[i], want) || len(want) != OutputSize {
				t.Fatalf("batch %d: output %d differs from Evaluate", n, i)
			}
		}
		// The same inputs blinded again give other elements, the same
		// outputs.
		req2, _ := Blind(nil, inputs)
		if bytes.Equal(req2.Elements[0], req.Elements[0]) {
			t.Fatal("two blindings of one input give the same element")
		}
	}
}

func TestKeyEncoding(t *testing.T) {
	k := mustKey(t)
	k2, err := ParsePrivateKey(k.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k2.Public().Bytes(), k.Public().Bytes()) {
		t.Fatal("a parsed key has another public key")
	}
	mb, _ := k.MarshalBinary()
	var k3 PrivateKey
	if err := k3.UnmarshalBinary(mb); err != nil || !bytes.Equal(k3.Bytes(), k.Bytes()) {
		t.Fatalf("MarshalBinary/UnmarshalBinary: %v", err)
	}
	// The group order l itself, l + 1, all ones: not canonical.
	order := []byte{0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}
	orderPlus1 := bytes.Clone(order)
	orderPlus1[0]++
	for name, b := range map[string][]byte{
		"zero":     make([]byte, ScalarSize),
		"l":        order,
		"l+1":      orderPlus1,
		"all ones": bytes.Repeat([]byte{0xff}, ScalarSize),
		"short":    k.Bytes()[:31],
		"long":     append(k.Bytes(), 0),
		"empty":    nil,
	} {
		if _, err := ParsePrivateKey(b); !errors.Is(err, ErrInvalidKey) {
			t.Fatalf("private key %s: err %v, want ErrInvalidKey", name, err)
		}
		if err := k3.UnmarshalBinary(b); err == nil || !bytes.Equal(k3.Bytes(), k.Bytes()) {
			t.Fatalf("UnmarshalBinary of %s: err %v, or the key changed", name, err)
		}
	}
	for name, b := range map[string][]byte{
		"identity":      make([]byte, ElementSize),
		"not a point":   bytes.Repeat([]byte{0xff}, ElementSize),
		"non-canonical": nonCanonical(),
		"short":         k.Public().Bytes()[:31],
	} {
		if _, err := ParsePublicKey(b); !errors.Is(err, ErrInvalidKey) {
			t.Fatalf("public key %s: err %v, want ErrInvalidKey", name, err)
		}
	}
	// Bytes returns a copy.
	pb := k.Public().Bytes()
	pb[0] ^= 1
	if bytes.Equal(pb, k.Public().Bytes()) {
		t.Fatal("Public().Bytes() aliases the key")
	}
}

func TestDeriveKeyPairRefuses(t *testing.T) {
	for _, n := range []int{0, 31, 33} {
		if _, err := DeriveKeyPair(make([]byte, n), nil); !errors.Is(err, ErrDeriveKeyPair) {
			t.Fatalf("seed of %d bytes: %v", n, err)
		}
	}
	if _, err := DeriveKeyPair(make([]byte, SeedSize), make([]byte, MaxInputSize+1)); !errors.Is(err, ErrDeriveKeyPair) {
		t.Fatalf("info too long: %v", err)
	}
	a, _ := DeriveKeyPair(make([]byte, SeedSize), []byte("a"))
	b, _ := DeriveKeyPair(make([]byte, SeedSize), []byte("b"))
	if bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two infos derive the same key")
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestRandomSourceFailures(t *testing.T) {
	for name, rnd := range map[string]io.Reader{"zeros": zeroReader{}, "failing": failingReader{}} {
		if _, err := GenerateKey(rnd); !errors.Is(err, ErrRandom) {
			t.Fatalf("GenerateKey from %s: %v", name, err)
		}
		if _, err := Blind(rnd, [][]byte{{1}}); !errors.Is(err, ErrRandom) {
			t.Fatalf("Blind from %s: %v", name, err)
		}
	}
	// A source that fails is refused by BlindEvaluate too; one that gives
	// only zeros still gives safe proofs there, the nonce being hedged
	// (TestHedgedNonce).
	k := mustKey(t)
	req, _ := Blind(nil, [][]byte{{1}})
	if _, _, err := k.BlindEvaluate(failingReader{}, req.Elements); !errors.Is(err, ErrRandom) {
		t.Fatalf("BlindEvaluate from a failing source: %v", err)
	}
}

func TestBadBatchesAndInputs(t *testing.T) {
	k := mustKey(t)
	if _, err := Blind(nil, nil); !errors.Is(err, ErrBatch) {
		t.Fatalf("no inputs: %v", err)
	}
	if _, err := Blind(nil, make([][]byte, MaxBatch+1)); !errors.Is(err, ErrBatch) {
		t.Fatalf("too many inputs: %v", err)
	}
	long := make([]byte, MaxInputSize+1)
	if _, err := Blind(nil, [][]byte{{1}, long}); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("input too long: %v", err)
	}
	if _, err := k.Evaluate(long); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("Evaluate of an input too long: %v", err)
	}
	if _, err := k.Evaluate(long[:MaxInputSize]); err != nil {
		t.Fatalf("Evaluate of the longest input: %v", err)
	}
	if _, _, err := k.BlindEvaluate(nil, nil); !errors.Is(err, ErrBatch) {
		t.Fatalf("no elements: %v", err)
	}
	if _, _, err := k.BlindEvaluate(nil, make([][]byte, MaxBatch+1)); !errors.Is(err, ErrBatch) {
		t.Fatalf("too many elements: %v", err)
	}
	req, _ := Blind(nil, [][]byte{{1}, {2}})
	for name, b := range map[string][]byte{
		"identity":      make([]byte, ElementSize),
		"not a point":   bytes.Repeat([]byte{0xff}, ElementSize),
		"non-canonical": nonCanonical(),
		"short":         req.Elements[0][:ElementSize-1],
		"nil":           nil,
	} {
		if _, _, err := k.BlindEvaluate(nil, [][]byte{req.Elements[0], b}); !errors.Is(err, ErrInvalidElement) {
			t.Fatalf("blinded element %s: %v", name, err)
		}
	}
}

func TestInvertAll(t *testing.T) {
	one := ristretto255.NewScalar()
	var b [64]byte
	b[0] = 1
	one.FromUniformBytes(b[:])
	for n := 1; n <= 6; n++ {
		s := make([]ristretto255.Scalar, n)
		for i := range s {
			r, err := randomScalar(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			s[i] = *r
		}
		inv := invertAll(s)
		for i := range s {
			var p ristretto255.Scalar
			if p.Multiply(&s[i], &inv[i]).Equal(one) != 1 {
				t.Fatalf("n=%d: s[%d]·inv[%d] ≠ 1", n, i, i)
			}
		}
	}
}

// TestConcurrentUse: one key serves several goroutines at once (run with
// -race).
func TestConcurrentUse(t *testing.T) {
	k := mustKey(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := Blind(nil, [][]byte{{1}, {2}, {3}, {4}, {5}, {6}})
			if err == nil {
				var ev [][]byte
				var proof []byte
				if ev, proof, err = k.BlindEvaluate(nil, req.Elements); err == nil {
					_, err = req.Finalize(k.Public(), ev, proof)
				}
			}
			if err == nil {
				_, err = k.Evaluate([]byte{7})
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
