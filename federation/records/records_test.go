package records_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"golang.org/x/text/unicode/norm"

	"github.com/accordfed/accord/federation/records"
	"github.com/accordfed/accord/federation/redact"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func testCase(id string) *accordv1.Case {
	year := int32(1978)
	victims := int64(3)
	return &accordv1.Case{
		CaseId: id, Country: "UA", Title: "Shelling of Serhiivka; Olena Kovalenko wounded",
		Sensitivity: accordv1.Sensitivity_SENSITIVITY_FEDERATION, CrimeCodes: []string{"RS-8.2.b.i"},
		Incidents: []*accordv1.Incident{{Start: "2022-03-01T10:00:00+02:00", Place: "Serhiivka", Region: "Odesa Oblast"}},
		Perpetrators: []*accordv1.Perpetrator{
			{Kind: accordv1.PerpetratorKind_PERPETRATOR_KIND_UNIT, Name: "64th Separate Motor Rifle Brigade"},
			{Kind: accordv1.PerpetratorKind_PERPETRATOR_KIND_PERSON, Name: "Ivan Petrenko"},
		},
		Persons:     []*accordv1.Person{{Role: accordv1.PersonRole_PERSON_ROLE_VICTIM, Name: "Olena Kovalenko", BirthYear: &year}},
		VictimCount: &victims,
		Evidence: []*accordv1.EvidenceRef{{Id: id + "-E001", Sha256: strings.Repeat("ab", 32), MediaType: "video/mp4",
			Collected: "2022-03-02", Description: "Olena's phone video"}},
		Version: 2,
	}
}

// fakeEncoder encodes a name as a fixed-size opaque digest.
type fakeEncoder struct{}

func (fakeEncoder) Encode(name string, year int32, hasYear bool) ([]records.Encoded, error) {
	return []records.Encoded{{KeyName: "person-encoding", KeyVersion: 1, Bytes: []byte(fmt.Sprintf("%x", len(name)))}}, nil
}

func TestProjectLeavesNamesAndLocalDetailsHome(t *testing.T) {
	s, _, err := records.Project(testCase("UA-2022-000001"), fakeEncoder{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"Olena", "Kovalenko", "Ivan Petrenko", "Petrenko", "UA-2022-000001-E001", "phone video", "1978"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("shared case contains %q", secret)
		}
	}
	if !strings.Contains(s.GetTitle(), "Serhiivka") || !strings.Contains(s.GetTitle(), "[…]") {
		t.Errorf("title %q", s.GetTitle())
	}
	if len(s.GetPerpetrators()) != 1 || len(s.GetPersons()) != 2 || s.GetPersons()[1].GetRole() != accordv1.PersonRole_PERSON_ROLE_SUSPECT {
		t.Errorf("perpetrators %v persons %v", s.GetPerpetrators(), s.GetPersons())
	}
	if len(s.GetEvidence()) != 1 || s.GetEvidence()[0].GetSha256() == "" {
		t.Errorf("evidence %v", s.GetEvidence())
	}
}

