package daemon_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/accordfed/accord/federation/persontoken"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/audit"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/daemon/daemontest"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// auditOf returns the entries of a node's audit log of kind (the chain
// verified).
func auditOf(t *testing.T, cfg config.Config, kind audit.Kind) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	for _, e := range auditEntries(t, filepath.Join(cfg.DataDir, audit.FileName)) {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// TestPersonRegisterAcrossDaemons: PL's analyst asks whether other
// members' cases hold a person; UA's node evaluates the blinded name
// without learning it, PL compares with the tokens UA shared, and UA
// learns that PL's analyst asked, never whom nor whether its cases
// answered. Every step is in both audit logs, no name in either, and the
// budgets hold.
func TestPersonRegisterAcrossDaemons(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE")
	started, _ := daemontest.StartFederationConfigured(t, fed, nil, func(member string, cfg *config.Config) {
		switch member {
		case "UA":
			cfg.Persons.LookupPerUser = 9 // three lookups with a year
		case "PL":
			cfg.Persons.LookupsPerUser = 5
		}
	}, "UA", "PL", "DE")
	ua, pl := started[0], started[1]
	actor := sealerFor(t, "UA")
	for _, c := range []*accordv1.Case{
		exCase("UA-2022-000101", accordv1.Sensitivity_SENSITIVITY_FEDERATION, "Olena Kovalenko"),
		exCase("UA-2022-000102", accordv1.Sensitivity_SENSITIVITY_FEDERATION, "Taras Shevchenko"),
		exCase("UA-2022-000103", accordv1.Sensitivity_SENSITIVITY_NATIONAL, "Halyna Pavlenko"),
	} {
		if _, err := ua.D.Store().CreateCase(c, actor); err != nil {
			t.Fatal(err)
		}
	}
	waitIndex(t, pl.D.Store(), "UA", has("UA-2022-000101", "UA-2022-000102"))
	lookupAs := func(user string) func(name string, year int32) (*accordv1.LookupPersonResponse, error) {
		c := daemontest.PersonLookup(t, pl.D, fed.User("PL", user), "PL")
		return func(name string, year int32) (*accordv1.LookupPersonResponse, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			return c.LookupPerson(ctx, &accordv1.LookupPersonRequest{Name: name, BirthYear: year})
		}
	}
	// UA's key reaches the registry once its node has registered it;
	// until then UA answers "no_key". A probing user waits for it (with
	// a lookup of its own, counted for that user only).
	probe := lookupAs("probe")
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		r, err := probe("Taras Shevchenko", 0)
		if err != nil {
			return err
		}
		if len(r.GetHits()) == 0 {
			return status.Errorf(codes.NotFound, "no hit yet: %v", r.GetMembers())
		}
		return nil
	})

	// The Cyrillic spelling PL's analyst writes finds UA's case with the
	// same year.
	ask := lookupAs("analyst")
	resp, err := ask("Олена Коваленко", 1981)
	if err != nil {
		t.Fatal(err)
	}
	if h := resp.GetHits(); len(h) != 1 || h[0].GetMember() != "UA" || h[0].GetCaseId() != "UA-2022-000101" ||
		h[0].GetSimilarity() != accordv1.PersonSimilarity_PERSON_SIMILARITY_NAME_AND_YEAR || h[0].GetRole() != accordv1.PersonRole_PERSON_ROLE_VICTIM {
		t.Fatalf("hits %v", resp.GetHits())
	}
	members := map[string]string{}
	for _, m := range resp.GetMembers() {
		members[m.GetMember()] = m.GetStatus()
	}
	if members["UA"] != "answered" || members["DE"] != "answered" {
		t.Fatalf("members %v", resp.GetMembers())
	}
	// A national case never answers; a birth year nine years apart does
	// not either.
	for _, q := range []struct {
		name string
		year int32
	}{{"Halyna Pavlenko", 1981}, {"Olena Kovalenko", 1990}} {
		r, err := ask(q.name, q.year)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.GetHits()) != 0 {
			t.Fatalf("%s %d: hits %v", q.name, q.year, r.GetHits())
		}
	}
	// UA's budget for PL's analyst (nine evaluations: three lookups with
	// a year) is spent: UA refuses, and PL's answer says so.
	r, err := ask("Olena Kovalenko", 1981)
	if err != nil {
		t.Fatal(err)
	}
	refused := false
	for _, m := range r.GetMembers() {
		if m.GetMember() == "UA" {
			refused = m.GetStatus() == "refused" && strings.Contains(m.GetDetail(), "budget")
		}
	}
	if !refused || len(r.GetHits()) != 0 {
		t.Fatalf("fourth lookup: UA not refused (%v, hits %v)", r.GetMembers(), r.GetHits())
	}
	// PL's own limit: five lookups per user.
	if _, err := ask("Olena Kovalenko", 1981); err != nil {
		t.Fatalf("fifth lookup: %v", err)
	}
	if _, err := ask("Olena Kovalenko", 1981); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("sixth lookup: %v, want RESOURCE_EXHAUSTED", err)
	}
	// Bad input names the field and changes nothing.
	other := daemontest.PersonLookup(t, pl.D, fed.User("PL", "prosecutor"), "PL")
	for _, bad := range []struct {
		req   *accordv1.LookupPersonRequest
		field string
	}{
		{&accordv1.LookupPersonRequest{Name: "12 -- 34"}, "name"},
		{&accordv1.LookupPersonRequest{Name: "Olena", BirthYear: 1700}, "birth_year"},
		{&accordv1.LookupPersonRequest{Name: "Olena", Members: []string{"PL"}}, "members[0]"},
		{&accordv1.LookupPersonRequest{Name: "Olena", Roles: []accordv1.PersonRole{99}}, "roles[0]"},
	} {
		_, err := other.LookupPerson(context.Background(), bad.req)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), bad.field) {
			t.Errorf("%v: %v, want INVALID_ARGUMENT naming %s", bad.req, err, bad.field)
		}
	}

	// Both audit logs: PL's says who looked up and what answered; UA's
	// says that PL's analyst had persons evaluated, where it answered, and
	// that the budget refused the rest. Neither holds a name.
	lookups := auditOf(t, pl.Cfg, audit.KindLookup)
	found := false
	for _, e := range lookups {
		if e.What.Cursor == resp.GetLookupId() && e.PeerID == "spiffe://accord.test/member/PL/user/analyst" &&
			len(e.What.CaseIDs) == 1 && e.What.CaseIDs[0] == "UA-2022-000101" {
			found = true
		}
	}
	if !found {
		t.Errorf("PL's audit log lacks the lookup %s: %v", resp.GetLookupId(), lookups)
	}
	evaluated, budget := 0, 0
	for _, e := range auditOf(t, ua.Cfg, audit.KindEvaluated) {
		if e.What.Reason == "lookup" && e.PeerID == "spiffe://accord.test/member/PL/user/analyst" {
			evaluated += e.What.Records
		}
		if e.What.Reason == "budget_exhausted" {
			budget++
		}
	}
	if evaluated == 0 || evaluated > 9 || budget == 0 {
		t.Errorf("UA's audit log: %d lookup evaluations for PL's analyst (budget 9), %d refusals", evaluated, budget)
	}
	// UA learns that PL's analyst asked (with the lookup id), never
	// whom, and never whether its cases answered: no entry names UA's
	// case.
	for _, e := range auditOf(t, ua.Cfg, audit.KindEvaluated) {
		if e.What.Cursor == resp.GetLookupId() && (e.PeerID != "spiffe://accord.test/member/PL/user/analyst" || len(e.What.CaseIDs) != 0) {
			t.Errorf("UA's audit entry of the lookup: %+v", e)
		}
	}
	for _, n := range []daemontest.Node{*ua, *pl} {
		data, err := os.ReadFile(filepath.Join(n.Cfg.DataDir, audit.FileName))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"Kovalenko", "Коваленко", "Olena", "Shevchenko"} {
			if bytes.Contains(data, []byte(name)) {
				t.Errorf("%s's audit log holds %q", n.Member, name)
			}
		}
	}
	// No person-token key is in the registry's log or PL's data: only
	// public keys are.
	secret, err := os.ReadFile(filepath.Join(ua.Cfg.DataDir, "person-token", "v1.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := filepath.WalkDir(pl.Cfg.DataDir, func(path string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, secret) {
			t.Errorf("PL's %s holds UA's person-token key", path)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestPersonKeysRotateWhenMemberLeaves: when DE leaves, UA's node rotates
// its person-token key at once and publishes every case again under the
// new one; PL re-evaluates and still finds UA's persons; DE can ask
// nothing any more, and what it holds matches nothing UA publishes now.
func TestPersonKeysRotateWhenMemberLeaves(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE")
	nodes, _ := startFederation(t, fed, "UA", "PL", "DE")
	ua, pl, de := nodes[0], nodes[1], nodes[2]
	c := exCase("UA-2022-000301", accordv1.Sensitivity_SENSITIVITY_FEDERATION, "Olena Kovalenko")
	c.Evidence = nil
	if _, err := ua.d.Store().CreateCase(c, store.Actor{ID: "spiffe://accord.test/member/UA/user/analyst"}); err != nil {
		t.Fatal(err)
	}
	keyVersion := func(n *regNode) int32 {
		r := fedIndex(t, n.d.Store(), "UA")["UA-2022-000301"]
		if r == nil || len(r.GetCase().GetPersons()) == 0 {
			return 0
		}
		return r.GetCase().GetPersons()[0].GetKeyVersion()
	}
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		if v := keyVersion(de); v != 1 {
			return fmt.Errorf("DE holds UA's case with key version %d", v)
		}
		return nil
	})
	old := fedIndex(t, de.d.Store(), "UA")["UA-2022-000301"].GetCase().GetPersons()[0].GetEncoding()

	mustExecute(t, de.admin, "de-leaves", registry.SuspendMember{Code: "DE", Reason: "leaves the federation"})
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		if v := keyVersion(pl); v != 2 {
			return fmt.Errorf("PL holds UA's case with key version %d", v)
		}
		return nil
	})
	if now := fedIndex(t, pl.d.Store(), "UA")["UA-2022-000301"].GetCase().GetPersons()[0].GetEncoding(); bytes.Equal(now, old) {
		t.Fatal("UA publishes the same tokens after the rotation")
	}
	lookup := daemontest.PersonLookup(t, pl.d, fed.User("PL", "analyst"), "PL")
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		r, err := lookup.LookupPerson(context.Background(), &accordv1.LookupPersonRequest{Name: "Олена Коваленко", BirthYear: 1981})
		if err != nil {
			return err
		}
		if len(r.GetHits()) != 1 {
			return fmt.Errorf("hits %v, members %v", r.GetHits(), r.GetMembers())
		}
		return nil
	})
	// DE's node is refused.
	deClient := accordv1.NewPersonTokenServiceClient(dialWith(t, ua.d.Addr(), honestCreds(t, fed.Node("DE", daemontest.NodeName("DE")), "UA")))
	_, err := deClient.EvaluatePersons(context.Background(), &accordv1.EvaluatePersonsRequest{KeyVersion: 2,
		Purpose: accordv1.EvaluationPurpose_EVALUATION_PURPOSE_MATCHING, Elements: [][]byte{make([]byte, 32)}})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("the departed member's node: %v, want PERMISSION_DENIED", err)
	}
}

