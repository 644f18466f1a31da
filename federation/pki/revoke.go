package pki

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/trust"
)

// CRL validity.
const (
	// DefaultCRLValidity is how long a CRL stays current (until its next
	// update) unless told.
	DefaultCRLValidity = 7 * 24 * time.Hour
	// MaxCRLValidity is the longest CRL validity accepted: peers treat a
	// CRL past its next update as stale, so publish often.
	MaxCRLValidity = 366 * 24 * time.Hour
)

// Revocation reasons (RFC 5280 section 5.3.1 CRLReason codes) that Revoke
// accepts. certificateHold (6) and removeFromCRL (8) are not supported:
// Accord revocations are permanent.
const (
	ReasonUnspecified          = 0
	ReasonKeyCompromise        = 1
	ReasonCACompromise         = 2
	ReasonAffiliationChanged   = 3
	ReasonSuperseded           = 4
	ReasonCessationOfOperation = 5
	ReasonPrivilegeWithdrawn   = 9
	ReasonAACompromise         = 10
)

var reasonNames = map[int]string{
	ReasonUnspecified:          "unspecified",
	ReasonKeyCompromise:        "keyCompromise",
	ReasonCACompromise:         "cACompromise",
	ReasonAffiliationChanged:   "affiliationChanged",
	ReasonSuperseded:           "superseded",
	ReasonCessationOfOperation: "cessationOfOperation",
	ReasonPrivilegeWithdrawn:   "privilegeWithdrawn",
	ReasonAACompromise:         "aACompromise",
}

// ReasonNames returns the names of the accepted revocation reasons, in code
// order.
func ReasonNames() []string {
	codes := make([]int, 0, len(reasonNames))
	for c := range reasonNames {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	out := make([]string, len(codes))
	for i, c := range codes {
		out[i] = reasonNames[c]
	}
	return out
}

// ReasonName returns the RFC 5280 name of a reason code, e.g.
// "keyCompromise", or "reason <n>" for a code it does not know.
func ReasonName(code int) string {
	switch code {
	case 6:
		return "certificateHold"
	case 8:
		return "removeFromCRL"
	}
	if n, ok := reasonNames[code]; ok {
		return n
	}
	return fmt.Sprintf("reason %d", code)
}

// ParseReason parses a revocation reason given by RFC 5280 name
// (case-insensitive, e.g. "keyCompromise") or by code.
func ParseReason(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if err := checkReason(n); err != nil {
			return 0, err
		}
		return n, nil
	}
	for c, n := range reasonNames {
		if strings.EqualFold(n, s) {
			return c, nil
		}
	}
	return 0, fieldErr("Revoke", "reason", s, "must be one of "+strings.Join(ReasonNames(), ", "), nil)
}

func checkReason(code int) error {
	if code == 6 || code == 8 {
		return fieldErr("Revoke", "reason", ReasonName(code), "is not supported: Accord revocations are permanent", nil)
	}
	if _, ok := reasonNames[code]; !ok {
		return fieldErr("Revoke", "reason", strconv.Itoa(code), "must be one of "+strings.Join(ReasonNames(), ", "), nil)
	}
	return nil
}

