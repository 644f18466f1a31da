package fedindex

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/federation/exchange"
	"github.com/accordfed/accord/federation/feed"
	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/records"
	"github.com/accordfed/accord/node/grpcserver"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// testCase describes a shared case to put in the index.
type testCase struct {
	id, place, crime, start, end string
}

func sharedCase(c testCase) *accordv1.SharedCase {
	return &accordv1.SharedCase{
		CaseId: c.id, Title: "Case " + c.id, Status: accordv1.CaseStatus_CASE_STATUS_INVESTIGATION,
		Sensitivity: accordv1.Sensitivity_SENSITIVITY_FEDERATION, CrimeCodes: []string{c.crime},
		Incidents: []*accordv1.Incident{{Start: c.start, End: c.end, Place: c.place}},
		Version:   1,
	}
}

// put signs cases as origin's feed records (seqs from 1) and stores them in
// the federation index.
func put(t *testing.T, st *store.Store, origin string, cases ...testCase) {
	t.Helper()
	putWith(t, st, origin, 1, nil, cases...)
}

// putSeq puts cases with seqs from first.
func putSeq(t *testing.T, st *store.Store, origin string, first uint64, cases ...testCase) {
	t.Helper()
	putWith(t, st, origin, first, nil, cases...)
}

// putWith puts cases with seqs from first, each changed by edit (when not
// nil) before it is signed.
func putWith(t *testing.T, st *store.Store, origin string, first uint64, edit func(*accordv1.SharedCase), cases ...testCase) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer := records.NewSigner(origin, records.KeyID(strings.ToLower(origin)+"-1", priv.Public().(ed25519.PublicKey)), priv)
	var frs []*accordv1.FeedRecord
	for i, c := range cases {
		sc := sharedCase(c)
		if edit != nil {
			edit(sc)
		}
		frs = append(frs, &accordv1.FeedRecord{
			Origin: origin, CaseId: c.id, Seq: first + uint64(i),
			PublishTime: timestamppb.New(time.Date(2024, 5, 1, 12, 0, i, 0, time.UTC)), Case: sc,
		})
	}
	signed, err := signer.SignBatch(frs)
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]feed.Record, len(signed))
	for i, sr := range signed {
		b, err := proto.Marshal(sr)
		if err != nil {
			t.Fatal(err)
		}
		recs[i] = feed.Record{CaseID: frs[i].GetCaseId(), Seq: frs[i].GetSeq(), Record: b}
	}
	if _, _, err := st.FedApply(origin, "cursor-"+origin, recs); err != nil {
		t.Fatal(err)
	}
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "store.db"), "LT", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// fixture is an index of three members' cases.
func fixture(t *testing.T) (*store.Store, *Service) {
	t.Helper()
	st := openStore(t)
	put(t, st, "UA",
		testCase{"UA-2022-000001", "Kharkiv", "RS-8.2.b.i", "2022-03-01T10:00:00+02:00", "2022-03-01T11:00:00+02:00"},
		// 21:30Z on 1 March: inside 1 March in UTC.
		testCase{"UA-2022-000002", "Kharkiv Oblast, Izium", "RS-8.2.b.i", "2022-03-01T23:30:00+02:00", ""},
		testCase{"UA-2022-000003", "Mariupol", "RS-8.2.b.iv", "2022-03-16T10:00:00+02:00", ""},
		// Ends exactly at 1 March 00:00Z: does not touch 1 March.
		testCase{"UA-2022-000004", "Bucha", "RS-8.2.a.i", "2022-02-28T20:00:00Z", "2022-03-01T00:00:00Z"},
		// No end: start + 1h reaches into 1 March.
		testCase{"UA-2022-000005", "Irpin", "RS-8.2.a.i", "2022-02-28T23:30:00Z", ""},
	)
	put(t, st, "PL",
		testCase{"PL-2022-000010", "Kraków", "RS-8.2.b.i", "2022-03-31T23:00:00Z", "2022-04-02T00:00:00Z"},
		testCase{"PL-2022-000011", "CHARKÓW", "RS-8.2.b.i", "2022-04-05T12:00:00Z", ""},
	)
	put(t, st, "DE",
		testCase{"DE-2022-000100", "Berlin", "RS-7.1.a", "2022-01-01T00:00:00Z", ""},
	)
	return st, New(st, nil, nil, "LT", nil)
}

