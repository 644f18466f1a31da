package store

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/node/custody"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func testActor(t testing.TB) Actor {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := custody.NewSealer(key, "spiffe://accord.test/member/UA/node/ua-1")
	if err != nil {
		t.Fatal(err)
	}
	return Actor{ID: "spiffe://accord.test/member/UA/user/u-1", Sealer: s}
}

func openTest(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "store.db"), "UA", Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func testCase(id, place, start string, evidence ...string) *accordv1.Case {
	c := &accordv1.Case{
		CaseId: id, Country: "UA", Title: "Strike on a school in " + place,
		Status: accordv1.CaseStatus_CASE_STATUS_INVESTIGATION, Sensitivity: accordv1.Sensitivity_SENSITIVITY_FEDERATION,
		CrimeCodes: []string{"RS-8.2.b.ix", "UA-CC-438"},
		Incidents:  []*accordv1.Incident{{Start: start, Place: place, Precision: accordv1.TimePrecision_TIME_PRECISION_HOUR}},
		Persons:    []*accordv1.Person{{Role: accordv1.PersonRole_PERSON_ROLE_VICTIM, Name: "Olena Kovalenko"}},
	}
	for i, e := range evidence {
		c.Evidence = append(c.Evidence, &accordv1.EvidenceRef{Id: fmt.Sprintf("%s-E%03d", id, i+1), Sha256: hash(e), MediaType: "video/mp4"})
	}
	return c
}

func TestOpenRefusesNewerSchemaAndOtherMember(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path, "UA", Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(path, "PL", Options{}); !errors.Is(err, ErrWrongMember) {
		t.Errorf("open as PL: %v", err)
	}
	// A newer accordd wrote the file.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaSchemaVersion, []byte(strconv.Itoa(SchemaVersion+1)))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(path, "UA", Options{})
	if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "newer accordd") {
		t.Errorf("newer schema: %v", err)
	}
}

func TestOpenRefusesSecondProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path, "UA", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = Open(path, "UA", Options{OpenTimeout: 100 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "locked by another process") {
		t.Errorf("second open: %v", err)
	}
}