// TestMatchOnPersonTokens: UA and PL record the same incident, each with
// the same victim in its own script; PL's matcher obtains the tokens of
// its victim under UA's key from UA's node, and the match decision gives
// the person as a reason, although neither node ever held the other's
// name or key.
func TestMatchOnPersonTokens(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	nodes, _ := startFederation(t, fed, "UA", "PL")
	ua, pl := nodes[0], nodes[1]
	year := int32(1978)
	mk := func(id, country, place, victim string) *accordv1.Case {
		return &accordv1.Case{
			CaseId: id, Country: country, Title: "Shelling", Sensitivity: accordv1.Sensitivity_SENSITIVITY_FEDERATION,
			CrimeCodes: []string{"RS-8.2.b.i"},
			Incidents:  []*accordv1.Incident{{Start: "2022-03-01T08:00:00+02:00", End: "2022-03-01T12:00:00+02:00", Place: place}},
			Persons:    []*accordv1.Person{{Role: accordv1.PersonRole_PERSON_ROLE_VICTIM, Name: victim, BirthYear: &year}},
		}
	}
	if _, err := ua.d.Store().CreateCase(mk("UA-2022-000401", "UA", "Харків", "Олена Коваленко"), sealerFor(t, "UA")); err != nil {
		t.Fatal(err)
	}
	// UA's record reaches PL with the pair tokens PL's node evaluated for
	// it (UA's node asked, PL counted and audited): what PL compares.
	raftnettest.WaitFor(t, 60*time.Second, func() error {
		for _, p := range fedIndex(t, pl.d.Store(), "UA")["UA-2022-000401"].GetCase().GetPersons() {
			if _, outer, pair := persontoken.SplitPairKeyID(p.GetKeyName()); pair && strings.HasPrefix(outer, "PL/") {
				return nil
			}
		}
		return fmt.Errorf("UA's case without pair tokens for PL yet")
	})
	if _, err := pl.d.Store().CreateCase(mk("PL-2022-000401", "PL", "Charków", "Olena Kowalenko"), sealerFor(t, "PL")); err != nil {
		t.Fatal(err)
	}
	raftnettest.WaitFor(t, 90*time.Second, func() error {
		ms := query[[]registry.MatchDecision](t, pl.user, "matches", "")
		if len(ms) == 0 {
			return fmt.Errorf("no match decision yet")
		}
		for _, r := range ms[0].Reasons {
			if strings.Contains(r, "person matches by name, same birth year") {
				return nil
			}
		}
		return fmt.Errorf("match %s without the person: %q", ms[0].ID, ms[0].Reasons)
	})
}

