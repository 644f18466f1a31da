package registry

import (
	"encoding/base64"
	"testing"

	"github.com/accordfed/accord/federation/persontoken"
)

func TestPersonKeys(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL")
	k, err := persontoken.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := base64.StdEncoding.EncodeToString(k.Public())
	m := h.member("UA")
	update := func(keys ...PersonKey) UpdateMember {
		return UpdateMember{Code: "UA", Name: m.Name, CACerts: m.CACerts, SigningKeys: m.SigningKeys, PersonKeys: keys}
	}
	h.ok("UA", update(PersonKey{Node: "ua-1", Version: 1, PublicKey: pub}))
	if got := h.member("UA").PersonKeys; len(got) != 1 || got[0].PublicKey != pub || got[0].Version != 1 {
		t.Fatalf("person keys %+v", got)
	}
	before := h.member("UA")
	for name, bad := range map[string]PersonKey{
		"not a point":   {Node: "ua-1", Version: 2, PublicKey: base64.StdEncoding.EncodeToString(make([]byte, 31))},
		"not base64":    {Node: "ua-1", Version: 2, PublicKey: "%%%"},
		"version 0":     {Node: "ua-1", Version: 0, PublicKey: pub},
		"bad node name": {Node: "UA 1", Version: 2, PublicKey: pub},
	} {
		t.Run(name, func(t *testing.T) {
			h.refuse("UA", update(bad), ErrInvalidArgument)
		})
	}
	h.refuse("UA", update(PersonKey{Node: "ua-1", Version: 1, PublicKey: pub}, PersonKey{Node: "ua-1", Version: 1, PublicKey: pub}), ErrInvalidArgument)
	if got := h.member("UA"); len(got.PersonKeys) != len(before.PersonKeys) || got.PersonKeys[0] != before.PersonKeys[0] {
		t.Fatal("a refused update changed the person keys")
	}
	// Another member cannot publish a key in UA's name.
	h.refuse("PL", update(PersonKey{Node: "ua-2", Version: 1, PublicKey: pub}), ErrPermissionDenied)
}