func TestCaseLifecycle(t *testing.T) {
	s := openTest(t)
	a := testActor(t)
	c, err := s.CreateCase(testCase("UA-2022-000001", "Kharkiv", "2022-03-01T10:00:00+02:00", "video-1"), a)
	if err != nil {
		t.Fatal(err)
	}
	if c.GetVersion() != 1 || c.GetUpdateBy() != a.ID {
		t.Errorf("created: version %d by %q", c.GetVersion(), c.GetUpdateBy())
	}
	if _, err := s.CreateCase(testCase("UA-2022-000001", "Kharkiv", "2022-03-01T10:00:00+02:00"), a); !errors.Is(err, ErrExists) {
		t.Errorf("second create: %v", err)
	}
	// An update that changes nothing keeps the version.
	same, err := s.UpdateCase(testCase("UA-2022-000001", "Kharkiv", "2022-03-01T10:00:00+02:00", "video-1"), 0, a)
	if err != nil || same.GetVersion() != 1 {
		t.Fatalf("no-op update: version %d, %v", same.GetVersion(), err)
	}
	changed := testCase("UA-2022-000001", "Kharkiv", "2022-03-01T10:00:00+02:00", "video-1", "photo-2")
	changed.Status = accordv1.CaseStatus_CASE_STATUS_TRIAL
	up, err := s.UpdateCase(changed, 1, a)
	if err != nil || up.GetVersion() != 2 {
		t.Fatalf("update: version %d, %v", up.GetVersion(), err)
	}
	if _, err := s.UpdateCase(changed, 1, a); !errors.Is(err, ErrVersionMismatch) {
		t.Errorf("stale update: %v", err)
	}
	if _, err := s.UpdateCase(testCase("UA-2022-000404", "Kyiv", "2022-03-01T10:00:00+02:00"), 0, a); !errors.Is(err, ErrNotFound) {
		t.Errorf("update of a missing case: %v", err)
	}
	got, err := s.GetCase("UA-2022-000001")
	if err != nil || got.GetStatus() != accordv1.CaseStatus_CASE_STATUS_TRIAL || len(got.GetEvidence()) != 2 {
		t.Fatalf("get: %v %v", got, err)
	}
	items, err := s.FindEvidenceByHash(hash("photo-2"))
	if err != nil || len(items) != 1 || items[0].GetCaseId() != "UA-2022-000001" {
		t.Fatalf("find by hash: %v %v", items, err)
	}

	// Delete: reason required; the case and its evidence index go, custody stays.
	if _, err := s.DeleteCase("UA-2022-000001", " ", a); !errors.Is(err, ErrInvalid) {
		t.Errorf("delete without reason: %v", err)
	}
	if _, err := s.DeleteCase("UA-2022-000001", "duplicate of UA-2022-000002", a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetCase("UA-2022-000001"); !errors.Is(err, ErrNotFound) {
		t.Errorf("get after delete: %v", err)
	}
	if items, _ := s.FindEvidenceByHash(hash("photo-2")); len(items) != 0 {
		t.Errorf("evidence index kept %d items of a deleted case", len(items))
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Cases != 0 || st.DeletedRecords != 1 || st.CustodyEvents != 2 {
		t.Errorf("stats after delete: %+v", st)
	}
	rep, err := s.VerifyCustody("", s.KnownSealKey)
	if err != nil || rep.Chains != 2 || len(rep.Breaks) != 0 {
		t.Errorf("custody after delete: %+v %v", rep, err)
	}
}

func TestEvidenceRulesChangeNothing(t *testing.T) {
	s := openTest(t)
	a := testActor(t)
	if _, err := s.CreateCase(testCase("UA-2022-000001", "Kharkiv", "2022-03-01T10:00:00+02:00", "video-1"), a); err != nil {
		t.Fatal(err)
	}
	// Another case claims the same evidence id.
	other := testCase("UA-2022-000002", "Kyiv", "2022-03-02T10:00:00+02:00")
	other.Evidence = []*accordv1.EvidenceRef{{Id: "UA-2022-000001-E001", Sha256: hash("x")}}
	if _, err := s.CreateCase(other, a); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "already used by case UA-2022-000001") {
		t.Fatalf("evidence id of another case: %v", err)
	}
	if _, err := s.GetCase("UA-2022-000002"); !errors.Is(err, ErrNotFound) {
		t.Errorf("refused case was stored: %v", err)
	}
	// The same item may not change its hash.
	c := testCase("UA-2022-000001", "Kharkiv", "2022-03-01T10:00:00+02:00", "video-1")
	c.Evidence[0].Sha256 = hash("tampered")
	if _, err := s.UpdateCase(c, 0, a); !errors.Is(err, ErrInvalid) {
		t.Errorf("hash change: %v", err)
	}
	got, _ := s.GetCase("UA-2022-000001")
	if got.GetVersion() != 1 || got.GetEvidence()[0].GetSha256() != hash("video-1") {
		t.Errorf("refused update changed the case: %v", got)
	}
	// A batch with one bad case writes nothing.
	_, err := s.ImportBatch([]*accordv1.Case{testCase("UA-2022-000003", "Lviv", "2022-03-03T10:00:00+02:00"), other}, a)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad batch: %v", err)
	}
	if _, err := s.GetCase("UA-2022-000003"); !errors.Is(err, ErrNotFound) {
		t.Errorf("half a batch was written: %v", err)
	}
	// A case of another member.
	pl := testCase("PL-2022-000001", "Kharkiv", "2022-03-01T10:00:00+02:00")
	pl.Country = "PL"
	if _, err := s.CreateCase(pl, a); !errors.Is(err, ErrInvalid) {
		t.Errorf("other member's case: %v", err)
	}
}

