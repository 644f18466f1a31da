package personenc

import "errors"

// The messages of these errors, and of every error this package returns,
// never contain a name, a token or key material: they may be logged and
// sent to peers.
var (
	// ErrInvalidKey is wrapped by [NewKey] when the key material is shorter
	// than [MinKeyMaterial] bytes, the federation name is empty or the
	// version is negative.
	ErrInvalidKey = errors.New("invalid person encoding key")
	// ErrInvalidConfig is wrapped by [NewEncoder] when a [Config] field is
	// out of range; the message names the field.
	ErrInvalidConfig = errors.New("invalid person encoding config")
	// ErrEmptyName is returned by the Encode methods when a name has no
	// letter left after normalisation.
	ErrEmptyName = errors.New("person name has no letters")
	// ErrNameTooLong is returned by the Encode methods for a name longer
	// than [MaxNameBytes] bytes.
	ErrNameTooLong = errors.New("person name too long")
	// ErrInvalidBirthYear is returned by the Encode methods for a birth year
	// outside [MinBirthYear, MaxBirthYear] (0 means absent and is allowed).
	ErrInvalidBirthYear = errors.New("person birth year out of range")
	// ErrKeyVersionMismatch is wrapped by [Compare] when two encodings were
	// made under different key versions: they cannot be compared.
	ErrKeyVersionMismatch = errors.New("person encodings of different key versions")
	// ErrSchemeMismatch is wrapped by [Compare] when two encodings differ in
	// length or in scheme (normalisation, filter length, hash count or
	// hardening): they cannot be compared.
	ErrSchemeMismatch = errors.New("person encodings of different schemes")
	// ErrMalformed is wrapped by [Encoding.UnmarshalBinary] for bytes that
	// are not a version-1 encoding (wrong tag, lengths, trailing bytes).
	ErrMalformed = errors.New("malformed person encoding")
)
