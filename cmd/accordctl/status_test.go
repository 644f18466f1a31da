package main

import (
	"encoding/json"
	"testing"
)

// TestStatusOneScreen: `accordctl status` names the node, its certificate,
// the registry and the peers; -o json carries the same.
func TestStatusOneScreen(t *testing.T) {
	fed := startRegistryFederation(t, "UA", "PL")
	pl := fed["PL"]
	out := pl.must(t, "status")
	wantIn(t, "status", out, "spiffe://accord.test/member/PL/node/pl-1 (member PL)", "certificate:  expires",
		"registry:", "leader", "2 voters", "store:", "MiB", "peers:", "UA", "matches:      none waiting")

	var st struct {
		Node         string         `json:"node"`
		Member       string         `json:"member"`
		CertNotAfter string         `json:"cert_not_after"`
		Registry     map[string]any `json:"registry"`
		Federation   map[string]any `json:"federation"`
		Pending      []string       `json:"matches_pending"`
	}
	js := pl.must(t, "status", "-o", "json")
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		t.Fatalf("%v:\n%s", err, js)
	}
	if st.Member != "PL" || st.CertNotAfter == "" || st.Registry["leader_id"] == "" || st.Federation == nil || st.Pending == nil {
		t.Fatalf("status json: %s", js)
	}
}