func TestImportBatchIsIdempotent(t *testing.T) {
	s := openTest(t)
	a := testActor(t)
	var cases []*accordv1.Case
	for i := range 50 {
		cases = append(cases, testCase(fmt.Sprintf("UA-2022-%06d", i), "Bucha", "2022-03-05T10:00:00+02:00", fmt.Sprint("ev", i)))
	}
	n, err := s.ImportBatch(cases, a)
	if err != nil || n.Created != 50 {
		t.Fatalf("first: %+v %v", n, err)
	}
	n, err = s.ImportBatch(cases, a)
	if err != nil || n.Unchanged != 50 || n.Created+n.Updated != 0 {
		t.Fatalf("again: %+v %v", n, err)
	}
	cases[7].Title = "Changed title"
	n, err = s.ImportBatch(cases, a)
	if err != nil || n.Updated != 1 || n.Unchanged != 49 {
		t.Fatalf("one changed: %+v %v", n, err)
	}
	c, _ := s.GetCase(cases[7].GetCaseId())
	if c.GetVersion() != 2 {
		t.Errorf("version %d, want 2", c.GetVersion())
	}
	st, _ := s.Stats()
	if st.CustodyEvents != 50 || st.EvidenceItems != 50 {
		t.Errorf("stats %+v", st)
	}
}

func TestListFiltersAndPages(t *testing.T) {
	s := openTest(t)
	a := testActor(t)
	var cases []*accordv1.Case
	for i := range 30 {
		place := []string{"Kharkiv", "Charków", "Kyiv"}[i%3]
		start := fmt.Sprintf("2022-03-%02dT10:00:00+02:00", 1+i%20)
		c := testCase(fmt.Sprintf("UA-2022-%06d", i), place, start)
		if i%5 == 0 {
			c.Status = accordv1.CaseStatus_CASE_STATUS_CLOSED
			c.Title = "Deportation of children from " + place
		}
		cases = append(cases, c)
	}
	if _, err := s.ImportBatch(cases, a); err != nil {
		t.Fatal(err)
	}
	all := func(f Filter, size int) []string {
		t.Helper()
		var ids []string
		tok := ""
		for {
			page, next, err := s.ListCases(f, size, tok)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page {
				ids = append(ids, c.GetCaseId())
			}
			if next == "" {
				return ids
			}
			tok = next
		}
	}
	if got := all(Filter{}, 7); len(got) != 30 || got[0] != "UA-2022-000000" || got[29] != "UA-2022-000029" {
		t.Errorf("all: %v", got)
	}
	if got := all(Filter{Status: accordv1.CaseStatus_CASE_STATUS_CLOSED}, 2); len(got) != 6 {
		t.Errorf("closed: %v", got)
	}
	// Place matches accents and case: Charków ~ charkow.
	if got := all(Filter{Place: "CHARKOW"}, 3); len(got) != 10 {
		t.Errorf("place: %v", got)
	}
	if got := all(Filter{TitleContains: "deportation"}, 100); len(got) != 6 {
		t.Errorf("title: %v", got)
	}
	day := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	got := all(Filter{After: day("2022-03-02T00:00:00Z"), Before: day("2022-03-04T00:00:00Z")}, 2)
	if len(got) != 4 { // days 2 and 3, each twice in 30 cases spread over 20 days
		t.Errorf("window: %v", got)
	}
	got = all(Filter{Place: "Kyiv", Status: accordv1.CaseStatus_CASE_STATUS_CLOSED}, 100)
	for _, id := range got {
		c, _ := s.GetCase(id)
		if c.GetIncidents()[0].GetPlace() != "Kyiv" || c.GetStatus() != accordv1.CaseStatus_CASE_STATUS_CLOSED {
			t.Errorf("combined filter let %s through", id)
		}
	}
	// The position is the last case id of the page: the next page starts
	// after it, also when that case is gone meanwhile.
	page, next, err := s.ListCases(Filter{}, 5, "")
	if err != nil || next != page[4].GetCaseId() {
		t.Fatalf("first page: next %q, %v", next, err)
	}
	if page, _, err := s.ListCases(Filter{}, 2, "UA-2022-000004x"); err != nil || page[0].GetCaseId() != "UA-2022-000005" {
		t.Errorf("after a case id that is not stored: %v, %v", page, err)
	}
}