// TestProjectWithholdsNamesInEveryFreeTextField: a name of a person of
// the case or of the office, in any inflected form, script or
// normalisation form, and birth-year phrases, are blanked in every shared
// free-text field, counted per field; a case id that carries a name keeps
// the case home.
func TestProjectWithholdsNamesInEveryFreeTextField(t *testing.T) {
	c := testCase("UA-2022-000001")
	year := int32(1975)
	c.Persons = append(c.Persons, &accordv1.Person{Role: accordv1.PersonRole_PERSON_ROLE_WITNESS, Name: "Тарас Гриценко", BirthYear: &year})
	c.Title = "Hrytsenko's statement: Тараса Гриценка (born 1975) saw " + norm.NFD.String("Kovalénko")
	c.Incidents[0].Place = "вул. Гриценка, Serhiivka"
	c.Incidents[0].Region = "Kovalenkos' farm"
	c.Perpetrators[0].Name = "Petrenko's company, 64th Brigade"
	office := redact.NewNames()
	office.Add("Mykola Bondarchuk") // a person of another case of the office
	c.Incidents = append(c.Incidents, &accordv1.Incident{Start: "2022-03-01T10:00:00+02:00", Place: "Bondarchuka farm", Region: "Odesa Oblast"})
	records.AddPersons(office, c)
	s, w, err := records.Project(c, fakeEncoder{}, office)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := proto.Marshal(s)
	for _, secret := range []string{"Hrytsenko", "Гриценка", "Тараса", "Kovalenko", "Petrenko", "Bondarchuk", "1975", "Kovale"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("shared case contains %q", secret)
		}
	}
	if s.GetTitle() != "[…] statement: […] […] (born […]) saw […]" {
		t.Errorf("title %q", s.GetTitle())
	}
	if s.GetIncidents()[0].GetPlace() != "вул. […], Serhiivka" || s.GetIncidents()[1].GetPlace() != "[…] farm" {
		t.Errorf("places %q, %q", s.GetIncidents()[0].GetPlace(), s.GetIncidents()[1].GetPlace())
	}
	want := map[string]int{records.FieldTitle: 5, records.FieldPlace: 2, records.FieldRegion: 1, records.FieldPerpetrators: 1}
	if fmt.Sprint(w.Fields) != fmt.Sprint(want) || w.Case {
		t.Errorf("withheld %v, want %v", w, want)
	}

	// Without the office's names, the other case's person stays: the
	// office-wide set is what catches it.
	if s, _, _ := records.Project(c, nil, nil); s.GetIncidents()[1].GetPlace() != "Bondarchuka farm" {
		t.Errorf("place %q", s.GetIncidents()[1].GetPlace())
	}

	// A case id that carries a name keeps the case home.
	c.CaseId = "UA-Hrytsenko-1"
	if s, w, err := records.Project(c, nil, office); err != nil || s != nil || !w.Case || w.Fields[records.FieldCaseID] != 1 {
		t.Errorf("case id with a name: %v %v %v", s, w, err)
	}
}

type keyring map[string]ed25519.PublicKey

func (k keyring) lookup(member, id string) (ed25519.PublicKey, error) {
	if pub, ok := k[member+"/"+id]; ok {
		return pub, nil
	}
	return nil, errors.New("no such key")
}

func signed(t *testing.T, n int) ([]*accordv1.SignedRecord, *records.Signer, keyring) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := records.NewSigner("UA", records.KeyID("ua-1", pub), priv)
	var recs []*accordv1.FeedRecord
	for i := range n {
		id := fmt.Sprintf("UA-2022-%06d", i+1)
		sc, _, err := records.Project(testCase(id), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &accordv1.FeedRecord{Origin: "UA", CaseId: id, Seq: uint64(i + 1), Case: sc})
	}
	out, err := s.SignBatch(recs)
	if err != nil {
		t.Fatal(err)
	}
	return out, s, keyring{"UA/" + s.KeyID(): pub}
}

func TestSignVerify(t *testing.T) {
	for _, n := range []int{1, 2, 7, 100} {
		out, _, keys := signed(t, n)
		v := records.NewVerifier(keys.lookup)
		for i, sr := range out {
			r, err := v.Verify(sr)
			if err != nil {
				t.Fatalf("n=%d record %d: %v", n, i, err)
			}
			if r.GetCaseId() != fmt.Sprintf("UA-2022-%06d", i+1) {
				t.Fatalf("record %d is %s", i, r.GetCaseId())
			}
		}
	}
}

