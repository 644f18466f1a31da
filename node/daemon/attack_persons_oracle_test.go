package daemon_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/federation/persons"
	"github.com/accordfed/accord/federation/persontoken"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/records"
	"github.com/accordfed/accord/federation/registry"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestAttackPersonMatchingOracle: PL, dishonest, copies a case DE shared
// with it and attaches the tokens, under PL's own key, of a list of
// guessed names, hoping that DE's matcher compares them with DE's persons
// and says so in its match proposal, which PL reads in the registry (an
// outside review found this worked: DE compared its persons' tokens under
// PL's key, which PL computes for free). DE compares only pair tokens made
// with its own key over PL's: PL cannot make one for a guess without DE's
// node, so the proposal says nothing of persons, and PL's forged pair
// tokens match nothing either.
func TestAttackPersonMatchingOracle(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE")
	nodes, _ := startFederation(t, fed, "UA", "PL", "DE")
	pl, de := nodes[1], nodes[2]
	year := int32(1978)
	deCase := &accordv1.Case{
		CaseId: "DE-2022-000501", Country: "DE", Title: "Beschuss eines Wohnblocks in Charkiw", Sensitivity: accordv1.Sensitivity_SENSITIVITY_FEDERATION,
		CrimeCodes: []string{"RS-8.2.b.i"},
		Incidents:  []*accordv1.Incident{{Start: "2022-03-01T08:00:00+02:00", End: "2022-03-01T10:00:00+02:00", Place: "Charkiw"}},
		Persons:    []*accordv1.Person{{Role: accordv1.PersonRole_PERSON_ROLE_WITNESS, Name: "Olena Kovalenko", BirthYear: &year}},
		Evidence:   []*accordv1.EvidenceRef{{Id: "DE-2022-000501-E1", Sha256: strings.Repeat("cd", 32), MediaType: "video/mp4"}},
	}
	if _, err := de.d.Store().CreateCase(deCase, sealerFor(t, "DE")); err != nil {
		t.Fatal(err)
	}
	// DE's node has obtained the pair tokens of its witness with PL's key,
	// both sides (it publishes them; it compares the others), before PL
	// turns.
	waitPairTokens(t, pl, "DE", []string{"DE-2022-000501"}, "PL")
	shared := fedIndex(t, pl.d.Store(), "DE")["DE-2022-000501"].GetCase()

	// PL's keys, from its own data folder.
	ring, err := persons.OpenKeyRing(pl.cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	version, key := ring.Current()
	plKeyID := persontoken.KeyID("PL/pl-1", version)
	deRing, err := persons.OpenKeyRing(de.cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	deVersion, _ := deRing.Current()
	signKey, signKeyID := loadNodeSigningKey(t, pl.cfg.DataDir, "pl-1")

	// The guesses: DE's witness among others, as tokens of PL's own key,
	// and forged pair tokens of the same names (PL's key twice: all PL can
	// do without DE's node).
	var persons []*accordv1.PersonEncoding
	pairID := persontoken.PairKeyID(plKeyID, persontoken.KeyID("DE/de-1", deVersion))
	for i, name := range []string{"Oksana Melnyk", "Olena Kovalenko", "Petro Boyko", "Iryna Shevchuk"} {
		in, err := persontoken.Inputs(persontoken.Person{Name: name, BirthYear: 1970 + 4*i})
		if i == 1 {
			in, err = persontoken.Inputs(persontoken.Person{Name: name, BirthYear: int(year)})
		}
		if err != nil {
			t.Fatal(err)
		}
		single, err := key.Tokens(plKeyID, in)
		if err != nil {
			t.Fatal(err)
		}
		forged, err := key.Tokens(pairID, persontoken.OuterInputs(single))
		if err != nil {
			t.Fatal(err)
		}
		var junk persontoken.Tokens
		_, _ = rand.Read(junk.Name[:])
		junk.Skel = junk.Name
		persons = append(persons,
			&accordv1.PersonEncoding{Role: accordv1.PersonRole_PERSON_ROLE_VICTIM, KeyName: "PL/pl-1", KeyVersion: int32(version), Encoding: single.Marshal()},
			&accordv1.PersonEncoding{Role: accordv1.PersonRole_PERSON_ROLE_VICTIM, KeyName: pairID, Encoding: forged.Marshal()},
			&accordv1.PersonEncoding{Role: accordv1.PersonRole_PERSON_ROLE_VICTIM, KeyName: pairID, Encoding: junk.Marshal()})
	}
	copied := proto.CloneOf(shared)
	copied.CaseId, copied.Version, copied.Persons = "PL-2022-000501", 1, persons
	copied.Title = "Ostrzał bloku mieszkalnego w Charkowie"

	rogue := turnRogue(t, fed, pl.d, pl.cfg.TLS, "PL", "pl-1", de.d.Addr(), "DE")
	signed, err := records.NewSigner("PL", signKeyID, signKey).SignBatch([]*accordv1.FeedRecord{
		{Origin: "PL", CaseId: copied.CaseId, Seq: 1, PublishTime: timestamppb.Now(), Case: copied},
	})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, rogue, de, &accordv1.SyncResponse{Records: signed, Cursor: "rogue-1", Head: 1, CaughtUp: true}, "PL-2022-000501")

	// DE proposes the match (its code sorts first): same incident, same
	// evidence; nothing about persons.
	var decision registry.MatchDecision
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		ms := query[[]registry.MatchDecision](t, de.user, "matches", "")
		if len(ms) == 0 {
			return fmt.Errorf("no match decision yet")
		}
		decision = ms[0]
		return nil
	})
	t.Logf("DE's proposal: score %.3f, reasons %q", decision.Score, decision.Reasons)
	for _, r := range decision.Reasons {
		if strings.Contains(r, "person") {
			t.Fatalf("DE's proposal tells PL about DE's persons: %q", decision.Reasons)
		}
	}

	// The control: the same copy with the witness's pair token that DE's
	// node evaluated for PL (one guess, counted against PL's budget at DE
	// and in DE's audit log): now DE's proposal names a person, which is
	// what matching is for, at the price of an audited evaluation per
	// guess.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	deKeyPub, err := persontoken.ParseKey(mustRead(t, de.cfg.DataDir, fmt.Sprintf("person-token/v%d.key", deVersion)))
	if err != nil {
		t.Fatal(err)
	}
	in, _ := persontoken.Inputs(persontoken.Person{Name: "Olena Kovalenko", BirthYear: int(year)})
	single, _ := key.Tokens(plKeyID, in)
	req, err := persontoken.NewRequestWithNear(pairID, deKeyPub.Public(), []persontoken.Input{persontoken.OuterInputs(single)})
	if err != nil {
		t.Fatal(err)
	}
	deTokens := accordv1.NewPersonTokenServiceClient(dialWith(t, de.d.Addr(), honestCreds(t, fed.Node("PL", "pl-1"), "DE")))
	resp, err := deTokens.EvaluatePersons(ctx, &accordv1.EvaluatePersonsRequest{KeyVersion: int32(deVersion),
		Purpose: accordv1.EvaluationPurpose_EVALUATION_PURPOSE_MATCHING, Elements: req.Elements})
	if err != nil {
		t.Fatal(err)
	}
	paid, err := req.Finish(resp.GetElements(), resp.GetProof())
	if err != nil {
		t.Fatal(err)
	}
	control := proto.CloneOf(copied)
	control.CaseId = "PL-2022-000502"
	control.Persons = []*accordv1.PersonEncoding{{Role: accordv1.PersonRole_PERSON_ROLE_VICTIM, KeyName: pairID, Encoding: paid[0].Marshal()}}
	signed, err = records.NewSigner("PL", signKeyID, signKey).SignBatch([]*accordv1.FeedRecord{
		{Origin: "PL", CaseId: control.CaseId, Seq: 2, PublishTime: timestamppb.Now(), Case: control},
	})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, rogue, de, &accordv1.SyncResponse{Records: signed, Cursor: "rogue-2", Head: 2, CaughtUp: true}, "PL-2022-000502")
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		for _, m := range query[[]registry.MatchDecision](t, de.user, "matches", "") {
			if m.Cases[0].CaseID != "DE-2022-000501" || m.Cases[1].CaseID != "PL-2022-000502" {
				continue
			}
			for _, r := range m.Reasons {
				if strings.Contains(r, "person matches by name, same birth year") {
					return nil
				}
			}
			return fmt.Errorf("the control's proposal without the person: %q", m.Reasons)
		}
		return fmt.Errorf("no proposal of the control yet")
	})
}

// serve has the rogue PL serve a batch to DE until DE holds the case (a
// batch sent on a stream DE was just closing is sent again).
func serve(t *testing.T, rogue *rogueFeed, de *regNode, resp *accordv1.SyncResponse, caseID string) {
	t.Helper()
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		if _, ok := fedIndex(t, de.d.Store(), "PL")[caseID]; ok {
			return nil
		}
		select {
		case rogue.queue("DE") <- resp:
		default:
		}
		return fmt.Errorf("DE does not hold %s yet", caseID)
	})
}

func mustRead(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
