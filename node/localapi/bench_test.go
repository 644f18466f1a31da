package localapi

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/node/casegen"
	"github.com/accordfed/accord/node/casesearch"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// importGenerated imports n cases of casegen (seed) of member UA into st,
// without evidence (no custody sealer here).
func importGenerated(st *store.Store, n int, seed uint64) error {
	actor := store.Actor{ID: "spiffe://accord.test/member/UA/user/bench"}
	batch := make([]*accordv1.Case, 0, 2000)
	flush := func() error {
		_, err := st.ImportBatch(batch, actor)
		batch = batch[:0]
		return err
	}
	if err := casegen.Generate(casegen.Options{Member: "UA", Cases: n, Seed: seed}, func(c *accordv1.Case) error {
		c.Evidence = nil
		batch = append(batch, c)
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	}); err != nil {
		return err
	}
	return flush()
}

// benchStore is a store of ACCORD_BENCH_OWN_CASES generated own cases
// (default 190,000), closed when the benchmark ends.
func benchStore(b *testing.B) *store.Store {
	b.Helper()
	if testing.Short() {
		b.Skip("imports 190,000 cases; not with -short")
	}
	n := 190_000
	if v, err := strconv.Atoi(os.Getenv("ACCORD_BENCH_OWN_CASES")); err == nil && v > 0 {
		n = v
	}
	st, err := store.Open(filepath.Join(b.TempDir(), "store.db"), "UA", store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := importGenerated(st, n, 9); err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkOwnCaseSearch measures ListCases pages (50 cases) with the
// place, near and text filters over ACCORD_BENCH_OWN_CASES of the
// office's own cases (default 190,000: Ukraine's register), each query
// paged up to five pages.
func BenchmarkOwnCaseSearch(b *testing.B) {
	st := benchStore(b)
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start := time.Now()
	ix := casesearch.NewIndex()
	if err := BuildSearch(st, ix); err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	b.Logf("search index of %d own cases built in %s, heap +%d MiB", ix.Len(), took.Round(time.Millisecond), (int64(m1.HeapAlloc)-int64(m0.HeapAlloc))>>20)
	s := New(st, nil, nil, b.TempDir(), ImportLimits{}, nil).WithSearch(ix, nil)
	ctx := identity.NewContext(context.Background(), identity.Identity{Federation: "accord.test", Member: "UA", Kind: identity.KindUser, Name: "bench"})
	queries := []*accordv1.CaseFilter{
		{Place: "Kharkiv"}, {Place: "Харків"}, {Place: "Charków"}, {Place: "Mariupol"}, {Place: "Bucha"}, {Place: "Izium"},
		{Place: "Kherson"}, {Place: "Bakhmut"}, {Place: "Irpin"}, {Place: "Chernihiv"},
		{NearLat: 49.99, NearLon: 36.23, RadiusKm: 25}, {NearLat: 50.45, NearLon: 30.52, RadiusKm: 50},
		{Text: "shelling"}, {Place: "Kharkiv", Text: "shelling"},
	}
	var lat []time.Duration
	for b.Loop() {
		for _, f := range queries {
			tok := ""
			for range 5 {
				t0 := time.Now()
				resp, err := s.ListCases(ctx, &accordv1.ListCasesRequest{Filter: f, PageToken: tok})
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				if tok = resp.GetNextPageToken(); tok == "" {
					break
				}
			}
		}
	}
	reportLatency(b, lat)
	b.ReportMetric(float64(len(lat)), "pages")
}

// reportLatency reports the percentiles of per-call latencies, in ms.
func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.95), "p95-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkOwnCaseAggregate measures AggregateCases over
// ACCORD_BENCH_OWN_CASES of the office's own cases (default 190,000):
// the country's map without a filter, with a date range and a place.
func BenchmarkOwnCaseAggregate(b *testing.B) {
	st := benchStore(b)
	ix := casesearch.NewIndex()
	if err := BuildSearch(st, ix); err != nil {
		b.Fatal(err)
	}
	s := New(st, nil, nil, b.TempDir(), ImportLimits{}, nil).WithSearch(ix, nil)
	ctx := identity.NewContext(context.Background(), identity.Identity{Federation: "accord.test", Member: "UA", Kind: identity.KindUser, Name: "bench"})
	country := &accordv1.GeoBox{South: 44, West: 22, North: 53, East: 41}
	from, to := time.Date(2022, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2022, 9, 1, 0, 0, 0, 0, time.UTC)
	for _, bc := range []struct {
		name string
		req  *accordv1.AggregateCasesRequest
	}{
		{"country", &accordv1.AggregateCasesRequest{CellDeg: 0.25, Bounds: country}},
		{"dates", &accordv1.AggregateCasesRequest{CellDeg: 0.25, Bounds: country,
			Filter: &accordv1.CaseFilter{IncidentAfter: timestamppb.New(from), IncidentBefore: timestamppb.New(to)}}},
		{"place", &accordv1.AggregateCasesRequest{CellDeg: 0.05, Bounds: country, Filter: &accordv1.CaseFilter{Place: "Kharkiv"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				t0 := time.Now()
				if _, err := s.AggregateCases(ctx, bc.req); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			reportLatency(b, lat)
		})
	}
}
