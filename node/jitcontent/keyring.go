package jitcontent

import (
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"

	"github.com/accordfed/accord/federation/pki"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/teamkey"
)

// The sentinel errors.
var (
	// ErrNoKey: this node holds no key for what it was asked to seal: its
	// encryption key is not registered yet, or no member has wrapped the
	// team's current key for it yet. Wrapped with
	// registry.ErrFailedPrecondition, so that users see FailedPrecondition.
	ErrNoKey = errors.New("jitcontent: no key yet")
)

// The texts users read in place of content this node cannot open.
const (
	// Waiting is shown while no member has wrapped the team key for this
	// node.
	Waiting = "(encrypted: waiting for the team key)"
	// Unreadable is shown for a ciphertext that does not open with the
	// team key (altered or moved by whoever wrote it).
	Unreadable = "(encrypted: does not open with the team key)"
)

// maxRemembered bounds the sealed payloads kept for retries.
const maxRemembered = 1024

// Keyring is a node's key for JIT content and the team keys it unwrapped.
type Keyring struct {
	member string
	kid    string
	priv   *ecdh.PrivateKey
	logger *slog.Logger

	mu sync.Mutex
	// keys maps a wrap (its text) to the team key it holds.
	keys map[string][]byte
	// sealed remembers the sealed payload of each recent request, so that
	// a retry with the same request id sends the same bytes (sealing is
	// randomized; the registry refuses a request id reused for different
	// bytes).
	sealed map[string][]byte
	order  []string
}

// LoadKey reads the node's JIT content key, making one on first start
// (<data_dir>/jit.key, mode 0600).
func LoadKey(dataDir string) (*ecdh.PrivateKey, error) {
	path := filepath.Join(dataDir, "jit.key")
	k, err := pki.LoadOrCreateKey(path, func() (crypto.PrivateKey, error) { return teamkey.NewNodeKey() })
	if err != nil {
		return nil, err
	}
	priv, ok := k.(*ecdh.PrivateKey)
	if !ok || priv.Curve() != ecdh.X25519() {
		return nil, fmt.Errorf("%s: a %T key; JIT content keys are X25519", path, k)
	}
	return priv, nil
}

// New returns the keyring of a node named nodeName of member.
func New(member, nodeName string, priv *ecdh.PrivateKey, logger *slog.Logger) *Keyring {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Keyring{
		member: member, kid: teamkey.KeyID(nodeName, priv.PublicKey()), priv: priv, logger: logger,
		keys: map[string][]byte{}, sealed: map[string][]byte{},
	}
}

// EncryptionKey returns the node's public key as its member's record lists
// it.
func (k *Keyring) EncryptionKey() registry.EncryptionKey {
	return registry.EncryptionKey{ID: k.kid, PublicKey: teamkey.EncodePublicKey(k.priv.PublicKey())}
}

// TeamKey returns the team key of epoch if a wrap for this node's key is in
// the team.
func (k *Keyring) TeamKey(j *registry.JIT, epoch int) ([]byte, bool) {
	w := j.Wrap(epoch, k.member, k.kid)
	if w == nil {
		return nil, false
	}
	k.mu.Lock()
	key, ok := k.keys[w.Wrapped]
	k.mu.Unlock()
	if ok {
		return key, true
	}
	key, err := teamkey.Unwrap(k.priv, w.Wrapped, teamkey.WrapAD(j.Scope(), epoch, k.member, k.kid))
	if err != nil {
		k.logger.Warn("a team key wrapped for this node does not open", "jit", j.ID, "epoch", epoch, "wrapped_by", w.Change.Member)
		return nil, false
	}
	k.mu.Lock()
	if len(k.keys) > 100000 {
		clear(k.keys)
	}
	k.keys[w.Wrapped] = key
	k.mu.Unlock()
	return key, true
}

// open returns the plaintext of a sealed field of team j, or the text
// shown in its place; a field in the clear is returned as it is.
func (k *Keyring) open(j *registry.JIT, s string, ad []byte) string {
	if !teamkey.IsSealed(s) {
		return s
	}
	epoch, _, err := teamkey.Parse(s)
	if err != nil {
		return Unreadable
	}
	key, ok := k.TeamKey(j, epoch)
	if !ok {
		return Waiting
	}
	pt, err := teamkey.Open(key, s, ad)
	if err != nil {
		return Unreadable
	}
	return pt
}

// OpenJIT replaces a team's sealed fields with their plaintext (or the
// text shown in their place) and drops the wraps, which users have no use
// for.
func (k *Keyring) OpenJIT(j *registry.JIT) {
	if j.KeyEpoch == 0 {
		return
	}
	scope := j.Scope()
	j.Name = k.open(j, j.Name, registry.JITAD(scope, "name"))
	j.LegalBasis = k.open(j, j.LegalBasis, registry.JITAD(scope, "legal_basis"))
	j.AgreementRef = k.open(j, j.AgreementRef, registry.JITAD(scope, "agreement_ref"))
	j.KeyWraps = nil
}

// OpenVersions replaces the sealed fields of versions of an entry of team
// j with their plaintext.
func (k *Keyring) OpenVersions(j *registry.JIT, vs ...*registry.StrategyVersion) {
	if j == nil || j.KeyEpoch == 0 {
		return
	}
	scope := j.Scope()
	for _, v := range vs {
		if v.Sealed != "" {
			v.Title = k.open(j, v.Title, registry.EntryAD(scope, v.Sealed, "title"))
			v.Text = k.open(j, v.Text, registry.EntryAD(scope, v.Sealed, "text"))
		}
		v.Reason = k.open(j, v.Reason, registry.EntryAD(scope, v.Change.Member+"/"+v.Change.RequestID, "reason"))
	}
}

// remembered returns the sealed payload of an earlier attempt of the same
// request, if any.
func (k *Keyring) remembered(key string) ([]byte, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	p, ok := k.sealed[key]
	return p, ok
}

func (k *Keyring) remember(key string, payload []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.sealed[key]; ok {
		return
	}
	if len(k.order) >= maxRemembered {
		delete(k.sealed, k.order[0])
		k.order = k.order[1:]
	}
	k.sealed[key] = payload
	k.order = append(k.order, key)
}

func requestKey(typ registry.CommandType, requestID string, payload []byte) string {
	sum := sha256.Sum256(payload)
	return string(typ) + "\x00" + requestID + "\x00" + hex.EncodeToString(sum[:])
}

// wrapsFor wraps key of epoch for every registered encryption key of
// member m in the team of scope.
func wrapsFor(scope string, epoch int, m registry.Member, key []byte) ([]registry.WrapSpec, error) {
	var out []registry.WrapSpec
	for _, ek := range m.EncryptionKeys {
		pub, err := teamkey.ParsePublicKey(ek.PublicKey)
		if err != nil {
			continue // the registry checked it; never happens
		}
		w, err := teamkey.Wrap(pub, key, teamkey.WrapAD(scope, epoch, m.Code, ek.ID))
		if err != nil {
			return nil, err
		}
		out = append(out, registry.WrapSpec{Epoch: epoch, Member: m.Code, KeyID: ek.ID, Wrapped: w})
	}
	return out, nil
}

// registered reports whether m lists this node's key.
func (k *Keyring) registered(m registry.Member) bool {
	return slices.ContainsFunc(m.EncryptionKeys, func(e registry.EncryptionKey) bool { return e.ID == k.kid })
}

func randomID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
