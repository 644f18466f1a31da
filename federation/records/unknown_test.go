package records_test

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/federation/records"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestProjectDropsUnknownIncidentFields: fields a case's incident carries
// that the schema does not know (stored by an older node, or sent by a
// newer client) never reach the shared record, which receivers would
// refuse as non-canonical.
func TestProjectDropsUnknownIncidentFields(t *testing.T) {
	c := testCase("UA-2022-000001")
	secret := []byte("Iryna Bondar")
	c.Incidents[0].ProtoReflect().SetUnknown(protowire.AppendBytes(protowire.AppendTag(nil, 99, protowire.BytesType), secret))
	s, _, err := records.Project(c, fakeEncoder{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if u := s.GetIncidents()[0].ProtoReflect().GetUnknown(); len(u) > 0 {
		t.Fatalf("the shared incident kept %d bytes of unknown fields", len(u))
	}
	if len(c.Incidents[0].ProtoReflect().GetUnknown()) == 0 {
		t.Error("Project changed the case it was given")
	}
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := records.NewSigner("UA", "ua-1.k", priv).SignBatch([]*accordv1.FeedRecord{{
		Origin: "UA", CaseId: c.GetCaseId(), Seq: 1, PublishTime: timestamppb.Now(), Case: s,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(signed[0].GetRecord(), secret) {
		t.Fatal("the signed record carries the unknown field")
	}
	v := records.NewVerifier(func(string, string) (ed25519.PublicKey, error) { return pub, nil })
	if _, err := v.Verify(signed[0]); err != nil {
		t.Fatalf("a receiver refuses the record: %v", err)
	}
}