// Revoke records that the certificate with this serial is revoked for reason
// (an RFC 5280 code, see the Reason constants) from at (zero means now). The
// serial must have been issued by this CA (ErrUnknownSerial otherwise: use
// RevokeCertificate for a certificate the index lost) and not revoked yet
// (ErrAlreadyRevoked). The revocation reaches peers with the next CRL.
func (ca *CA) Revoke(serial *big.Int, reason int, at time.Time) error {
	if serial == nil || serial.Sign() <= 0 {
		return fieldErr("Revoke", "serial", "", "must be a positive number", nil)
	}
	if err := checkReason(reason); err != nil {
		return err
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	hex := serial.Text(16)
	i := ca.issuedIndexLocked(hex)
	if i < 0 {
		return fmt.Errorf("%w: serial %s is not in the index of the CA of member %s", ErrUnknownSerial, hex, ca.Member)
	}
	return ca.revokeLocked(ca.state.Issued[i], reason, at)
}

// RevokeCertificate revokes a certificate this CA signed. Unlike Revoke it
// does not need the serial in the CA's index: the CA's signature on the
// certificate is the proof, so a certificate whose record was lost (an old
// state.json restored from backup) can still be revoked; it is added to the
// index.
func (ca *CA) RevokeCertificate(cert *x509.Certificate, reason int, at time.Time) error {
	if err := cert.CheckSignatureFrom(ca.Cert); err != nil {
		return fmt.Errorf("%w: %s (issuer %q): %w", ErrNotIssuedByCA, cert.Subject, cert.Issuer, err)
	}
	if err := checkReason(reason); err != nil {
		return err
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	hex := cert.SerialNumber.Text(16)
	i := ca.issuedIndexLocked(hex)
	if i >= 0 {
		return ca.revokeLocked(ca.state.Issued[i], reason, at)
	}
	rec := IssuedRecord{Serial: hex, NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, Fingerprint: trust.Fingerprint(cert)}
	if id, err := identity.FromCertificate(cert); err == nil {
		rec.Identity = id.String()
	}
	ca.state.Issued = append(ca.state.Issued, rec)
	if err := ca.revokeLocked(rec, reason, at); err != nil {
		ca.state.Issued = ca.state.Issued[:len(ca.state.Issued)-1]
		return err
	}
	return nil
}

// revokeLocked adds a revocation and persists it. ca.mu must be held.
func (ca *CA) revokeLocked(rec IssuedRecord, reason int, at time.Time) error {
	if j := ca.revokedIndexLocked(rec.Serial); j >= 0 {
		r := ca.state.Revoked[j]
		return fmt.Errorf("%w: serial %s (%s) was revoked at %s (%s)", ErrAlreadyRevoked, rec.Serial, rec.Identity, r.RevokedAt.Format(time.RFC3339), ReasonName(r.Reason))
	}
	if at.IsZero() {
		at = ca.now()
	}
	ca.state.Revoked = append(ca.state.Revoked, Revocation{Serial: rec.Serial, Identity: rec.Identity, Reason: reason, RevokedAt: at.UTC().Truncate(time.Second)})
	if err := ca.persistLocked(); err != nil {
		ca.state.Revoked = ca.state.Revoked[:len(ca.state.Revoked)-1]
		return err
	}
	return nil
}

// CRL signs a certificate revocation list of everything this CA revoked,
// valid from now until now+validity (zero means DefaultCRLValidity), and
// returns it in PEM ("X509 CRL"). Each CRL has a number one higher than the
// last; the number is saved before the CRL is returned, so no two CRLs share
// one.
func (ca *CA) CRL(validity time.Duration) ([]byte, error) {
	if validity < 0 {
		return nil, fieldErr("CRL", "validity", validity.String(), "must be positive", nil)
	}
	if validity > MaxCRLValidity {
		return nil, fieldErr("CRL", "validity", validity.String(), "must be at most 366 days", nil)
	}
	if validity == 0 {
		validity = DefaultCRLValidity
	}
	now := ca.now()
	ca.mu.Lock()
	defer ca.mu.Unlock()
	entries := make([]x509.RevocationListEntry, 0, len(ca.state.Revoked))
	for _, r := range ca.state.Revoked {
		serial, ok := new(big.Int).SetString(r.Serial, 16)
		if !ok {
			return nil, fmt.Errorf("%w: revocation of serial %q: not hexadecimal", ErrCorruptCA, r.Serial)
		}
		entries = append(entries, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: r.RevokedAt, ReasonCode: r.Reason})
	}
	number := ca.state.CRLNumber + 1
	tmpl := &x509.RevocationList{
		Number:                    big.NewInt(number),
		ThisUpdate:                now.UTC().Truncate(time.Second),
		NextUpdate:                now.Add(validity).UTC().Truncate(time.Second),
		RevokedCertificateEntries: entries,
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign CRL: %w", err)
	}
	ca.state.CRLNumber = number
	if err := ca.persistLocked(); err != nil {
		ca.state.CRLNumber = number - 1
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), nil
}
