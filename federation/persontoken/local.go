package persontoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
)

// LocalKey makes tokens with HMAC-SHA256 under a secret instead of the
// VOPRF: the same inputs and the same [Tokens], about a hundred times
// faster, for tokens that never leave one process and are compared only
// among themselves (`accordctl match` on files). Whoever holds the secret
// computes any token offline: never use it for tokens that other members
// receive.
type LocalKey struct {
	secret []byte
}

// NewLocalKey returns a local key; the secret must be at least 32 bytes.
func NewLocalKey(secret []byte) (*LocalKey, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("%w: local secret of %d bytes, want at least 32", ErrInvalidKey, len(secret))
	}
	return &LocalKey{secret: append([]byte(nil), secret...)}, nil
}

// Tokens computes a person's tokens, with the years below and above.
func (k *LocalKey) Tokens(key string, in Input) Tokens {
	mac := hmac.New(sha256.New, k.secret)
	sum := func(dst *Token, input []byte) {
		mac.Reset()
		mac.Write(input)
		var out [sha256.Size]byte
		copy(dst[:], mac.Sum(out[:0]))
	}
	t := Tokens{Key: key}
	sum(&t.Name, in.Name)
	sum(&t.Skel, in.Skel)
	if in.Year != nil {
		t.HasYear = true
		sum(&t.Year, in.Year)
		if in.Near[0] != nil && in.Near[1] != nil {
			t.HasNear = true
			sum(&t.Near[0], in.Near[0])
			sum(&t.Near[1], in.Near[1])
		}
	}
	return t
}