func TestVerifyRefuses(t *testing.T) {
	out, _, keys := signed(t, 4)
	other, _, _ := signed(t, 4) // signed by another key of "UA"
	tamper := func(f func(sr *accordv1.SignedRecord)) *accordv1.SignedRecord {
		c := proto.CloneOf(out[1])
		f(c)
		return c
	}
	for _, c := range []struct {
		name string
		sr   *accordv1.SignedRecord
		want error
	}{
		{"changed byte", tamper(func(sr *accordv1.SignedRecord) { sr.Record[len(sr.Record)-1] ^= 1 }), nil},
		{"unknown field appended", tamper(func(sr *accordv1.SignedRecord) {
			sr.Record = protowire.AppendTag(sr.Record, 99, protowire.VarintType)
			sr.Record = protowire.AppendVarint(sr.Record, 1)
		}), records.ErrInvalid},
		{"wrong index", tamper(func(sr *accordv1.SignedRecord) { sr.LeafIndex = 2 }), records.ErrSignature},
		{"wrong count", tamper(func(sr *accordv1.SignedRecord) { sr.LeafCount = 5 }), records.ErrSignature},
		{"path cut", tamper(func(sr *accordv1.SignedRecord) { sr.Proof = sr.Proof[:1] }), records.ErrSignature},
		{"another key's signature", tamper(func(sr *accordv1.SignedRecord) { sr.Signature = other[1].Signature }), records.ErrSignature},
		{"unknown key", tamper(func(sr *accordv1.SignedRecord) { sr.KeyId = "ua-9.0000" }), records.ErrUnknownKey},
	} {
		_, err := records.NewVerifier(keys.lookup).Verify(c.sr)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// Another member's text with control or bidirectional formatting
	// characters is refused (it would reach analysts' terminals), even
	// when validly signed.
	for _, bad := range []string{"clear \x1b[2J", "csi \u009b31m", "bell \x07", "bidi \u202e", "cr \r forged line"} {
		sc, _, _ := records.Project(testCase("UA-2022-000001"), nil, nil)
		sc.Incidents[0].Region = bad
		if err := verifySignedByHand(t, sc); !errors.Is(err, records.ErrInvalid) || !strings.Contains(err.Error(), "case.incidents[0].region") {
			t.Errorf("region %q: %v", bad, err)
		}
	}
	// More incidents than the format allows: no honest node publishes
	// them, and every member would pay for them in its index and maps.
	sc, _, _ := records.Project(testCase("UA-2022-000001"), nil, nil)
	for len(sc.Incidents) <= records.MaxIncidents {
		sc.Incidents = append(sc.Incidents, sc.Incidents[0])
	}
	if err := verifySignedByHand(t, sc); !errors.Is(err, records.ErrInvalid) || !strings.Contains(err.Error(), "case.incidents: 101") {
		t.Errorf("a case of %d incidents: %v", len(sc.Incidents), err)
	}
	sc.Incidents = sc.Incidents[:records.MaxIncidents]
	if err := verifySignedByHand(t, sc); err != nil {
		t.Errorf("a case of %d incidents: %v", len(sc.Incidents), err)
	}
	// The origin's projection cleans what its store kept from before.
	c := testCase("UA-2022-000001")
	c.Title = "old \x1b[2J title"
	if sc, _, _ := records.Project(c, nil, nil); sc.GetTitle() != "old \ufffd[2J title" {
		t.Errorf("projected title %q", sc.GetTitle())
	}
	// A record claiming another origin is refused by the signer and, if
	// forged, by the verifier (PL's key is not UA's).
	if _, err := records.NewSigner("PL", "pl-1.x", nil).SignBatch([]*accordv1.FeedRecord{{Origin: "UA", CaseId: "UA-1", Seq: 1, Tombstone: true}}); !errors.Is(err, records.ErrInvalid) {
		t.Errorf("signing another member's record: %v", err)
	}
}

// verifySignedByHand signs sc as a dishonest origin would, what it likes:
// one leaf, signed by hand (the Signer would refuse it), and verifies it.
func verifySignedByHand(t *testing.T, sc *accordv1.SharedCase) error {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(nil)
	s := records.NewSigner("UA", records.KeyID("ua-1", pub), priv)
	rec, err := proto.MarshalOptions{Deterministic: true}.Marshal(&accordv1.FeedRecord{Origin: "UA", CaseId: sc.GetCaseId(), Seq: 1, Case: sc})
	if err != nil {
		t.Fatal(err)
	}
	root := sha256.Sum256(append([]byte{0}, rec...))
	msg := binary.BigEndian.AppendUint32([]byte("accord-records-v1\x00"), 1)
	sr := &accordv1.SignedRecord{Record: rec, KeyId: s.KeyID(), Signature: ed25519.Sign(priv, append(msg, root[:]...)), LeafCount: 1}
	_, err = records.NewVerifier(keyring{"UA/" + s.KeyID(): pub}.lookup).Verify(sr)
	return err
}

func BenchmarkVerifyBatch(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	s := records.NewSigner("UA", "ua-1.x", priv)
	var recs []*accordv1.FeedRecord
	for i := range 1000 {
		id := fmt.Sprintf("UA-2022-%06d", i+1)
		sc, _, _ := records.Project(testCase(id), nil, nil)
		recs = append(recs, &accordv1.FeedRecord{Origin: "UA", CaseId: id, Seq: uint64(i + 1), Case: sc})
	}
	out, err := s.SignBatch(recs)
	if err != nil {
		b.Fatal(err)
	}
	keys := keyring{"UA/ua-1.x": pub}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v := records.NewVerifier(keys.lookup)
		for _, sr := range out {
			if _, err := v.Verify(sr); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(out))/b.Elapsed().Seconds(), "records/s")
}

