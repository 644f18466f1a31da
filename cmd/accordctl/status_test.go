package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestStatusOneScreen: `accordctl status` names the node, its certificate,
// the registry and the peers; -o json carries the same.
func TestStatusOneScreen(t *testing.T) {
	fed := startRegistryFederation(t, "UA", "PL")
	pl := fed["PL"]
	// PL's puller takes UA as a peer once it has read UA's node from the
	// registry: the peers table lists it from then on.
	var out string
	for deadline := time.Now().Add(30 * time.Second); ; {
		out = pl.must(t, "status")
		if strings.Contains(out, "\n  UA ") || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // the poll's interval
	}
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

// TestStatusShowsTrustProblems: status names each CRL file the node cannot
// apply, why, and whether its last good version is kept, and a failed
// reload.
func TestStatusShowsTrustProblems(t *testing.T) {
	var out bytes.Buffer
	printStatus(&out, &nodeStatus{Federation: &accordv1.FederationStatusResponse{Trust: &accordv1.TrustStatus{
		CrlsApplied: 2, ReloadFailures: 1, LastReloadError: "invalid TLS configuration: bundle_file: invalid trust bundle",
		UnusableCrls: []*accordv1.RevocationFileProblem{
			{File: "junk.crl", Reason: "malformed", Error: "/crl/junk.crl: invalid certificate revocation list"},
			{File: "UA.crl", Reason: "unknown_issuer", Error: "signed by no CA", KeptLastGood: true},
		},
	}}})
	wantIn(t, "status", out.String(),
		"trust:        2 CRLs applied, 2 CRL files UNUSABLE; 1 failed reload since the node started; LAST RELOAD FAILED",
		`CRL file "junk.crl" unusable (malformed), nothing of it is applied: /crl/junk.crl: invalid`,
		`CRL file "UA.crl" unusable (unknown_issuer), its last good version is still applied`)
}
