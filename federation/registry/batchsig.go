package registry

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"time"

	"github.com/accordfed/accord/federation/merkle"
)

// Batch signatures.
//
// A follower forwards the writes its callers make to the leader in
// batches (registryraft's SubmitBatch). Signing each command on its own
// costs the follower an ECDSA signature per write and every replica a
// verification per write, in the state machine's one goroutine that every
// write waits for. So a node may sign a batch of its own commands at once:
// the commands' signed fields (signedBody, exactly those of a lone
// signature) are the leaves of a Merkle tree (RFC 9162, SHA-256: a leaf is
// H(0x00 || signed fields), an inner node H(0x01 || left || right)), the
// node signs the root under its own domain (batchSignatureDomain), and each
// command carries that signature and its audit path (BatchPath). A replica
// recomputes the root from the command's own signed fields and its path
// (federation/merkle),
// and verifies the root's signature once per batch (certCache.root).
//
// What the signature proves is unchanged: the node of the certificate
// signed exactly these fields of this command. A leaf hash cannot be
// forged without a second preimage of SHA-256, a leaf cannot pass for an
// inner node (the prefixes differ), and a root signature cannot pass for a
// command's (the domains differ). A leader may still drop some commands of
// a batch or replay one, as it may with lone commands; the exactly-once
// table and the replay floor answer those alike.

// batchSignatureDomain separates the signature over a batch's root from a
// lone command's (signatureDomain) and from every other signature a node's
// key makes.
const batchSignatureDomain = "accord/registry-command-batch/v1"

// maxBatchLeaves bounds a batch (the audit path of a leaf of 2^16 leaves
// has 16 hashes).
const maxBatchLeaves = 1 << 16

// BatchPath is a command's place in a batch signed at once: its leaf
// index, the number of leaves and the audit path to the root.
type BatchPath struct {
	LeafIndex uint32
	Leaves    uint32
	Siblings  [][]byte
}

// check refuses a path that no batch could have produced.
func (p *BatchPath) check() error {
	switch {
	case p.Leaves < 2 || p.Leaves > maxBatchLeaves:
		return invalid("batch_path.leaves: %d is not between 2 and %d", p.Leaves, maxBatchLeaves)
	case p.LeafIndex >= p.Leaves:
		return invalid("batch_path.leaf_index: %d is not below leaves (%d)", p.LeafIndex, p.Leaves)
	case len(p.Siblings) > bits.Len32(p.Leaves-1):
		return invalid("batch_path.siblings: %d hashes, a batch of %d leaves has at most %d", len(p.Siblings), p.Leaves, bits.Len32(p.Leaves-1))
	}
	for i, s := range p.Siblings {
		if len(s) != sha256.Size {
			return invalid("batch_path.siblings[%d]: %d bytes, not %d", i, len(s), sha256.Size)
		}
	}
	return nil
}

// rootFromPath computes the root of the batch from a leaf's hash and its
// path (RFC 9162, 2.1.3.2).
func (p *BatchPath) rootFromPath(leaf [32]byte) ([32]byte, error) {
	root, ok := merkle.RootFromPath(leaf, uint64(p.LeafIndex), uint64(p.Leaves), p.Siblings)
	if !ok {
		return [32]byte{}, errors.New("the audit path does not fit the leaf's index and the number of leaves")
	}
	return root, nil
}

// batchSignedBytes is what the signature over a batch's root covers.
func batchSignedBytes(root [32]byte) []byte {
	return append([]byte(batchSignatureDomain), root[:]...)
}

