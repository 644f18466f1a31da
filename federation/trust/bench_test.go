package trust_test

import (
	"crypto/x509"
	"testing"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/trust"
)

// BenchmarkVerify measures the per-handshake cost of checking a peer's
// certificate (chain to its member's CA, validity, revocation) in a
// five-member federation with a CRL of 1,000 entries.
func BenchmarkVerify(b *testing.B) {
	fed := pkitest.NewFederation(b, "accord.test", "UA", "PL", "DE", "LT", "NL")
	for i := 0; i < 1000; i++ {
		fed.Revoke("PL", fed.User("PL", "u-"+itoa(i)))
	}
	bundle, err := trust.LoadBundle(fed.BundleFile)
	if err != nil {
		b.Fatal(err)
	}
	crls, problems, err := trust.LoadCRLDir(fed.CRLDir)
	if err != nil {
		b.Fatal(err)
	}
	if len(problems) > 0 {
		b.Fatal(problems)
	}
	v, err := trust.NewVerifier(bundle, crls, nil)
	if err != nil {
		b.Fatal(err)
	}
	chain := []*x509.Certificate{pkitest.Certificate(b, fed.Node("PL", "pl-1"))}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify(chain, x509.ExtKeyUsageClientAuth); err != nil {
			b.Fatal(err)
		}
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
