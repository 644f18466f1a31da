package daemon_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/audit"
	"github.com/accordfed/accord/node/custody"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func exCase(id string, sens accordv1.Sensitivity, victim string) *accordv1.Case {
	year := int32(1981)
	return &accordv1.Case{
		CaseId: id, Country: "UA", Title: "Shelling of a residential block; " + victim + " wounded", Sensitivity: sens,
		Status:     accordv1.CaseStatus_CASE_STATUS_INVESTIGATION,
		CrimeCodes: []string{"RS-8.2.b.i"},
		Incidents:  []*accordv1.Incident{{Start: "2022-03-01T10:00:00+02:00", End: "2022-03-01T11:00:00+02:00", Place: "Kharkiv", Region: "Kharkiv Oblast"}},
		Persons:    []*accordv1.Person{{Role: accordv1.PersonRole_PERSON_ROLE_VICTIM, Name: victim, BirthYear: &year}},
		Evidence:   []*accordv1.EvidenceRef{{Id: id + "-E1", Sha256: fmt.Sprintf("%064x", len(id)), MediaType: "video/mp4"}},
	}
}

// fedIndex returns the case ids (and records) a node holds of origin.
func fedIndex(t *testing.T, st *store.Store, origin string) map[string]*accordv1.FeedRecord {
	t.Helper()
	out := map[string]*accordv1.FeedRecord{}
	err := st.FedScan(origin, func(_, caseID string, _ uint64, rec []byte) error {
		var sr accordv1.SignedRecord
		if err := proto.Unmarshal(rec, &sr); err != nil {
			return err
		}
		var r accordv1.FeedRecord
		if err := proto.Unmarshal(sr.GetRecord(), &r); err != nil {
			return err
		}
		out[caseID] = &r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func waitIndex(t *testing.T, st *store.Store, origin string, want func(map[string]*accordv1.FeedRecord) error) {
	t.Helper()
	start := time.Now()
	raftnettest.WaitFor(t, 20*time.Second, func() error { return want(fedIndex(t, st, origin)) })
	t.Logf("index of %s reached the wanted state in %s", origin, time.Since(start).Round(time.Millisecond))
}

func has(ids ...string) func(map[string]*accordv1.FeedRecord) error {
	return func(m map[string]*accordv1.FeedRecord) error {
		for _, id := range ids {
			if _, ok := m[id]; !ok {
				return fmt.Errorf("%s missing (have %d)", id, len(m))
			}
		}
		return nil
	}
}

func lacks(ids ...string) func(map[string]*accordv1.FeedRecord) error {
	return func(m map[string]*accordv1.FeedRecord) error {
		for _, id := range ids {
			if _, ok := m[id]; ok {
				return fmt.Errorf("%s still held", id)
			}
		}
		return nil
	}
}

// TestExchangeAcrossDaemons: UA's cases reach PL and DE signed, without
// names; national cases never leave; a deletion arrives as a tombstone; a
// jit case reaches only the members of a JIT that lists it, and leaves a
// member that leaves the JIT; everything is audited.
func TestExchangeAcrossDaemons(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE")
	nodes, _ := startFederation(t, fed, "UA", "PL", "DE")
	ua, pl, de := nodes[0], nodes[1], nodes[2]
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := custody.NewSealer(key, "spiffe://accord.test/member/UA/node/ua-1")
	if err != nil {
		t.Fatal(err)
	}
	actor := store.Actor{ID: "spiffe://accord.test/member/UA/user/analyst", Sealer: sealer}

	const victim = "Olena Kovalenko"
	for _, c := range []*accordv1.Case{
		exCase("UA-2022-000001", accordv1.Sensitivity_SENSITIVITY_FEDERATION, victim),
		exCase("UA-2022-000002", accordv1.Sensitivity_SENSITIVITY_FEDERATION, "Halyna Pavlenko"),
		exCase("UA-2022-000003", accordv1.Sensitivity_SENSITIVITY_NATIONAL, "Taras Shevchenko"),
		exCase("UA-2022-000004", accordv1.Sensitivity_SENSITIVITY_JIT, "Wiktoria Bondarenko"),
	} {
		if _, err := ua.d.Store().CreateCase(c, actor); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []*regNode{pl, de} {
		waitIndex(t, n.d.Store(), "UA", has("UA-2022-000001", "UA-2022-000002"))
	}
	for _, n := range []*regNode{pl, de} {
		m := fedIndex(t, n.d.Store(), "UA")
		if _, ok := m["UA-2022-000003"]; ok {
			t.Errorf("a national case reached %s", n.member)
		}
		if _, ok := m["UA-2022-000004"]; ok {
			t.Errorf("a jit case reached %s outside any JIT", n.member)
		}
		r := m["UA-2022-000001"]
		if len(r.GetCase().GetPersons()) == 0 || len(r.GetCase().GetEvidence()) != 1 {
			t.Errorf("%s: shared case lacks person encodings or evidence hashes: %v", n.member, r.GetCase())
		}
	}

	// A deletion reaches peers as a tombstone.
	if _, err := ua.d.Store().DeleteCase("UA-2022-000002", "opened in error", actor); err != nil {
		t.Fatal(err)
	}
	waitIndex(t, pl.d.Store(), "UA", lacks("UA-2022-000002"))

	// The jit case: UA links it to a team with PL; PL accepts and gets it;
	// DE never does; PL leaves and loses it.
	jit := mustExecute(t, ua.user, "jit-x", registry.CreateJIT{Name: "Kharkiv", LegalBasis: "EU JIT model agreement", Invite: []string{"PL"}})
	mustExecute(t, ua.user, "link-x", registry.LinkCase{JIT: jit.GetId(), Case: registry.CaseRef{Member: "UA", CaseID: "UA-2022-000004"}})
	mustExecute(t, pl.user, "accept-x", registry.RespondToJIT{JIT: jit.GetId(), Accept: true})
	waitIndex(t, pl.d.Store(), "UA", has("UA-2022-000004"))
	mustExecute(t, pl.user, "leave-x", registry.LeaveJIT{JIT: jit.GetId()})
	waitIndex(t, pl.d.Store(), "UA", lacks("UA-2022-000004"))
	if _, ok := fedIndex(t, de.d.Store(), "UA")["UA-2022-000004"]; ok {
		t.Error("the jit case reached DE")
	}

	// No name, in any form the origin wrote it, in the peers' stores.
	for _, n := range []*regNode{pl, de} {
		data, err := os.ReadFile(n.d.Store().Path())
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{victim, "Kovalenko", "Halyna Pavlenko", "Taras Shevchenko", "Wiktoria Bondarenko"} {
			if bytes.Contains(data, []byte(name)) {
				t.Errorf("%s's store holds %q", n.member, name)
			}
		}
	}

	// The audit logs verify and say what crossed.
	for _, n := range []*regNode{ua, pl} {
		path := filepath.Join(n.cfg.DataDir, audit.FileName)
		if _, err := audit.Verify(path); err != nil {
			t.Errorf("%s audit log: %v", n.member, err)
		}
	}
	served := 0
	if err := audit.Scan(filepath.Join(ua.cfg.DataDir, audit.FileName), audit.Filter{Peer: "PL", Kind: audit.KindServed}, func(e audit.Entry) error {
		served += e.What.Records
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if served < 3 {
		t.Errorf("UA's audit log records %d records served to PL", served)
	}

	// The metrics say how far PL is behind UA and what it holds.
	body := scrape(t, pl.d.MetricsAddr())
	for _, want := range []string{`accord_sync_lag_records{member="UA"} 0`, `accord_federation_records{member="UA"} 1`, `accord_sync_connected{member="UA"} 1`, "accord_match_index_records", "accord_registry_applied_index"} {
		if !strings.Contains(body, want) {
			t.Errorf("PL's metrics lack %s", want)
		}
	}
}
