package daemon_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/persons"
	"github.com/accordfed/accord/federation/persontoken"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/node/audit"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/daemon/daemontest"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestAttackPersonBudget is the online budget attack: PL's node, with its
// own certificate, spends all that UA grants it on dictionary guesses at
// UA's persons. It cannot compute a token offline (federation/persontoken
// attack tests), so each guess costs evaluations by UA: the guesses it can
// test are bounded by the budget, every one is in UA's audit log, and the
// rest are refused.
func TestAttackPersonBudget(t *testing.T) {
	const floor = 60 // evaluations per window: 30 guesses without a year
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	started, _ := daemontest.StartFederationConfigured(t, fed, nil, func(member string, cfg *config.Config) {
		if member == "UA" {
			cfg.Persons.MatchingFloor = floor
			cfg.Persons.MatchingPerPerson = 1
		}
	}, "UA", "PL")
	ua, pl := started[0], started[1]
	victims := []string{"Olena Kovalenko", "Taras Shevchenko", "Halyna Pavlenko", "Mykola Bondarenko", "Iryna Tkachenko"}
	for i, v := range victims {
		c := exCase(fmt.Sprintf("UA-2022-%06d", 200+i), accordv1.Sensitivity_SENSITIVITY_FEDERATION, v)
		c.Evidence = nil
		if _, err := ua.D.Store().CreateCase(c, store.Actor{ID: "spiffe://accord.test/member/UA/user/analyst"}); err != nil {
			t.Fatal(err)
		}
	}
	waitIndex(t, pl.D.Store(), "UA", has("UA-2022-000200", "UA-2022-000204"))
	// What PL received: UA's tokens.
	var published []persontoken.Tokens
	for _, r := range fedIndex(t, pl.D.Store(), "UA") {
		for _, p := range r.GetCase().GetPersons() {
			if p.GetKeyVersion() == 0 {
				continue // a pair token, F_PL(F_UA(·)): as hard to guess, PL needs UA's key for the inner part
			}
			tok, err := persontoken.Unmarshal(persontoken.KeyID(p.GetKeyName(), int(p.GetKeyVersion())), p.GetEncoding())
			if err != nil {
				t.Fatal(err)
			}
			published = append(published, tok)
		}
	}
	if len(published) != len(victims) {
		t.Fatalf("PL holds %d of UA's person tokens", len(published))
	}
	// UA's public key, as the registry lists it (PL reads its own copy).
	ring, err := persons.OpenKeyRing(ua.Cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	version, key := ring.Current()
	keyID := persontoken.KeyID("UA/"+daemontest.NodeName("UA"), version)

	client := accordv1.NewPersonTokenServiceClient(dialWith(t, ua.D.Addr(), honestCreds(t, fed.Node("PL", daemontest.NodeName("PL")), "UA")))
	// The dictionary: UA's victims hidden among 200 other names.
	var guesses []string
	for i := range 200 {
		guesses = append(guesses, fmt.Sprintf("%s %s", []string{"Oksana", "Petro", "Andrii", "Natalia"}[i%4], []string{"Melnyk", "Shevchuk", "Boyko", "Kravchenko", "Oliinyk"}[i%5]+fmt.Sprint(i)))
	}
	for i, v := range victims {
		guesses[40*i+9] = v // spread through the list: one among the first 30
	}
	granted, reidentified, refusals := 0, 0, 0
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for start := 0; start < len(guesses); start += 5 {
		var ins []persontoken.Input
		for _, g := range guesses[start : start+5] {
			in, err := persontoken.Inputs(persontoken.Person{Name: g})
			if err != nil {
				t.Fatal(err)
			}
			ins = append(ins, in)
		}
		req, err := persontoken.NewRequest(keyID, key.Public(), ins)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.EvaluatePersons(ctx, &accordv1.EvaluatePersonsRequest{KeyVersion: int32(version),
			Purpose: accordv1.EvaluationPurpose_EVALUATION_PURPOSE_MATCHING, Elements: req.Elements})
		if status.Code(err) == codes.ResourceExhausted {
			refusals++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		granted += len(req.Elements)
		toks, err := req.Finish(resp.GetElements(), resp.GetProof())
		if err != nil {
			t.Fatal(err)
		}
		for i := range toks {
			for j := range published {
				if persontoken.Compare(&toks[i], &published[j]).Name {
					reidentified++
				}
			}
		}
	}
	t.Logf("budget attack: %d guesses tried, %d evaluations granted (budget %d), %d requests refused, %d of UA's %d persons confirmed",
		len(guesses), granted, floor, refusals, reidentified, len(victims))
	if granted > floor || refusals == 0 {
		t.Fatalf("UA granted %d evaluations (budget %d) and refused %d requests", granted, floor, refusals)
	}
	// Within the budget the guesses work (the one victim among the first
	// 30 names is confirmed); beyond it none does.
	if reidentified != 1 {
		t.Fatalf("PL confirmed %d persons with %d evaluations, want exactly the one within its budget", reidentified, granted)
	}
	// Every granted evaluation and every refusal is in UA's audit log.
	raftnettest.WaitFor(t, 5*time.Second, func() error {
		evaluated, refused := 0, 0
		for _, e := range auditOf(t, ua.Cfg, audit.KindEvaluated) {
			if e.Peer != "PL" {
				continue
			}
			switch e.What.Reason {
			case "matching":
				evaluated += e.What.Records
			case "budget_exhausted":
				refused++
			}
		}
		if evaluated < granted || refused < refusals {
			return fmt.Errorf("UA's audit log: %d of PL's evaluations, %d refusals (want %d, %d)", evaluated, refused, granted, refusals)
		}
		return nil
	})
	// A key version UA does not hold is not found.
	req, _ := persontoken.NewRequest(keyID, key.Public(), []persontoken.Input{mustInputs(t, "Olena Kovalenko")})
	if _, err := client.EvaluatePersons(ctx, &accordv1.EvaluatePersonsRequest{KeyVersion: int32(version + 7),
		Purpose: accordv1.EvaluationPurpose_EVALUATION_PURPOSE_MATCHING, Elements: req.Elements}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown key version: %v", err)
	}
	// A user certificate of PL is no node: refused before any handler.
	userClient := accordv1.NewPersonTokenServiceClient(dialWith(t, ua.D.Addr(), honestCreds(t, fed.User("PL", "analyst"), "UA")))
	if _, err := userClient.EvaluatePersons(ctx, &accordv1.EvaluatePersonsRequest{KeyVersion: int32(version),
		Purpose: accordv1.EvaluationPurpose_EVALUATION_PURPOSE_MATCHING, Elements: req.Elements}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a user of PL: %v", err)
	}
}

func mustInputs(t *testing.T, name string) persontoken.Input {
	t.Helper()
	in, err := persontoken.Inputs(persontoken.Person{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return in
}
