package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/node/custody"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func TestPersonsLookupCommand(t *testing.T) {
	fed := startRegistryFederation(t, "UA", "PL")
	ua, pl := fed["UA"], fed["PL"]
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := custody.NewSealer(key, "spiffe://accord.test/member/UA/node/ua-1")
	if err != nil {
		t.Fatal(err)
	}
	actor := store.Actor{ID: "spiffe://accord.test/member/UA/user/analyst", Sealer: sealer}
	// fedTestCase's victim is Olena Kovalenko, without a birth year.
	if _, err := ua.d.Store().CreateCase(fedTestCase("UA-2022-000001", accordv1.Sensitivity_SENSITIVITY_FEDERATION, "Kharkiv", "RS-8.2.b.i", "2022-03-01T10:00:00+02:00"), actor); err != nil {
		t.Fatal(err)
	}
	lookup := func(stdin string, args ...string) (string, error) {
		return (&localEnv{addr: pl.d.LocalAddr()}).ctl(t, pl.analyst, strings.NewReader(stdin), append([]string{"persons", "lookup"}, args...)...)
	}
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		if ids, _ := fedCases(t, pl); len(ids) != 1 {
			return fmt.Errorf("PL holds %v", ids)
		}
		return nil
	})
	// The name on standard input, in Cyrillic.
	var out string
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		var err error
		out, err = lookup("Олена Коваленко\n", "--birth-year", "1978")
		if err != nil {
			return err
		}

		if !strings.Contains(out, "UA-2022-000001") {
			return fmt.Errorf("no hit yet:\n%s", out)
		}
		return nil
	})
	if !regexp.MustCompile(`(?m)^UA\s+UA-2022-000001\s+victim\s+name\s*$`).MatchString(out) || !regexp.MustCompile(`(?m)^UA\s+answered\s+1\s`).MatchString(out) {
		t.Errorf("lookup output:\n%s", out)
	}
	if strings.Contains(out, "Kovalenko") || strings.Contains(out, "Коваленко") {
		t.Errorf("the output repeats the name:\n%s", out)
	}
	// JSON, --name, --member, --role.
	out, err = lookup("", "--name", "Olena Kovalenko", "--member", "UA", "--role", "witness", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Hits     []any `json:"hits"`
		LookupID string
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil || len(resp.Hits) != 0 {
		t.Fatalf("witness lookup: %v\n%s", err, out)
	}
	// Bad input is refused before anything is sent.
	for _, bad := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", nil, "no name"},
		{"Olena\n", []string{"--role", "bystander"}, "--role"},
		{"Olena\n", []string{"--member", "ua"}, "--member"},
		{"Olena\n", []string{"--birth-year", "1700"}, "birth_year"},
	} {
		_, err := lookup(bad.stdin, bad.args...)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: %v, want an error naming %s", bad.args, err, bad.want)
		}
	}
}