// TestFirstReleaseKeyDestroyed: a registry founded by the first release
// holds its shared person-encoding key; the owner's node of this build
// destroys its material, so that no snapshot taken after holds it.
func TestFirstReleaseKeyDestroyed(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	nodes, _ := startFederation(t, fed, "UA", "PL")
	ua, pl := nodes[0], nodes[1]
	mustExecute(t, ua.admin, "old-key", registry.CreateKey{Name: "person-encoding", Purpose: "first release"})
	raftnettest.WaitFor(t, 20*time.Second, func() error {
		for _, k := range query[[]registry.FederationKey](t, pl.user, "keys", "") {
			if k.Name != "person-encoding" {
				continue
			}
			for _, v := range k.Versions {
				if v.State != registry.KeyRetired {
					return fmt.Errorf("version %d is %s", v.Version, v.State)
				}
			}
			return nil
		}
		return fmt.Errorf("no person-encoding key")
	})
}

// waitPairTokens waits until holder's federation index holds origin's cases
// ids with the pair tokens of their persons for every member of for: the
// origin's node has obtained them and published the cases again, so that
// its feed is quiet after that (tests that count what a feed carries).
func waitPairTokens(t *testing.T, holder *regNode, origin string, ids []string, forMembers ...string) {
	t.Helper()
	raftnettest.WaitFor(t, 60*time.Second, func() error {
		idx := fedIndex(t, holder.d.Store(), origin)
		for _, id := range ids {
			r := idx[id]
			if r == nil {
				return fmt.Errorf("%s does not hold %s", holder.member, id)
			}
			for _, m := range forMembers {
				found := false
				for _, p := range r.GetCase().GetPersons() {
					if _, outer, pair := persontoken.SplitPairKeyID(p.GetKeyName()); pair && strings.HasPrefix(outer, m+"/") {
						found = true
					}
				}
				if !found {
					var names []string
					for _, p := range r.GetCase().GetPersons() {
						names = append(names, p.GetKeyName())
					}
					return fmt.Errorf("%s's %s without pair tokens for %s yet (has %v)", origin, id, m, names)
				}
			}
		}
		return nil
	})
}