// TestShareableOnlyWhenSaidSo: a case without a sensitivity is national.
func TestShareableOnlyWhenSaidSo(t *testing.T) {
	for s, want := range map[accordv1.Sensitivity]bool{
		accordv1.Sensitivity_SENSITIVITY_UNSPECIFIED: false, accordv1.Sensitivity_SENSITIVITY_NATIONAL: false,
		accordv1.Sensitivity_SENSITIVITY_FEDERATION: true, accordv1.Sensitivity_SENSITIVITY_JIT: true,
	} {
		if got := records.Shareable(&accordv1.Case{Sensitivity: s}); got != want {
			t.Errorf("%s: shareable %v", s, got)
		}
	}
}

// TestVerifyChecksEveryStringField: a control character in any string
// field of a shared case, at any depth, is refused by the receiver's
// check; the test walks the schema, so a string field added later and
// left unchecked fails it.
func TestVerifyChecksEveryStringField(t *testing.T) {
	base, _, err := records.Project(testCase("UA-2022-000001"), fakeEncoder{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(nil)
	s := records.NewSigner("UA", records.KeyID("ua-1", pub), priv)
	verify := func(sc *accordv1.SharedCase) error {
		rec, err := proto.MarshalOptions{Deterministic: true}.Marshal(&accordv1.FeedRecord{Origin: "UA", CaseId: sc.GetCaseId(), Seq: 1, Case: sc})
		if err != nil {
			t.Fatal(err)
		}
		root := sha256.Sum256(append([]byte{0}, rec...))
		msg := binary.BigEndian.AppendUint32([]byte("accord-records-v1\x00"), 1)
		sr := &accordv1.SignedRecord{Record: rec, KeyId: s.KeyID(), Signature: ed25519.Sign(priv, append(msg, root[:]...)), LeafCount: 1}
		_, err = records.NewVerifier(keyring{"UA/" + s.KeyID(): pub}.lookup).Verify(sr)
		return err
	}
	if err := verify(base); err != nil {
		t.Fatalf("the clean case: %v", err)
	}
	var paths []string
	var walk func(md protoreflect.MessageDescriptor, path string)
	walk = func(md protoreflect.MessageDescriptor, path string) {
		fields := md.Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			p := path + "." + string(fd.Name())
			switch {
			case fd.Kind() == protoreflect.StringKind:
				paths = append(paths, p)
				sc := proto.CloneOf(base)
				target := locate(sc.ProtoReflect(), p)
				if fd.IsList() {
					l := target.Mutable(fd).List()
					l.Append(protoreflect.ValueOfString("x\x1b[2J"))
				} else {
					target.Set(fd, protoreflect.ValueOfString("x\x1b[2J"))
				}
				if p == ".case_id" {
					continue // the record's case id must match; refused anyway (see below)
				}
				if err := verify(sc); !errors.Is(err, records.ErrInvalid) || !strings.Contains(err.Error(), "U+001B") && p != ".evidence.sha256" {
					t.Errorf("a control character in %s: %v", p, err)
				}
			case fd.Kind() == protoreflect.MessageKind:
				walk(fd.Message(), p)
			}
		}
	}
	walk(base.ProtoReflect().Descriptor(), "")
	if len(paths) < 12 {
		t.Fatalf("walked only %v", paths)
	}
}

// locate returns the message at path (".incidents.place" → the first
// incident) in m, the last element of a path being the field.
func locate(m protoreflect.Message, path string) protoreflect.Message {
	parts := strings.Split(strings.TrimPrefix(path, "."), ".")
	for _, name := range parts[:len(parts)-1] {
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
		if fd.IsList() {
			l := m.Mutable(fd).List()
			if l.Len() == 0 {
				l.Append(l.NewElement())
			}
			m = l.Get(0).Message()
		} else {
			m = m.Mutable(fd).Message()
		}
	}
	return m
}
