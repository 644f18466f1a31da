package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestMatchesCompareAndAnswerRule: on a running federation whose matcher
// proposed a match, `matches compare` shows both offices' cases side by
// side, and `matches answer-rule` answers it after a dry run.
func TestMatchesCompareAndAnswerRule(t *testing.T) {
	fed := startRegistryFederation(t, "UA", "PL")
	ua, pl := fed["UA"], fed["PL"]
	video := strings.Repeat("c3", 32)
	ua.must(t, "cases", "import", writeLines(t, "ua.jsonl", []string{
		`{"case_id":"UA-2022-000031","country":"UA","title":"Shelling of a residential block in Kharkiv","status":"investigation","sensitivity":"federation","crime_codes":["RS-8.2.b.i"],"incidents":[{"start":"2022-03-01T08:00:00+02:00","end":"2022-03-01T09:00:00+02:00","precision":"hour","place":"Kharkiv","region":"Kharkiv Oblast","lat":49.9935,"lon":36.2304}],"perpetrators":[{"kind":"unit","name":"64th Separate Motor Rifle Brigade"}],"persons":[{"role":"victim","name":"Olena Koval","birth_year":1978}],"victim_count":3,"evidence":[{"id":"UA-E1","sha256":"` + video + `","media_type":"video/mp4"}]}`,
	}))
	pl.must(t, "cases", "import", writeLines(t, "pl.jsonl", []string{
		`{"case_id":"PL-2022-000031","country":"PL","title":"Ostrzał osiedla w Charkowie","status":"investigation","sensitivity":"federation","crime_codes":["RS-8.2.b.i","PL-CC-122"],"incidents":[{"start":"2022-03-01T06:10:00Z","end":"2022-03-01T07:00:00Z","precision":"hour","place":"Charków","region":"obwód charkowski","lat":49.9951,"lon":36.2288}],"perpetrators":[{"kind":"unit","name":"64 OMSBr"}],"victim_count":3,"evidence":[{"id":"PL-E1","sha256":"` + video + `","media_type":"video/mp4"}]}`,
	}))
	var id string
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		var r accordv1.ListMatchDecisionsResponse
		ctlJSON(t, ua, &r, "matches", "queue")
		if len(r.GetMatchDecisions()) != 1 {
			return fmt.Errorf("UA's queue holds %d decisions", len(r.GetMatchDecisions()))
		}
		id = shortID(r.GetMatchDecisions()[0].GetName())
		return nil
	})
	var out string
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		var err error
		if out, err = ua.ctl(t, "matches", "compare", id); err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		if !strings.Contains(out, "score now:") {
			return fmt.Errorf("not scored yet:\n%s", out)
		}
		return nil
	})
	wantIn(t, "matches compare", out, "PL/PL-2022-000031", "UA/UA-2022-000031", "Charków, obwód charkowski", "Kharkiv, Kharkiv Oblast",
		"2022-03-01T06:10:00Z", "2022-03-01T08:00:00+02:00", "starts -10m0s apart", "the pair the score compares",
		"= RS-8.2.b.i; only: PL-CC-122", "1 in common", "same evidence item: sha256 "+video, "1 victim", "none shared; not compared by token", "COMPARISON", "evidence",
		"units             = 64 OMSBr", "= 64th Separate Motor Rifle Brigade")
	if !regexp.MustCompile(`0\.\d km apart`).MatchString(out) {
		t.Errorf("no distance under 1 km:\n%s", out)
	}
	if strings.Contains(out, "Olena") || strings.Contains(out, "Koval") {
		t.Errorf("compare prints a person's name:\n%s", out)
	}
	var cmp accordv1.CompareMatchDecisionResponse
	ctlJSON(t, ua, &cmp, "matches", "compare", id)
	if len(cmp.GetPairs()) != 1 || len(cmp.GetCases()) != 2 || cmp.GetCases()[1].GetShared().GetPersons() != nil {
		t.Errorf("json: %v", &cmp)
	}
	_, err := ua.ctl(t, "matches", "compare", "match-999999")
	wantExit(t, err, 1, "match-999999")

	// Answers by rule: a dry run that changes nothing, then --apply
	// with its token.
	out = ua.must(t, "matches", "answer-rule", "--answer", "yes", "--min-score", "0.5", "--shared-evidence", "1")
	wantIn(t, "answer-rule dry run", out, id, "LOCAL", "PL/PL-2022-000031", "dry run: nothing answered", "--apply --selection sel1.")
	token := regexp.MustCompile(`--selection (sel1\.[0-9a-f]+)`).FindStringSubmatch(out)
	if token == nil {
		t.Fatalf("no selection token:\n%s", out)
	}
	wantIn(t, "still waiting", ua.must(t, "matches", "queue"), id)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--answer", "maybe"}, "--answer"}, {[]string{"--answer", "no"}, "--reason"}, {[]string{"--answer", "yes", "--apply"}, "--selection"},
		{[]string{"--answer", "yes", "--min-score", "2"}, "--min-score"}, {[]string{"--answer", "yes", "--shared-evidence", "-1"}, "--shared-evidence"},
		{[]string{"--answer", "yes", "--member", "pl"}, "--member"}, {[]string{"--answer", "yes", "--max-decisions", "9000"}, "--max-decisions"},
	} {
		_, err := ua.ctl(t, append([]string{"matches", "answer-rule"}, c.args...)...)
		wantExit(t, err, 1, c.want)
	}
	_, err = ua.ctl(t, "matches", "answer-rule", "--answer", "yes", "--apply", "--selection", "sel1.00")
	wantExit(t, err, 1, "expected_selection")
	out = ua.must(t, "matches", "answer-rule", "--answer", "yes", "--min-score", "0.5", "--shared-evidence", "1", "--apply", "--selection", token[1])
	wantIn(t, "answer-rule --apply", out, id, "answered yes: 1; failed: 0", "request id:")
	wantIn(t, "queue after", ua.must(t, "matches", "queue"), "(0 shown of 0)")
	wantIn(t, "PL sees UA's answer", pl.must(t, "matches", "show", id), "UA", "yes")
}
