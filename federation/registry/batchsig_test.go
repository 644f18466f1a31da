package registry

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/accordfed/accord/federation/merkle"
)

// TestMerkleBatchPaths: for batches of every size up to 70, each leaf's
// BatchPath passes check and leads to the batch's root, and no other leaf,
// index or path does.
func TestMerkleBatchPaths(t *testing.T) {
	for n := 2; n <= 70; n++ {
		leaves := make([][32]byte, n)
		for i := range leaves {
			leaves[i] = merkle.LeafHash([]byte(fmt.Sprintf("command %d of %d", i, n)))
		}
		root, paths := merkle.Tree(leaves)
		for i := range leaves {
			p := &BatchPath{LeafIndex: uint32(i), Leaves: uint32(n), Siblings: paths[i]}
			if err := p.check(); err != nil {
				t.Fatalf("n=%d leaf %d: %v", n, i, err)
			}
			got, err := p.rootFromPath(leaves[i])
			if err != nil || got != root {
				t.Fatalf("n=%d leaf %d: root %x, %v; want %x", n, i, got, err, root)
			}
			other := leaves[(i+1)%n]
			if got, err := p.rootFromPath(other); err == nil && got == root {
				t.Fatalf("n=%d: leaf %d's path proves leaf %d too", n, i, (i+1)%n)
			}
			moved := *p
			moved.LeafIndex = uint32((i + 1) % n)
			if got, err := moved.rootFromPath(leaves[i]); err == nil && got == root {
				t.Fatalf("n=%d: leaf %d's path proves it at index %d too", n, i, moved.LeafIndex)
			}
			if len(p.Siblings) > 0 {
				flipped := *p
				flipped.Siblings = append([][]byte(nil), p.Siblings...)
				flipped.Siblings[0] = bytes.Clone(p.Siblings[0])
				flipped.Siblings[0][0] ^= 1
				if got, err := flipped.rootFromPath(leaves[i]); err == nil && got == root {
					t.Fatalf("n=%d leaf %d: a changed sibling still proves the leaf", n, i)
				}
				short := *p
				short.Siblings = p.Siblings[:len(p.Siblings)-1]
				if got, err := short.rootFromPath(leaves[i]); err == nil && got == root {
					t.Fatalf("n=%d leaf %d: a shortened path still proves the leaf", n, i)
				}
			}
		}
	}
}

// TestBatchSignedCommands: commands signed at once as a batch apply, each
// on its own, and the batch's root is verified once; a command whose
// signed fields changed, that carries another command's place in the
// batch, or whose path was cut is refused as unsigned; a batch path is
// refused in a version 2 command and in a shape no batch has.
func TestBatchSignedCommands(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL")
	cert := nodeCert(t, nodeURI("UA"))

	batch := make([]*Command, 5)
	for i := range batch {
		batch[i] = h.command("UA", CreateEntry{Kind: KindTheme, Title: fmt.Sprintf("Signed in a batch, %d", i)})
	}
	if err := SignBatch(batch, cert, h.index, h.now); err != nil {
		t.Fatal(err)
	}
	for i, c := range batch {
		if c.Batch == nil || !bytes.Equal(c.Signature, batch[0].Signature) {
			t.Fatalf("command %d: not signed as one of the batch", i)
		}
	}
	roots := func() int {
		h.f.certs.roots.mu.Lock()
		defer h.f.certs.roots.mu.Unlock()
		return len(h.f.certs.roots.checks)
	}
	before := roots()
	// Out of order, as a leader may propose them.
	for _, i := range []int{3, 0, 4} {
		if res := h.applyCommand(batch[i]); res.Err != nil {
			t.Fatalf("command %d of the batch: %v", i, res.Err)
		}
	}
	if got := roots() - before; got != 1 {
		t.Fatalf("%d batch roots verified for three commands of one batch, want 1", got)
	}

	refused := func(what string, c *Command, want error) {
		t.Helper()
		data, err := c.Encode()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if res := h.applyData(data); !errors.Is(res.Err, want) {
			t.Fatalf("%s: %v, want %v", what, res.Err, want)
		}
	}
	changed := *batch[1]
	changed.Payload = CreateEntry{Kind: KindTheme, Title: "A title nobody signed"}
	changed.signedPayload = nil
	refused("a batch command with a changed payload", &changed, ErrPermissionDenied)

	swapped := *batch[1]
	swapped.Batch = batch[2].Batch
	refused("a batch command with another command's place", &swapped, ErrPermissionDenied)

	cut := *batch[1]
	cut.Batch = &BatchPath{LeafIndex: batch[1].Batch.LeafIndex, Leaves: batch[1].Batch.Leaves, Siblings: batch[1].Batch.Siblings[1:]}
	refused("a batch command with a shortened path", &cut, ErrPermissionDenied)

	// Another node's signature over the batch's root: the certificate
	// is PL's, the actor UA's.
	forged := *batch[1]
	forged.SignerCert = nodeCert(t, nodeURI("PL")).Certificate[0]
	refused("a batch command under another node's certificate", &forged, ErrPermissionDenied)

	alone := *batch[1]
	alone.Batch = nil
	refused("a batch command without its path (the root's signature as a lone one)", &alone, ErrPermissionDenied)

	// The batch's unchanged commands still apply after the refusals.
	if res := h.applyCommand(batch[1]); res.Err != nil {
		t.Fatalf("command 1 of the batch: %v", res.Err)
	}

	legacy := *batch[2]
	legacy.Version = LegacyCommandVersion
	data, err := legacy.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeCommand(data); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("a version 2 command with a batch path: %v, want %v", err, ErrInvalidArgument)
	}
	for _, p := range []*BatchPath{
		{LeafIndex: 0, Leaves: 1},
		{LeafIndex: 5, Leaves: 5, Siblings: batch[2].Batch.Siblings},
		{LeafIndex: 1, Leaves: 5, Siblings: [][]byte{{1, 2, 3}}},
		{LeafIndex: 1, Leaves: 2, Siblings: batch[2].Batch.Siblings},
	} {
		bad := *batch[2]
		bad.Batch = p
		data, err := bad.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeCommand(data); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("batch path %+v: %v, want %v", p, err, ErrInvalidArgument)
		}
	}
	if res := h.applyCommand(batch[2]); res.Err != nil {
		t.Fatalf("command 2 of the batch: %v", res.Err)
	}
}