// SignBatch signs cmds at once as the node of cert, at the given time,
// having seen the registry's applied index seenIndex: each command gets
// the signature over the batch's root and its audit path (a single
// command is signed alone, as Sign does). Every command's Member and Actor
// must already be set, and every command must be of the current version.
func SignBatch(cmds []*Command, cert *tls.Certificate, seenIndex uint64, at time.Time) error {
	if len(cmds) == 1 {
		cmds[0].Batch = nil
		return cmds[0].Sign(cert, seenIndex, at)
	}
	if len(cmds) == 0 || len(cmds) > maxBatchLeaves {
		return fmt.Errorf("%w: batch: %d commands, not between 1 and %d", ErrInvalidArgument, len(cmds), maxBatchLeaves)
	}
	if cert == nil || len(cert.Certificate) == 0 || cert.PrivateKey == nil {
		return fmt.Errorf("%w: signer: no certificate and key", ErrInvalidArgument)
	}
	signer, ok := cert.PrivateKey.(crypto.Signer)
	if !ok {
		return fmt.Errorf("%w: signer: a %T key cannot sign", ErrInvalidArgument, cert.PrivateKey)
	}
	leaves := make([][32]byte, len(cmds))
	for i, c := range cmds {
		if c.Version != CommandVersion {
			return fmt.Errorf("%w: batch: command %q is of version %d; only version %d commands are signed in batches", ErrInvalidArgument, c.RequestID, c.Version, CommandVersion)
		}
		c.SignerCert = cert.Certificate[0]
		c.SignedAt = at.UTC().Truncate(time.Microsecond)
		c.SeenIndex = seenIndex
		c.signedPayload = nil
		body, err := c.signedBody()
		if err != nil {
			return fmt.Errorf("batch: command %q: %w", c.RequestID, err)
		}
		leaves[i] = merkle.LeafHash(body)
	}
	root, paths := merkle.Tree(leaves)
	msg := batchSignedBytes(root)
	var (
		sig []byte
		err error
	)
	if _, ed := signer.Public().(ed25519.PublicKey); ed {
		sig, err = signer.Sign(rand.Reader, msg, crypto.Hash(0))
	} else {
		sum := sha256.Sum256(msg)
		sig, err = signer.Sign(rand.Reader, sum[:], crypto.SHA256)
	}
	if err != nil {
		return fmt.Errorf("sign a batch of %d registry commands: %w", len(cmds), err)
	}
	for i, c := range cmds {
		c.Signature = sig
		c.Batch = &BatchPath{LeafIndex: uint32(i), Leaves: uint32(len(cmds)), Siblings: paths[i]}
	}
	return nil
}

// verifyKey verifies sig over msg with the certificate's key.
func verifyKey(cert *x509.Certificate, msg, sig []byte) (bool, error) {
	switch pub := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		sum := sha256.Sum256(msg)
		return ecdsa.VerifyASN1(pub, sum[:], sig), nil
	case ed25519.PublicKey:
		return ed25519.Verify(pub, msg, sig), nil
	default:
		return false, fmt.Errorf("a %T key is not supported", cert.PublicKey)
	}
}

// rootCheck is one batch root's verification, shared by every command of
// the batch: the first to need it verifies, the others wait for it.
type rootCheck struct {
	done chan struct{}
	ok   bool
	err  error
}

type rootKey struct {
	root, sig, cert [32]byte
}

// roots remembers verified batch roots: a pure function of the root, the
// signature and the certificate, so remembering changes no decision.
type roots struct {
	mu     sync.Mutex
	checks map[rootKey]*rootCheck
}

// verify reports whether sig over the batch root verifies with cert's key,
// verifying each (root, signature, certificate) once while it is
// remembered, however many goroutines ask at once.
func (r *roots) verify(cert *x509.Certificate, root [32]byte, sig []byte) (bool, error) {
	k := rootKey{root: root, sig: sha256.Sum256(sig), cert: sha256.Sum256(cert.Raw)}
	r.mu.Lock()
	if r.checks == nil {
		r.checks = map[rootKey]*rootCheck{}
	}
	if c, ok := r.checks[k]; ok {
		r.mu.Unlock()
		<-c.done
		return c.ok, c.err
	}
	if len(r.checks) >= maxCachedCerts {
		clear(r.checks)
	}
	c := &rootCheck{done: make(chan struct{})}
	r.checks[k] = c
	r.mu.Unlock()
	func() {
		// Those waiting for this check are released whatever happens.
		defer close(c.done)
		defer func() {
			if p := recover(); p != nil {
				c.ok, c.err = false, fmt.Errorf("verifying the batch signature failed: %v", p)
				r.mu.Lock()
				if r.checks[k] == c {
					delete(r.checks, k) // not remembered
				}
				r.mu.Unlock()
			}
		}()
		c.ok, c.err = verifyKey(cert, batchSignedBytes(root), sig)
	}()
	return c.ok, c.err
}
