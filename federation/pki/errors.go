package pki

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidOptions is returned when an option of NewCA, CreateCA, Issue,
	// Revoke or CRL is invalid. The error is a *FieldError naming the field.
	ErrInvalidOptions = errors.New("invalid options")
	// ErrCAExists is returned by CreateCA when the folder already holds a CA.
	ErrCAExists = errors.New("folder already holds a CA")
	// ErrNoCA is returned by OpenCA when the folder holds no CA.
	ErrNoCA = errors.New("folder holds no CA")
	// ErrCorruptCA is returned when a CA's files cannot be read or do not fit
	// together (a key that does not match the certificate, a state file of
	// another member).
	ErrCorruptCA = errors.New("CA files are damaged or inconsistent")
	// ErrCAExpired is returned when an expired CA is asked to issue.
	ErrCAExpired = errors.New("CA certificate has expired")
	// ErrUnknownSerial is returned by Revoke for a serial this CA did not
	// issue (or did not record issuing).
	ErrUnknownSerial = errors.New("serial was not issued by this CA")
	// ErrAlreadyRevoked is returned when a certificate is revoked twice.
	ErrAlreadyRevoked = errors.New("certificate is already revoked")
	// ErrNotIssuedByCA is returned by RevokeCertificate for a certificate
	// that this CA did not sign.
	ErrNotIssuedByCA = errors.New("certificate was not signed by this CA")
	// ErrKeyMismatch is returned when a private key does not belong to the
	// certificate next to it.
	ErrKeyMismatch = errors.New("private key does not match the certificate")
	// ErrUnrecognized is returned by Describe and Inspect for data that is
	// no certificate, CRL, private key or trust bundle.
	ErrUnrecognized = errors.New("not a certificate, CRL, private key or trust bundle")
)

// FieldError says which option was refused and why. It wraps
// ErrInvalidOptions and, when there is one, the underlying error (for example
// identity.ErrInvalid).
type FieldError struct {
	Options string // the options type, e.g. "CAOptions"
	Field   string // the field, e.g. "Member"
	Value   string // the refused value as text; may be empty
	Reason  string // why, in words
	Err     error  // underlying error; may be nil
}

func (e *FieldError) Error() string {
	v := ""
	if e.Value != "" {
		v = fmt.Sprintf(" %q", e.Value)
	}
	return fmt.Sprintf("%v: %s.%s%s: %s", ErrInvalidOptions, e.Options, e.Field, v, e.Reason)
}

// Unwrap returns ErrInvalidOptions and the underlying error.
func (e *FieldError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidOptions, e.Err}
	}
	return []error{ErrInvalidOptions}
}

func fieldErr(options, field, value, reason string, err error) error {
	return &FieldError{Options: options, Field: field, Value: value, Reason: reason, Err: err}
}