func ids(resp *accordv1.ListFederationCasesResponse) []string {
	var out []string
	for _, c := range resp.GetCases() {
		out = append(out, c.GetMember()+"/"+c.GetCase().GetCaseId())
	}
	return out
}

// analyst is the caller of the tests' requests.
var analyst = identity.Identity{Federation: "accord.test", Member: "LT", Kind: identity.KindUser, Name: "u-1"}

func userCtx() context.Context { return identity.NewContext(context.Background(), analyst) }

func list(t *testing.T, s *Service, req *accordv1.ListFederationCasesRequest) *accordv1.ListFederationCasesResponse {
	t.Helper()
	resp, err := s.ListFederationCases(userCtx(), req)
	if err != nil {
		t.Fatalf("%v: %v", req, err)
	}
	return resp
}

func TestListFilters(t *testing.T) {
	for _, indexed := range []bool{false, true} {
		t.Run(fmt.Sprintf("indexed=%v", indexed), func(t *testing.T) {
			st, s := fixture(t)
			if indexed {
				sx := NewSearch(nil)
				if err := sx.Build(st); err != nil {
					t.Fatal(err)
				}
				s.WithSearch(sx, nil)
			}
			testListFilters(t, s)
		})
	}
}

func testListFilters(t *testing.T, s *Service) {
	for _, tc := range []struct {
		name string
		req  *accordv1.ListFederationCasesRequest
		want []string
	}{
		{"all", &accordv1.ListFederationCasesRequest{}, []string{
			"DE/DE-2022-000100", "PL/PL-2022-000010", "PL/PL-2022-000011",
			"UA/UA-2022-000001", "UA/UA-2022-000002", "UA/UA-2022-000003", "UA/UA-2022-000004", "UA/UA-2022-000005"}},
		{"member", &accordv1.ListFederationCasesRequest{Member: "PL"}, []string{"PL/PL-2022-000010", "PL/PL-2022-000011"}},
		{"member without records", &accordv1.ListFederationCasesRequest{Member: "FR"}, nil},
		{"place prefix, any case", &accordv1.ListFederationCasesRequest{Place: "kHARk*"}, []string{"PL/PL-2022-000011", "UA/UA-2022-000001", "UA/UA-2022-000002"}},
		{"place part of a word does not match", &accordv1.ListFederationCasesRequest{Place: "kHARk"}, nil},
		{"place without accents", &accordv1.ListFederationCasesRequest{Place: "krakow"}, []string{"PL/PL-2022-000010"}},
		{"place in another spelling", &accordv1.ListFederationCasesRequest{Place: "Charków"}, []string{"PL/PL-2022-000011", "UA/UA-2022-000001", "UA/UA-2022-000002"}},
		{"place in Cyrillic", &accordv1.ListFederationCasesRequest{Place: "Харків"}, []string{"PL/PL-2022-000011", "UA/UA-2022-000001", "UA/UA-2022-000002"}},
		{"place phrase", &accordv1.ListFederationCasesRequest{Place: "Харківська область"}, nil},
		{"place in Russian", &accordv1.ListFederationCasesRequest{Place: "Kharkov", Member: "UA"}, []string{"UA/UA-2022-000001", "UA/UA-2022-000002"}},
		{"title text", &accordv1.ListFederationCasesRequest{Text: "CASE pl-2022-000010"}, []string{"PL/PL-2022-000010"}},
		{"title text in another script", &accordv1.ListFederationCasesRequest{Text: "Касе"}, nil},
		{"place in the middle", &accordv1.ListFederationCasesRequest{Place: "  izium "}, []string{"UA/UA-2022-000002"}},
		{"crime code exact", &accordv1.ListFederationCasesRequest{CrimeCode: "RS-8.2.b.i"}, []string{
			"PL/PL-2022-000010", "PL/PL-2022-000011", "UA/UA-2022-000001", "UA/UA-2022-000002"}},
		{"crime code prefix does not match", &accordv1.ListFederationCasesRequest{CrimeCode: "RS-8.2"}, nil},
		{"one day, UTC", &accordv1.ListFederationCasesRequest{From: "2022-03-01", To: "2022-03-01"}, []string{
			"UA/UA-2022-000001", "UA/UA-2022-000002", "UA/UA-2022-000005"}},
		{"from only", &accordv1.ListFederationCasesRequest{From: "2022-04-02"}, []string{"PL/PL-2022-000011"}},
		{"to only", &accordv1.ListFederationCasesRequest{To: "2022-02-28"}, []string{"DE/DE-2022-000100", "UA/UA-2022-000004", "UA/UA-2022-000005"}},
		{"window overlapping the end", &accordv1.ListFederationCasesRequest{From: "2022-04-01", To: "2022-04-01"}, []string{"PL/PL-2022-000010"}},
		{"all filters", &accordv1.ListFederationCasesRequest{Member: "UA", Place: "kharkiv", CrimeCode: "RS-8.2.b.i", From: "2022-03-01", To: "2022-03-31"}, []string{
			"UA/UA-2022-000001", "UA/UA-2022-000002"}},
		{"place and date on the same incident", &accordv1.ListFederationCasesRequest{Place: "mariupol", From: "2022-03-01", To: "2022-03-02"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := list(t, s, tc.req)
			if got := ids(resp); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if resp.GetNextPageToken() != "" {
				t.Errorf("a next page token on the only page: %q", resp.GetNextPageToken())
			}
		})
	}
	// What a case carries.
	resp := list(t, s, &accordv1.ListFederationCasesRequest{Member: "UA", Place: "Mariupol"})
	c := resp.GetCases()[0]
	if c.GetSeq() != 3 || c.GetPublishTime().AsTime() != time.Date(2024, 5, 1, 12, 0, 2, 0, time.UTC) ||
		c.GetCase().GetTitle() != "Case UA-2022-000003" || len(c.GetCase().GetIncidents()) != 1 {
		t.Errorf("case: %v", c)
	}
}