// TestCustodyBreakIsFound flips a byte of a stored custody event and checks
// that verification names the broken link.
func TestCustodyBreakIsFound(t *testing.T) {
	s := openTest(t)
	a := testActor(t)
	if _, err := s.CreateCase(testCase("UA-2022-000001", "Izium", "2022-09-10T10:00:00+03:00"), a); err != nil {
		t.Fatal(err)
	}
	item, first, err := s.RegisterEvidence(&accordv1.EvidenceItem{CaseId: "UA-2022-000001", Sha256: hash("drone footage"), Location: "/vault/a.mp4", SizeBytes: 13}, RegisterOptions{}, a)
	if err != nil {
		t.Fatal(err)
	}
	if item.GetId() != "UA-2022-000001-E001" || first.GetSeq() != 1 || item.GetLocation() != "/vault/a.mp4" {
		t.Fatalf("registered %v %v", item, first)
	}
	for _, action := range []accordv1.CustodyAction{accordv1.CustodyAction_CUSTODY_ACTION_TRANSFERRED, accordv1.CustodyAction_CUSTODY_ACTION_ANALYSED} {
		if _, err := s.AppendCustody(item.GetId(), action, "to the forensic lab", a); err != nil {
			t.Fatal(err)
		}
	}
	events, seals, err := s.CustodyChain(item.GetId())
	if err != nil || len(events) != 3 || len(seals) != 3 {
		t.Fatalf("chain: %d events, %d seals, %v", len(events), len(seals), err)
	}
	if rep, err := s.VerifyCustody("", s.KnownSealKey); err != nil || len(rep.Breaks) != 0 || rep.Events != 3 {
		t.Fatalf("clean verify: %+v %v", rep, err)
	}

	// Flip one byte of the stored second event's details.
	err = s.db.Update(func(tx *bolt.Tx) error {
		eseq := getU64(tx.Bucket(bucketEvidenceIDs).Get([]byte(item.GetId())))
		b := tx.Bucket(bucketCustody)
		data := append([]byte(nil), b.Get(custodyKey(eseq, 2))...)
		ev := &accordv1.CustodyEvent{}
		if err := proto.Unmarshal(data, ev); err != nil {
			return err
		}
		i := strings.Index(string(data), "forensic")
		data[i] ^= 0x20 // "forensic" -> "Forensic"
		return b.Put(custodyKey(eseq, 2), data)
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.VerifyCustody("", s.KnownSealKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Breaks) != 1 || rep.Breaks[0].Seq != 2 || rep.Breaks[0].EvidenceID != item.GetId() {
		t.Fatalf("breaks = %+v, want one at event 2 of %s", rep.Breaks, item.GetId())
	}
	t.Logf("found: %v", rep.Breaks[0])

	// A seal made with a key the node never used is refused too.
	stranger := testActor(t)
	if err := s.KnownSealKey(stranger.Sealer.PublicKey()); err == nil {
		t.Error("a foreign key is known")
	}
}

// TestCustodyTruncationIsFound removes the last event of a chain: every
// remaining event is still valid, but the store's record of the chain's head
// says events are missing.
func TestCustodyTruncationIsFound(t *testing.T) {
	s := openTest(t)
	a := testActor(t)
	if _, err := s.CreateCase(testCase("UA-2022-000001", "Izium", "2022-09-10T10:00:00+03:00", "photo"), a); err != nil {
		t.Fatal(err)
	}
	id := "UA-2022-000001-E001"
	if _, err := s.AppendCustody(id, accordv1.CustodyAction_CUSTODY_ACTION_ACCESSED, "viewed by the prosecutor", a); err != nil {
		t.Fatal(err)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		eseq := getU64(tx.Bucket(bucketEvidenceIDs).Get([]byte(id)))
		return tx.Bucket(bucketCustody).Delete(custodyKey(eseq, 2))
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.VerifyCustody(id, s.KnownSealKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Breaks) != 1 || rep.Breaks[0].Seq != 2 || !strings.Contains(rep.Breaks[0].Reason, "missing") {
		t.Fatalf("breaks %+v", rep.Breaks)
	}
	// The whole chain goes: the recorded head still names it.
	err = s.db.Update(func(tx *bolt.Tx) error {
		eseq := getU64(tx.Bucket(bucketEvidenceIDs).Get([]byte(id)))
		return tx.Bucket(bucketCustody).Delete(custodyKey(eseq, 1))
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err = s.VerifyCustody("", s.KnownSealKey)
	if err != nil || len(rep.Breaks) != 1 || !strings.Contains(rep.Breaks[0].Reason, "every event") {
		t.Fatalf("whole chain removed: %+v %v", rep.Breaks, err)
	}
}

// TestReimportKeepsVaultEvidence: a case register re-imported without an
// item registered from the vault keeps that item, its location and its
// custody chain; the case stays unchanged.
func TestReimportKeepsVaultEvidence(t *testing.T) {
	s := openTest(t)
	a := testActor(t)
	register := testCase("UA-2022-000001", "Izium", "2022-09-10T10:00:00+03:00", "register item")
	if _, err := s.ImportBatch([]*accordv1.Case{register}, a); err != nil {
		t.Fatal(err)
	}
	item, _, err := s.RegisterEvidence(&accordv1.EvidenceItem{CaseId: "UA-2022-000001", Sha256: hash("vault file"), Location: "/vault/b.jpg"}, RegisterOptions{}, a)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.ImportBatch([]*accordv1.Case{register}, a)
	if err != nil || n.Unchanged != 1 {
		t.Fatalf("re-import: %+v %v", n, err)
	}
	got, err := s.GetEvidence(item.GetId())
	if err != nil || got.GetLocation() != "/vault/b.jpg" {
		t.Fatalf("vault item after re-import: %v %v", got, err)
	}
	c, _ := s.GetCase("UA-2022-000001")
	if len(c.GetEvidence()) != 2 || c.GetVersion() != 2 {
		t.Errorf("case after re-import: %d items, version %d", len(c.GetEvidence()), c.GetVersion())
	}
	// A register item dropped from the register does go.
	register.Evidence = nil
	if n, err := s.ImportBatch([]*accordv1.Case{register}, a); err != nil || n.Updated != 1 {
		t.Fatalf("register item dropped: %+v %v", n, err)
	}
	c, _ = s.GetCase("UA-2022-000001")
	if len(c.GetEvidence()) != 1 || c.GetEvidence()[0].GetId() != item.GetId() {
		t.Errorf("after dropping the register item: %v", c.GetEvidence())
	}
}

// TestRegisterSameContentTwice: content a case already holds is refused,
// naming the item that holds it and when it was registered, unless
// AllowDuplicate; another case may hold the same content.
func TestRegisterSameContentTwice(t *testing.T) {
	s := openTest(t)
	a := testActor(t)
	for _, id := range []string{"UA-2022-000001", "UA-2022-000002"} {
		if _, err := s.CreateCase(testCase(id, "Izium", "2022-09-10T10:00:00+03:00"), a); err != nil {
			t.Fatal(err)
		}
	}
	item := &accordv1.EvidenceItem{CaseId: "UA-2022-000001", Sha256: hash("drone footage"), Location: "/vault/a.mp4"}
	first, _, err := s.RegisterEvidence(item, RegisterOptions{}, a)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.RegisterEvidence(item, RegisterOptions{}, a)
	want := "sha256: case UA-2022-000001 already holds this content as evidence UA-2022-000001-E001 (registered " +
		first.GetRegisterTime().AsTime().UTC().Format(time.RFC3339) + " by " + a.ID + "); set allow_duplicate to register it again"
	if !errors.Is(err, ErrDuplicateContent) || !strings.Contains(err.Error(), want) {
		t.Fatalf("second registration: %v\nwant ErrDuplicateContent and %q", err, want)
	}
	if c, err := s.GetCase("UA-2022-000001"); err != nil || len(c.GetEvidence()) != 1 {
		t.Fatalf("the refused registration changed the case: %v %v", c, err)
	}
	again, _, err := s.RegisterEvidence(item, RegisterOptions{AllowDuplicate: true}, a)
	if err != nil || again.GetId() != "UA-2022-000001-E002" {
		t.Fatalf("with AllowDuplicate: %v %v", again, err)
	}
	other := &accordv1.EvidenceItem{CaseId: "UA-2022-000002", Sha256: hash("drone footage"), Location: "/vault/a.mp4"}
	if _, _, err := s.RegisterEvidence(other, RegisterOptions{}, a); err != nil {
		t.Errorf("the same content on another case: %v", err)
	}
}
