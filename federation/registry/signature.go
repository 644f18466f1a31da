package registry

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/merkle"
)

// Signed commands.
//
// Raft tolerates crashed servers, not dishonest ones: a registry server
// that claims leadership (or a follower that forwards) could otherwise put
// any member and actor into a command. So the node that acts signs every
// command with its certificate's key, and every replica verifies, as it
// applies the command, that
//
//   - the certificate names the acting node (its URI SAN is Actor.Node);
//   - it chains to one of the acting member's certificate authorities as the
//     registry holds them (for the bootstrap: as the founders list them),
//     and was valid when the command was signed;
//   - the signature covers everything but the leader's time: type, request
//     id, member, node, user, payload, signing time and seen index;
//   - the signing time lies within MaxSignatureSkew of the leader's time;
//   - the seen index (the registry's applied index as the signer saw it) is
//     below the entry's own index, and not below the acting node's replay
//     floor: the log index of the newest of its requests that the
//     exactly-once table has forgotten. A command signed before that could
//     be a replay of a forgotten request, and is refused; a command still
//     remembered is answered from the table and not applied twice.
//
// The checks depend only on the log and the replicated state, so every
// replica decides alike. What a leader still controls is said in
// docs/security.md: it may delay, drop or reorder commands and choose the
// time it stamps (within MaxSignatureSkew of the signer's clock), and it
// cannot change a signed command or write one in another member's name.

// MaxSignatureSkew bounds the distance between a command's signing time
// and the time its leader stamped on it.
const MaxSignatureSkew = 5 * time.Minute

// signatureDomain separates command signatures from every other signature
// a node's key makes (TLS handshakes, records).
const signatureDomain = "accord/registry-command/v1"

// Sign signs the command as the node of cert (its certificate and private
// key), at the given time, having seen the registry's applied index
// seenIndex. The command's Member and Actor must already be set; Time is
// the leader's and not signed.
func (c *Command) Sign(cert *tls.Certificate, seenIndex uint64, at time.Time) error {
	if cert == nil || len(cert.Certificate) == 0 || cert.PrivateKey == nil {
		return fmt.Errorf("%w: signer: no certificate and key", ErrInvalidArgument)
	}
	signer, ok := cert.PrivateKey.(crypto.Signer)
	if !ok {
		return fmt.Errorf("%w: signer: a %T key cannot sign", ErrInvalidArgument, cert.PrivateKey)
	}
	c.SignerCert = cert.Certificate[0]
	c.SignedAt = at.UTC().Truncate(time.Microsecond)
	c.SeenIndex = seenIndex
	c.Batch = nil
	c.signedPayload = nil // the payload as it is now, not as decoded
	body, err := c.signedBody()
	if err != nil {
		return err
	}
	var sig []byte
	if _, ed := signer.Public().(ed25519.PublicKey); ed {
		sig, err = signer.Sign(rand.Reader, body, crypto.Hash(0))
	} else {
		sum := sha256.Sum256(body)
		sig, err = signer.Sign(rand.Reader, sum[:], crypto.SHA256)
	}
	if err != nil {
		return fmt.Errorf("sign registry command %q: %w", c.RequestID, err)
	}
	c.Signature = sig
	return nil
}

