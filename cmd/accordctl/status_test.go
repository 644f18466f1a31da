package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/federation/raftnet/raftnettest"
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
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		if out = pl.must(t, "status"); !strings.Contains(out, "\n  UA ") {
			return errors.New("PL's status lists no peer UA yet")
		}
		return nil
	})
	wantIn(t, "status", out, "spiffe://accord.test/member/PL/node/pl-1 (member PL)", "certificate:  expires",
		"registry:", "leader", "2 voters", "store:", "MiB", "peers:", "UA", "matches waiting for this office: none", "team invitations waiting for this office: none")

	var st struct {
		Node         string         `json:"node"`
		Member       string         `json:"member"`
		CertNotAfter string         `json:"cert_not_after"`
		Registry     map[string]any `json:"registry"`
		Federation   map[string]any `json:"federation"`
		Waiting      *waitingCounts `json:"waiting"`
	}
	js := pl.must(t, "status", "-o", "json")
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		t.Fatalf("%v:\n%s", err, js)
	}
	if st.Member != "PL" || st.CertNotAfter == "" || st.Registry["leader_id"] == "" || st.Federation == nil || st.Waiting == nil {
		t.Fatalf("status json: %s", js)
	}
}

// TestStatusCountsWaiting: status gives counts of what waits for this
// office and the command that lists it, not every id.
func TestStatusCountsWaiting(t *testing.T) {
	var out bytes.Buffer
	printWaiting(&out, &nodeStatus{Waiting: &waitingCounts{Matches: 1270, JitInvitations: 1}})
	wantIn(t, "status", out.String(),
		"matches waiting for this office: 1,270 (accordctl matches list --awaiting)",
		"lead proposals waiting for this office: none",
		"team invitations waiting for this office: 1 (accordctl jit list --mine invited)")
	out.Reset()
	printWaiting(&out, &nodeStatus{WaitingError: "rpc error: code = Unavailable"})
	wantIn(t, "status", out.String(), "waiting:      unavailable: rpc error")
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

// TestStatusTellsIdleFromStuck: the peers table shows when each member's
// node was last heard (heartbeats) apart from when it last sent a change,
// so that a healthy idle peer reads "yes ... up to date" with an old last
// change, and a frozen one "NO" with its lag unknown.
func TestStatusTellsIdleFromStuck(t *testing.T) {
	now := time.Now()
	ts := func(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(now.Add(-d)) }
	var out bytes.Buffer
	printStatus(&out, &nodeStatus{Federation: &accordv1.FederationStatusResponse{Peers: []*accordv1.PeerSyncStatus{
		{Member: "DE", Node: "spiffe://accord.test/member/DE/node/de-1", Connected: true, Answering: true,
			LastHeard: ts(2 * time.Second), LastSync: ts(4 * time.Minute), CaughtUp: ts(2 * time.Second), RecordsHeld: 30},
		{Member: "LT", Node: "spiffe://accord.test/member/LT/node/lt-1", Connected: true, Answering: true,
			LastHeard: ts(time.Second), LastSync: ts(time.Second), LagRecords: 120, LagSeconds: 75, RecordsHeld: 10},
		{Member: "PL", Node: "spiffe://accord.test/member/PL/node/pl-1", Connected: true,
			LastHeard: ts(34 * time.Second), LastSync: ts(5 * time.Minute), CaughtUp: ts(34 * time.Second), LagSeconds: 34, RecordsHeld: 20,
			LastError: "peer not answering: PL sent nothing, not even a heartbeat, for over 10s"},
	}}})
	s := out.String()
	wantIn(t, "status", s, "ANSWERING", "LAST HEARD", "SYNC", "LAST CHANGE")
	for _, re := range []string{
		`(?m)^  DE\s+yes\s+2s ago\s+up to date\s+4m0s ago\s+30\s`,
		`(?m)^  LT\s+yes\s+1s ago\s+behind 120 for 1m15s\s+1s ago\s+10\s`,
		`(?m)^  PL\s+NO\s+34s ago\s+unknown, up to date 34s ago\s+5m0s ago\s+20\s+0\s+peer not answering`,
	} {
		if !regexp.MustCompile(re).MatchString(s) {
			t.Errorf("no line matches %s:\n%s", re, s)
		}
	}
	if strings.Contains(s, "REACHABLE") || strings.Contains(s, "LAST SYNC") {
		t.Errorf("old columns:\n%s", s)
	}
}