func TestListPagination(t *testing.T) {
	for _, indexed := range []bool{false, true} {
		t.Run(fmt.Sprintf("indexed=%v", indexed), func(t *testing.T) { testListPagination(t, indexed) })
	}
}

func testListPagination(t *testing.T, indexed bool) {
	st := openStore(t)
	sx := NewSearch(nil)
	if indexed {
		st.SetHooks(store.Hooks{Fed: sx.Apply}) // the index follows the store from the start
	}
	var want []string
	for _, m := range []string{"DE", "PL", "UA"} {
		var cs []testCase
		for i := range 9 {
			id := fmt.Sprintf("%s-2022-%06d", m, i+1)
			cs = append(cs, testCase{id, "Kharkiv", "RS-8.2.b.i", "2022-03-01T10:00:00Z", ""})
			want = append(want, m+"/"+id)
		}
		put(t, st, m, cs...)
	}
	s := New(st, nil, nil, "LT", nil)
	if indexed {
		s.WithSearch(sx, nil)
		if sx.Len() != 27 {
			t.Fatalf("search index holds %d cases", sx.Len())
		}
	}
	for _, size := range []int32{1, 7, 9, 26, 27, 28} {
		var got []string
		tok, pages := "", 0
		for {
			resp := list(t, s, &accordv1.ListFederationCasesRequest{Place: "kharkiv", PageSize: size, PageToken: tok})
			pages++
			if len(resp.GetCases()) > int(size) {
				t.Fatalf("page of %d with page size %d", len(resp.GetCases()), size)
			}
			got = append(got, ids(resp)...)
			tok = resp.GetNextPageToken()
			if tok == "" {
				break
			}
			if pages > 100 {
				t.Fatal("no end")
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("page size %d: got %v", size, got)
		}
		if wantPages := (len(want) + int(size) - 1) / int(size); pages != wantPages {
			t.Errorf("page size %d: %d pages, want %d", size, pages, wantPages)
		}
	}
	// Default page size.
	if resp := list(t, s, &accordv1.ListFederationCasesRequest{}); len(resp.GetCases()) != 27 || resp.GetNextPageToken() != "" {
		t.Errorf("default page: %d cases, token %q", len(resp.GetCases()), resp.GetNextPageToken())
	}

	// A token of another query is refused, naming page_token.
	first := list(t, s, &accordv1.ListFederationCasesRequest{Place: "kharkiv", PageSize: 5})
	for _, req := range []*accordv1.ListFederationCasesRequest{
		{Place: "kharki", PageToken: first.GetNextPageToken()},
		{Member: "PL", Place: "kharkiv", PageToken: first.GetNextPageToken()},
		{PageToken: first.GetNextPageToken()},
		{Place: "kharkiv", From: "2022-03-01", PageToken: first.GetNextPageToken()},
		{Place: "kharkiv*", PageToken: first.GetNextPageToken()},
		{Place: "kharkiv", Text: "case", PageToken: first.GetNextPageToken()},
		{Place: "kharkiv", NearLat: 50, NearLon: 36.2, RadiusKm: 30, PageToken: first.GetNextPageToken()},
	} {
		_, err := s.ListFederationCases(userCtx(), req)
		wantInvalid(t, err, "page_token", "another query")
	}
	// The same filters spelt differently are the same query; the page size
	// may change.
	resp := list(t, s, &accordv1.ListFederationCasesRequest{Place: "  Харків", PageSize: 100, PageToken: first.GetNextPageToken()})
	if got := ids(resp); !slices.Equal(got, want[5:]) {
		t.Errorf("rest after the first page: %v", got)
	}
	for _, tok := range []string{"garbage!", "eyJ2IjoyfQ", "eyJ2IjoxLCJmIjoieCIsImEiOiJ4In0", first.GetNextPageToken()[1:]} {
		_, err := s.ListFederationCases(userCtx(), &accordv1.ListFederationCasesRequest{PageToken: tok})
		wantInvalid(t, err, "page_token", "not a page token")
	}
	// Another user of the member may not continue the list.
	other := analyst
	other.Name = "u-2"
	_, err := s.ListFederationCases(identity.NewContext(context.Background(), other), &accordv1.ListFederationCasesRequest{Place: "kharkiv", PageToken: first.GetNextPageToken()})
	wantInvalid(t, err, "page_token", "another caller")
}

func wantInvalid(t *testing.T, err error, field string, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want InvalidArgument naming %s", field)
	}
	if !errors.Is(err, grpcserver.ErrInvalidArgument) || status.Code(grpcserver.ToStatus(err)) != codes.InvalidArgument {
		t.Errorf("error %v: not InvalidArgument", err)
	}
	if !strings.Contains(err.Error(), field+": ") {
		t.Errorf("error %q does not name %s", err, field)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

func TestListBadFields(t *testing.T) {
	_, s := fixture(t)
	for _, tc := range []struct {
		req   *accordv1.ListFederationCasesRequest
		field string
	}{
		{&accordv1.ListFederationCasesRequest{Member: "pl"}, "member"},
		{&accordv1.ListFederationCasesRequest{Member: "P"}, "member"},
		{&accordv1.ListFederationCasesRequest{Member: "PL/UA"}, "member"},
		{&accordv1.ListFederationCasesRequest{Place: strings.Repeat("x", 201)}, "place"},
		{&accordv1.ListFederationCasesRequest{CrimeCode: strings.Repeat("x", 65)}, "crime_code"},
		{&accordv1.ListFederationCasesRequest{CrimeCode: " RS-8"}, "crime_code"},
		{&accordv1.ListFederationCasesRequest{From: "2022-3-1"}, "from"},
		{&accordv1.ListFederationCasesRequest{From: "2022-02-30"}, "from"},
		{&accordv1.ListFederationCasesRequest{From: "2022-03-01T00:00:00Z"}, "from"},
		{&accordv1.ListFederationCasesRequest{To: "yesterday"}, "to"},
		{&accordv1.ListFederationCasesRequest{From: "2022-03-02", To: "2022-03-01"}, "to"},
		{&accordv1.ListFederationCasesRequest{PageSize: -1}, "page_size"},
		{&accordv1.ListFederationCasesRequest{PageSize: 1001}, "page_size"},
		{&accordv1.ListFederationCasesRequest{Place: "*"}, "place"},
		{&accordv1.ListFederationCasesRequest{Text: strings.Repeat("x", 501)}, "text"},
		{&accordv1.ListFederationCasesRequest{NearLat: 95, NearLon: 30, RadiusKm: 5}, "near_lat"},
		{&accordv1.ListFederationCasesRequest{NearLat: 50, NearLon: -181, RadiusKm: 5}, "near_lon"},
		{&accordv1.ListFederationCasesRequest{NearLat: 50, NearLon: 30}, "radius_km"},
		{&accordv1.ListFederationCasesRequest{NearLat: 50, NearLon: 30, RadiusKm: 1000.5}, "radius_km"},
	} {
		_, err := s.ListFederationCases(userCtx(), tc.req)
		wantInvalid(t, err, tc.field)
	}
	// The bounds themselves are fine.
	for _, req := range []*accordv1.ListFederationCasesRequest{
		{PageSize: 1}, {PageSize: 1000}, {From: "2022-03-01", To: "2022-03-01"}, {Place: strings.Repeat("x", 200)},
	} {
		list(t, s, req)
	}
}

func TestListSkipsDamagedEntries(t *testing.T) {
	st, s := fixture(t)
	if _, _, err := st.FedApply("UA", "", []feed.Record{{CaseID: "UA-2022-000009", Seq: 9, Record: []byte("not a record")}}); err != nil {
		t.Fatal(err)
	}
	got := ids(list(t, s, &accordv1.ListFederationCasesRequest{Member: "UA"}))
	if len(got) != 5 || slices.Contains(got, "UA/UA-2022-000009") {
		t.Errorf("got %v", got)
	}
}

func TestFederationStatus(t *testing.T) {
	st, _ := fixture(t)
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	peers := []exchange.PeerStatus{
		{
			Member: "PL", Node: "spiffe://accord.test/member/PL/node/pl-1", Address: "pl:7400", Connected: true, Answering: true,
			LastHeard: now.Add(-time.Second), LastChange: now.Add(-2 * time.Second), CaughtUp: now.Add(-2 * time.Second), Head: 40, Seq: 40,
			Received: 40, Stale: 1,
		},
		{
			Member: "UA", Node: "spiffe://accord.test/member/UA/node/ua-1", Address: "ua:7400",
			LastHeard: now.Add(-30 * time.Second), LastChange: now.Add(-30 * time.Second), CaughtUp: now.Add(-90 * time.Second), Head: 120, Seq: 100,
			Received: 100, Refused: 3, Resyncs: 1, LastError: "rpc error: code = Unavailable desc = connection refused",
		},
		// Never caught up: lag since the last batch.
		{Member: "FR", Node: "spiffe://accord.test/member/FR/node/fr-1", Address: "fr:7400", Connected: true, Answering: true,
			LastHeard: now.Add(-10 * time.Second), LastChange: now.Add(-10 * time.Second), Head: 50, Seq: 20},
		// Frozen: the stream is open, the node silent; it had been caught
		// up a minute ago. The lag in time runs from then.
		{Member: "NL", Node: "spiffe://accord.test/member/NL/node/nl-1", Address: "nl:7400", Connected: true,
			LastHeard: now.Add(-time.Minute), LastChange: now.Add(-5 * time.Minute), CaughtUp: now.Add(-time.Minute), Head: 7, Seq: 7},
		// Never reached.
		{Member: "CZ", Node: "spiffe://accord.test/member/CZ/node/cz-1", Address: "cz:7400", LastError: "connection refused"},
	}
	s := New(st, func() []exchange.PeerStatus { return peers }, func() (uint64, uint64, error) { return 17, 4, nil }, "LT", nil)
	s.now = func() time.Time { return now }
	resp, err := s.FederationStatus(context.Background(), &accordv1.FederationStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetFeedHead() != 17 || resp.GetFeedPending() != 4 {
		t.Errorf("feed %d, pending %d", resp.GetFeedHead(), resp.GetFeedPending())
	}
	by := map[string]*accordv1.PeerSyncStatus{}
	var order []string
	for _, p := range resp.GetPeers() {
		by[p.GetMember()] = p
		order = append(order, p.GetMember())
	}
	// DE's records are held although the node does not pull from DE.
	if !slices.Equal(order, []string{"CZ", "DE", "FR", "NL", "PL", "UA"}) {
		t.Fatalf("members %v", order)
	}
	pl, ua, fr, cz, de, nl := by["PL"], by["UA"], by["FR"], by["CZ"], by["DE"], by["NL"]
	if !pl.GetConnected() || pl.GetLagRecords() != 0 || pl.GetLagSeconds() != 0 || pl.GetRecordsHeld() != 2 ||
		pl.GetReceived() != 40 || pl.GetStale() != 1 || pl.GetNode() != peers[0].Node || pl.GetAddress() != "pl:7400" ||
		!pl.GetLastSync().AsTime().Equal(now.Add(-2*time.Second)) || !pl.GetLastHeard().AsTime().Equal(now.Add(-time.Second)) ||
		!pl.GetAnswering() || pl.GetLastError() != "" {
		t.Errorf("PL: %v", pl)
	}
	if ua.GetConnected() || ua.GetLagRecords() != 20 || ua.GetLagSeconds() != 90 || ua.GetRecordsHeld() != 5 ||
		ua.GetRefused() != 3 || ua.GetResyncs() != 1 || !strings.Contains(ua.GetLastError(), "connection refused") ||
		!ua.GetCaughtUp().AsTime().Equal(now.Add(-90*time.Second)) {
		t.Errorf("UA: %v", ua)
	}
	if fr.GetLagRecords() != 30 || fr.GetLagSeconds() != 10 || fr.GetRecordsHeld() != 0 || fr.GetCaughtUp() != nil {
		t.Errorf("FR: %v", fr)
	}
	if cz.GetLagRecords() != 0 || cz.GetLagSeconds() != 0 || cz.GetLastSync() != nil || cz.GetLastError() != "connection refused" {
		t.Errorf("CZ: %v", cz)
	}
	if nl.GetAnswering() || !nl.GetConnected() || nl.GetLagSeconds() != 60 || !nl.GetLastHeard().AsTime().Equal(now.Add(-time.Minute)) ||
		!nl.GetLastSync().AsTime().Equal(now.Add(-5*time.Minute)) {
		t.Errorf("NL (frozen): %v", nl)
	}
	if de.GetRecordsHeld() != 1 || de.GetNode() != "" || de.GetConnected() {
		t.Errorf("DE: %v", de)
	}

	// A failing feed is an error; no status and no feed are fine.
	broken := New(st, nil, func() (uint64, uint64, error) { return 0, 0, errors.New("disk on fire") }, "LT", nil)
	if _, err := broken.FederationStatus(context.Background(), &accordv1.FederationStatusRequest{}); err == nil {
		t.Error("a failing feed gave no error")
	}
	resp, err = New(st, nil, nil, "LT", nil).FederationStatus(context.Background(), &accordv1.FederationStatusRequest{})
	if err != nil || len(resp.GetPeers()) != 3 || resp.GetFeedHead() != 0 {
		t.Errorf("without a puller: %v, %v", resp, err)
	}
}

func TestAllow(t *testing.T) {
	s := New(openStore(t), nil, nil, "LT", nil)
	p := grpcserver.NewPolicy()
	s.Allow(p)
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"spiffe://accord.test/member/LT/user/analyst", true},
		{"spiffe://accord.test/member/PL/user/analyst", false},
		{"spiffe://accord.test/member/LT/node/lt-1", false},
	} {
		id, err := identity.Parse(tc.uri)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{accordv1.FederationIndexService_ListFederationCases_FullMethodName, accordv1.FederationIndexService_FederationStatus_FullMethodName,
			accordv1.FederationIndexService_GetFederationCase_FullMethodName} {
			err := p.Check(m, id)
			if (err == nil) != tc.ok {
				t.Errorf("%s %s: %v", tc.uri, m, err)
			}
			if err != nil && !errors.Is(err, grpcserver.ErrPermissionDenied) {
				t.Errorf("%s: %v is not PermissionDenied", tc.uri, err)
			}
		}
	}
}
