package identity

import (
	"context"
	"crypto/x509"
	"errors"
	"net/url"
	"testing"
)

func TestParseRoundTrip(t *testing.T) {
	for _, s := range []string{
		"spiffe://accord.test/member/UA/node/ua-1",
		"spiffe://accord.example/member/ICC/user/u-1042",
		"spiffe://a.b-c.d/member/PL/node/pl.node_2",
	} {
		id, err := Parse(s)
		if err != nil {
			t.Errorf("Parse(%q): %v", s, err)
			continue
		}
		if id.String() != s {
			t.Errorf("round trip %q -> %q", s, id.String())
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, s := range []string{
		"https://accord.test/member/UA/node/ua-1",      // scheme
		"spiffe://accord.test/member/UA/node",          // too short
		"spiffe://accord.test/member/UA/node/ua-1/x",   // too long
		"spiffe://accord.test/members/UA/node/ua-1",    // wrong root
		"spiffe://accord.test/member/ua/node/ua-1",     // lower-case member
		"spiffe://accord.test/member/U/node/ua-1",      // one letter
		"spiffe://accord.test/member/UA/robot/ua-1",    // unknown kind
		"spiffe://accord.test/member/UA/node/UA-1",     // upper-case name
		"spiffe://Accord.Test/member/UA/node/ua-1",     // upper-case federation
		"spiffe://accord.test:443/member/UA/node/ua-1", // port
		"spiffe://accord.test/member/UA/node/ua-1?x=1", // query
		"spiffe://user@accord.test/member/UA/node/ua-1",
		"spiffe://accord.test/member/UA/node/ua-1#frag",
	} {
		if _, err := Parse(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid", s, err)
		}
	}
}

func TestFromCertificateNeedsExactlyOneURI(t *testing.T) {
	u, _ := url.Parse("spiffe://accord.test/member/UA/node/ua-1")
	if _, err := FromCertificate(&x509.Certificate{}); !errors.Is(err, ErrURISANCount) {
		t.Errorf("no URI: %v", err)
	}
	if _, err := FromCertificate(&x509.Certificate{URIs: []*url.URL{u, u}}); !errors.Is(err, ErrURISANCount) {
		t.Errorf("two URIs: %v", err)
	}
	id, err := FromCertificate(&x509.Certificate{URIs: []*url.URL{u}})
	if err != nil || id.Member != "UA" || id.Kind != KindNode || id.Name != "ua-1" {
		t.Errorf("one URI: %+v %v", id, err)
	}
}

func TestContext(t *testing.T) {
	if _, err := FromContext(context.Background()); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("empty context: %v", err)
	}
	want := Identity{Federation: "accord.test", Member: "UA", Kind: KindNode, Name: "ua-1"}
	got, err := FromContext(NewContext(context.Background(), want))
	if err != nil || got != want {
		t.Errorf("FromContext = %+v, %v", got, err)
	}
	if _, _, err := FromPeer(context.Background()); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("FromPeer without a peer: %v", err)
	}
}
