package voprf

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/gtank/ristretto255"
)

// rfcVectors is the RFC 9497 Appendix A.1.2 entry (testdata/README.md says
// where it comes from).
type rfcVectors struct {
	Identifier string
	Mode       int
	GroupDST   string
	Hash       string
	Seed       string
	KeyInfo    string
	SkSm       string
	PkSm       string
	Vectors    []struct {
		Batch             int
		Input             string
		Blind             string
		BlindedElement    string
		EvaluationElement string
		Output            string
		Proof             struct {
			Proof string
			R     string
		}
	}
}

func loadVectors(t *testing.T) rfcVectors {
	t.Helper()
	b, err := os.ReadFile("testdata/rfc9497-ristretto255-sha512-voprf.json")
	if err != nil {
		t.Fatal(err)
	}
	var v rfcVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if v.Identifier != "ristretto255-SHA512" || v.Mode != 1 || v.Hash != "SHA512" {
		t.Fatalf("not the ristretto255-SHA512 VOPRF vectors: %s mode %d", v.Identifier, v.Mode)
	}
	return v
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// unhexList decodes a comma-separated list of hex strings (the batch
// vectors' form).
func unhexList(t *testing.T, s string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, p := range strings.Split(s, ",") {
		out = append(out, unhex(t, p))
	}
	return out
}

func scalarOf(t *testing.T, b []byte) *ristretto255.Scalar {
	t.Helper()
	s := ristretto255.NewScalar()
	if !decodeScalar(s, b) {
		t.Fatalf("not a scalar: %x", b)
	}
	return s
}

func TestRFC9497Vectors(t *testing.T) {
	v := loadVectors(t)
	if got := unhex(t, v.GroupDST); string(got) != dstHashToGroup {
		t.Fatalf("HashToGroup DST %q, the vectors' %q", dstHashToGroup, got)
	}
	k, err := DeriveKeyPair(unhex(t, v.Seed), unhex(t, v.KeyInfo))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(k.Bytes()), v.SkSm; got != want {
		t.Fatalf("DeriveKeyPair: skS %s, want %s", got, want)
	}
	if got, want := hex.EncodeToString(k.Public().Bytes()), v.PkSm; got != want {
		t.Fatalf("DeriveKeyPair: pkS %s, want %s", got, want)
	}
	pub, err := ParsePublicKey(unhex(t, v.PkSm))
	if err != nil {
		t.Fatal(err)
	}
	batches := map[int]int{}
	for n, vec := range v.Vectors {
		inputs := unhexList(t, vec.Input)
		blinds := unhexList(t, vec.Blind)
		wantBlinded := unhexList(t, vec.BlindedElement)
		wantEvaluated := unhexList(t, vec.EvaluationElement)
		wantOutputs := unhexList(t, vec.Output)
		if len(inputs) != vec.Batch || len(blinds) != vec.Batch || len(wantBlinded) != vec.Batch ||
			len(wantEvaluated) != vec.Batch || len(wantOutputs) != vec.Batch {
			t.Fatalf("vector %d: batch of %d, lists of %d, %d, %d, %d, %d", n, vec.Batch,
				len(inputs), len(blinds), len(wantBlinded), len(wantEvaluated), len(wantOutputs))
		}
		batches[vec.Batch]++

		req, err := blind(inputs, func(i int) (*ristretto255.Scalar, error) { return scalarOf(t, blinds[i]), nil })
		if err != nil {
			t.Fatalf("vector %d: Blind: %v", n, err)
		}
		for i := range inputs {
			if !bytes.Equal(req.Elements[i], wantBlinded[i]) {
				t.Fatalf("vector %d: blinded element %d %x, want %x", n, i, req.Elements[i], wantBlinded[i])
			}
		}

		r := scalarOf(t, unhex(t, vec.Proof.R))
		evaluated, proof, err := k.blindEvaluate(wantBlinded, func(_, _ *ristretto255.Element) (*ristretto255.Scalar, error) { return r, nil })
		if err != nil {
			t.Fatalf("vector %d: BlindEvaluate: %v", n, err)
		}
		for i := range evaluated {
			if !bytes.Equal(evaluated[i], wantEvaluated[i]) {
				t.Fatalf("vector %d: evaluated element %d %x, want %x", n, i, evaluated[i], wantEvaluated[i])
			}
		}
		if got, want := hex.EncodeToString(proof), vec.Proof.Proof; got != want {
			t.Fatalf("vector %d: proof %s, want %s", n, got, want)
		}

		outputs, err := req.Finalize(pub, wantEvaluated, unhex(t, vec.Proof.Proof))
		if err != nil {
			t.Fatalf("vector %d: Finalize: %v", n, err)
		}
		for i := range outputs {
			if !bytes.Equal(outputs[i], wantOutputs[i]) {
				t.Fatalf("vector %d: output %d %x, want %x", n, i, outputs[i], wantOutputs[i])
			}
			direct, err := k.Evaluate(inputs[i])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(direct, wantOutputs[i]) {
				t.Fatalf("vector %d: Evaluate of input %d %x, want %x", n, i, direct, wantOutputs[i])
			}
		}
	}
	if batches[1] != 2 || batches[2] != 1 {
		t.Fatalf("vectors by batch size %v, want two of 1 and one of 2", batches)
	}
}
