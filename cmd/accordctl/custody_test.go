package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func TestCustodyAddShowVerify(t *testing.T) {
	e := startLocalNode(t)
	e.must(t, "cases", "create", writeLines(t, "case.json", smallCases[:1]))
	file, _ := writeFile(t, t.TempDir(), "photo.jpg", []byte("\xff\xd8\xff\xe0 not really a photo"))
	id, _ := addEvidence(t, e, file)

	out := e.must(t, "custody", "add", id, "--action", "transferred", "--details", "to the forensic lab, Kyiv")
	if !strings.HasPrefix(out, "event 2 (transferred) added to the custody chain of "+id) {
		t.Errorf("custody add said %q", out)
	}
	e.must(t, "custody", "add", id, "--action", "Analysed")

	out = e.must(t, "custody", "show", id)
	for _, want := range []string{
		"custody chain of " + id + " (3 events)",
		"registered", "transferred", "analysed", "to the forensic lab, Kyiv",
		"spiffe://accord.test/member/UA/user/u-1",
		"seals (", "spiffe://accord.test/member/UA/node/ua-1", "sha256:",
		"verified: 1 chain, 3 events: OK, no break",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("custody show lacks %q:\n%s", want, out)
		}
	}
	var shown struct {
		Events []struct {
			Seq    string `json:"seq"`
			Action string `json:"action"`
		}
		Seals  []json.RawMessage
		Verify struct {
			Chains, Events string
		}
	}
	out = e.must(t, "custody", "show", id, "-o", "json")
	if err := json.Unmarshal([]byte(out), &shown); err != nil || len(shown.Events) != 3 || shown.Events[2].Action != "CUSTODY_ACTION_ANALYSED" ||
		len(shown.Seals) == 0 || shown.Verify.Events != "3" {
		t.Errorf("custody show -o json: %v %+v\n%s", err, shown, out)
	}

	out = e.must(t, "custody", "verify", id)
	if !strings.Contains(out, "verified: 1 chain, 3 events: OK, no break") {
		t.Errorf("custody verify said:\n%s", out)
	}
	// Every chain: the item's, and the one the case's own evidence
	// reference opened when the case was created.
	out = e.must(t, "custody", "verify")
	if !strings.Contains(out, "OK, no break") {
		t.Errorf("custody verify (all) said:\n%s", out)
	}

	_, err := e.ctl(t, e.analyst, nil, "custody", "add", id, "--action", "registered")
	wantExit(t, err, 1, "--action", "transferred, accessed, analysed, sealed, released")
	_, err = e.ctl(t, e.analyst, nil, "custody", "add", id)
	wantExit(t, err, 1, "--action: required")
	_, err = e.ctl(t, e.analyst, nil, "custody", "show", "UA-2099-000001-E001")
	wantExit(t, err, 1, "NotFound")
}

func TestCustodyVerifyReportsBreaks(t *testing.T) {
	v := &accordv1.VerifyCustodyResponse{Chains: 12, Events: 40, Breaks: []*accordv1.CustodyBreak{
		{EvidenceId: "UA-2022-000001-E002", Seq: 3, Reason: "hash does not match the event's content"},
	}}
	var buf bytes.Buffer
	printVerify(&buf, v)
	want := "verified: 12 chains, 40 events: 1 BROKEN\nUA-2022-000001-E002: broken at event 3: hash does not match the event's content\n"
	if buf.String() != want {
		t.Errorf("printVerify:\n%s\nwant\n%s", buf.String(), want)
	}
	wantExit(t, custodyOutcome(v), 2, "1 of 12 custody chains broken")
	if err := custodyOutcome(&accordv1.VerifyCustodyResponse{Chains: 3}); err != nil {
		t.Errorf("no break: %v", err)
	}
}