// signedBody is what a command's signature covers: every field but the
// leader's time and the signature itself, each length-prefixed, after a
// domain separator. It is written out by hand (not a protobuf encoding of
// the envelope) so that its bytes never depend on a library's version.
// The payload is its JSON in version 2, and in version 3 the
// deterministic protobuf encoding of its typed message (payloadBytes): the
// one part that depends on the protobuf library, which encodes a message
// of scalar, string, bytes, repeated and map fields in field-number order,
// the same in every release of its wire format.
func (c *Command) signedBody() ([]byte, error) {
	payload, err := c.payloadBytes()
	if err != nil {
		return nil, err
	}
	fields := [][]byte{
		[]byte(signatureDomain),
		[]byte(strconv.Itoa(c.Version)),
		[]byte(c.Type),
		[]byte(c.RequestID),
		[]byte(c.Member),
		[]byte(c.Actor.Node),
		[]byte(c.Actor.User),
		payload,
		[]byte(c.SignedAt.UTC().Format(time.RFC3339Nano)),
		[]byte(strconv.FormatUint(c.SeenIndex, 10)),
		c.SignerCert,
	}
	n := 0
	for _, f := range fields {
		n += binary.MaxVarintLen64 + len(f)
	}
	b := make([]byte, 0, n)
	for _, f := range fields {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b, nil
}

// signatureCheck is the part of a command's verification that needs no
// registry state: the certificate parsed, its identity, and the signature
// over the command checked with its key. It runs before the state machine
// takes its lock.
type signatureCheck struct {
	cert *x509.Certificate
	err  error
}

// checkSignature verifies the command's signature with the key of the
// certificate it carries.
func checkSignature(c *Command, certs *certCache) signatureCheck {
	return checkSignedBody(c, nil, certs)
}

// checkSignedBody is checkSignature with the command's signed bytes
// formed already (body, or nil to form them here). The checks run in the
// same order either way: the refusal's kind is part of the log chain.
func checkSignedBody(c *Command, body []byte, certs *certCache) signatureCheck {
	if len(c.Signature) == 0 || len(c.SignerCert) == 0 {
		return signatureCheck{err: denied("signature: the command is not signed; every registry command is signed by the node that acts")}
	}
	if c.SignedAt.IsZero() {
		return signatureCheck{err: denied("signed_at: is required")}
	}
	cert, err := certs.parse(c.SignerCert)
	if err != nil {
		return signatureCheck{err: denied("signer_cert: %v", err)}
	}
	id, err := identity.FromCertificate(cert)
	if err != nil {
		return signatureCheck{err: denied("signer_cert: %v", err)}
	}
	if id.String() != c.Actor.Node {
		return signatureCheck{err: denied("signer_cert: the certificate is %s's, not the acting node %s's", id, c.Actor.Node)}
	}
	if body == nil {
		if body, err = c.signedBody(); err != nil {
			return signatureCheck{err: err}
		}
	}
	var ok bool
	if c.Batch != nil {
		// Signed as one of a batch (batchsig.go): the root from this
		// command's own fields and its path, whose signature is verified
		// once per batch.
		root, perr := c.Batch.rootFromPath(merkle.LeafHash(body))
		if perr != nil {
			return signatureCheck{err: denied("batch_path: %v", perr)}
		}
		ok, err = certs.roots.verify(cert, root, c.Signature)
	} else {
		ok, err = verifyKey(cert, body, c.Signature)
	}
	if err != nil {
		return signatureCheck{err: denied("signer_cert: %v", err)}
	}
	if !ok {
		return signatureCheck{err: denied("signature: does not verify with the key of %s's certificate: the command was changed or not signed by that node", c.Actor.Node)}
	}
	return signatureCheck{cert: cert}
}

// verifyChain checks, with the registry's state, that the signer's
// certificate chains to one of the acting member's authorities (caPEMs)
// and was valid when the command was signed, and that the signing time is
// near the leader's.
func (s *state) verifyChain(cmd *Command, chk signatureCheck, caPEMs []string) error {
	if chk.err != nil {
		return chk.err
	}
	if d := cmd.SignedAt.Sub(cmd.Time); d > MaxSignatureSkew || d < -MaxSignatureSkew {
		return denied("signed_at: %s is %s from the leader's time %s (at most %s)",
			cmd.SignedAt.Format(time.RFC3339), d.Round(time.Second), cmd.Time.Format(time.RFC3339), MaxSignatureSkew)
	}
	notBefore, notAfter, err := s.certs.chain(chk.cert, cmd.SignerCert, cmd.Member, caPEMs)
	if err != nil {
		return denied("signer_cert: %v", err)
	}
	if cmd.SignedAt.Before(notBefore) || cmd.SignedAt.After(notAfter) {
		return denied("signer_cert: not valid at %s, when the command was signed (valid %s to %s)",
			cmd.SignedAt.Format(time.RFC3339), notBefore.Format(time.RFC3339), notAfter.Format(time.RFC3339))
	}
	return nil
}

// checkFreshness refuses a command signed before the acting node's replay
// floor or claiming to have seen the entry's own index or later.
func (s *state) checkFreshness(index uint64, cmd *Command) error {
	if cmd.SeenIndex >= index {
		return denied("seen_index: %d is not below the entry's index %d", cmd.SeenIndex, index)
	}
	if floor := s.meta.ReplayFloor[cmd.Actor.Node]; cmd.SeenIndex < floor {
		return denied("seen_index: %d is older than node %s's replay floor %d (the newest of its requests the registry no longer remembers); sign the command again", cmd.SeenIndex, cmd.Actor.Node, floor)
	}
	return nil
}

// certCache remembers parsed certificates and verified chains. Both are
// pure functions of their inputs (a certificate's bytes; a certificate and
// a member's authorities), so a cache changes no decision. Safe for
// concurrent use (ApplyBatch parses on several goroutines).
type certCache struct {
	// roots remembers verified batch roots (batchsig.go).
	roots  roots
	mu     sync.Mutex
	parsed map[[32]byte]*x509.Certificate
	chains map[chainKey]chainResult
}

type chainKey struct {
	cert, cas [32]byte
}

type chainResult struct {
	notBefore, notAfter time.Time
	err                 error
}

// maxCachedCerts bounds each of the cache's maps; a full map is emptied.
const maxCachedCerts = 4096

func newCertCache() *certCache {
	return &certCache{parsed: map[[32]byte]*x509.Certificate{}, chains: map[chainKey]chainResult{}}
}

func (c *certCache) parse(der []byte) (*x509.Certificate, error) {
	k := sha256.Sum256(der)
	c.mu.Lock()
	cert, ok := c.parsed[k]
	c.mu.Unlock()
	if ok {
		return cert, nil
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if cert.IsCA {
		return nil, errors.New("a CA certificate cannot act")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.parsed) >= maxCachedCerts {
		clear(c.parsed)
	}
	c.parsed[k] = cert
	return cert, nil
}

// chain verifies cert against the member's authorities and returns the
// time the whole chain is valid in.
func (c *certCache) chain(cert *x509.Certificate, der []byte, member string, caPEMs []string) (time.Time, time.Time, error) {
	h := sha256.New()
	h.Write([]byte(member))
	for _, p := range caPEMs {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	var k chainKey
	k.cert = sha256.Sum256(der)
	copy(k.cas[:], h.Sum(nil))
	c.mu.Lock()
	r, ok := c.chains[k]
	c.mu.Unlock()
	if ok {
		return r.notBefore, r.notAfter, r.err
	}
	r = verifyMemberChain(cert, member, caPEMs)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.chains) >= maxCachedCerts {
		clear(c.chains)
	}
	c.chains[k] = r
	return r.notBefore, r.notAfter, r.err
}

// verifyMemberChain checks that cert was issued by one of the member's
// authorities, which must name the member. Validity is checked by the
// caller against the signing time, so the chain is built at a time inside
// the certificate's own validity and the window of the whole chain is
// returned.
func verifyMemberChain(cert *x509.Certificate, member string, caPEMs []string) chainResult {
	if len(caPEMs) == 0 {
		return chainResult{err: fmt.Errorf("member %s has no certificate authority in the registry", member)}
	}
	node, err := identity.FromCertificate(cert)
	if err != nil {
		return chainResult{err: err}
	}
	want := identity.MemberURI(node.Federation, member).String()
	var last error
	for _, p := range caPEMs {
		block, _ := pem.Decode([]byte(p))
		if block == nil {
			continue
		}
		ca, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			continue
		}
		if !ca.IsCA || len(ca.URIs) != 1 || ca.URIs[0].String() != want {
			continue
		}
		if err := cert.CheckSignatureFrom(ca); err != nil {
			last = err
			continue
		}
		nb, na := cert.NotBefore, cert.NotAfter
		if ca.NotBefore.After(nb) {
			nb = ca.NotBefore
		}
		if ca.NotAfter.Before(na) {
			na = ca.NotAfter
		}
		if na.Before(nb) {
			last = errors.New("the certificate and its authority are never valid at the same time")
			continue
		}
		return chainResult{notBefore: nb, notAfter: na}
	}
	if last != nil {
		return chainResult{err: fmt.Errorf("not issued by a certificate authority of member %s: %w", member, last)}
	}
	return chainResult{err: fmt.Errorf("not issued by a certificate authority of member %s", member)}
}

// checkedSignatures holds the signature checks of commands the leader is
// about to propose (FSM.Preverify), until the state machine applies them.
// A check is keyed by the SHA-256 of everything it depends on (the
// command's signed bytes, its signature and its batch path:
// signatureKey), so a remembered check decides exactly as a fresh one
// would. Safe for concurrent use.
type checkedSignatures struct {
	mu     sync.Mutex
	checks map[[32]byte]signatureCheck
}

// maxCheckedSignatures bounds the checks kept; a full table is emptied
// (the commands of a lost leadership or a refused proposal are never
// applied, and their checks are dropped with the rest).
const maxCheckedSignatures = 8192

func newCheckedSignatures() *checkedSignatures {
	return &checkedSignatures{checks: map[[32]byte]signatureCheck{}}
}

// signatureKey is the key of the check of command c, whose signed bytes
// are body: everything the check depends on, each part length-prefixed —
// the signed bytes (which hold the certificate), the signature, and the
// batch path (present or not, its leaf index, its leaf count, each
// sibling), without which a command with a wrong path would find the check
// of the same command with its true path.
func signatureKey(c *Command, body []byte) [32]byte {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	put := func(b []byte) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
		h.Write(b)
	}
	put(body)
	put(c.Signature)
	if p := c.Batch; p != nil {
		h.Write([]byte{1})
		h.Write(n[:binary.PutUvarint(n[:], uint64(p.LeafIndex))])
		h.Write(n[:binary.PutUvarint(n[:], uint64(p.Leaves))])
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(p.Siblings)))])
		for _, s := range p.Siblings {
			put(s)
		}
	} else {
		h.Write([]byte{0})
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// remember checks c's signature and keeps the result.
func (s *checkedSignatures) remember(c *Command, certs *certCache) {
	body, err := c.signedBody()
	if err != nil {
		return // refused when it is applied
	}
	chk := checkSignedBody(c, body, certs)
	k := signatureKey(c, body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.checks) >= maxCheckedSignatures {
		clear(s.checks)
	}
	s.checks[k] = chk
}

// check returns the remembered check of c, which it forgets, or checks c's
// signature now.
func (s *checkedSignatures) check(c *Command, certs *certCache) signatureCheck {
	body, err := c.signedBody()
	if err != nil {
		return checkSignature(c, certs) // refused, in the usual order
	}
	s.mu.Lock()
	none := len(s.checks) == 0 // a follower's: it proposes nothing
	s.mu.Unlock()
	if none {
		return checkSignedBody(c, body, certs)
	}
	k := signatureKey(c, body)
	s.mu.Lock()
	chk, found := s.checks[k]
	delete(s.checks, k)
	s.mu.Unlock()
	if found {
		return chk
	}
	return checkSignedBody(c, body, certs)
}
