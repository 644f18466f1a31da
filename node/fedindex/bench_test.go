package fedindex

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accordfed/accord/node/fedindex/fedindextest"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// benchMembers share the synthetic federation index equally.
var benchMembers = []string{"DE", "FR", "LT", "PL", "UA"}

// benchIndex is a store holding a synthetic federation index of
// ACCORD_BENCH_FED_CASES cases (default 1,000,000) from casegen, built
// once per process, and a sample of its keys and titles.
var benchIndex struct {
	once   sync.Once
	st     *store.Store
	dir    string
	keys   [][2]string
	titles []string
	err    error
}

func benchFedCases() int {
	if v, err := strconv.Atoi(os.Getenv("ACCORD_BENCH_FED_CASES")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

func loadBenchIndex(b *testing.B) *store.Store {
	b.Helper()
	if testing.Short() {
		b.Skip("builds a store of 1,000,000 shared cases; not with -short")
	}
	benchIndex.once.Do(func() {
		n := benchFedCases()
		dir, err := os.MkdirTemp("", "fedindex-bench")
		if err != nil {
			benchIndex.err = err
			return
		}
		benchIndex.dir = dir
		st, err := store.Open(filepath.Join(dir, "store.db"), "LT", store.Options{})
		if err != nil {
			benchIndex.err = err
			return
		}
		benchIndex.st = st
		start := time.Now()
		r := rand.New(rand.NewPCG(3, 4))
		for mi, m := range benchMembers {
			err := fedindextest.Store(st, m, n/len(benchMembers), uint64(mi+1), func(c *accordv1.Case) {
				if r.IntN(100) == 0 {
					benchIndex.keys = append(benchIndex.keys, [2]string{m, c.GetCaseId()})
					benchIndex.titles = append(benchIndex.titles, c.GetTitle())
				}
			})
			if err != nil {
				benchIndex.err = err
				return
			}
		}
		fi, _ := os.Stat(filepath.Join(dir, "store.db"))
		fmt.Fprintf(os.Stderr, "federation index of %d cases stored in %s (%d MiB)\n", n, time.Since(start).Round(time.Second), fi.Size()>>20)
	})
	if benchIndex.err != nil {
		b.Fatal(benchIndex.err)
	}
	return benchIndex.st
}

// TestMain removes the benchmark's store.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchIndex.st != nil {
		benchIndex.st.Close()
		os.RemoveAll(benchIndex.dir)
	}
	os.Exit(code)
}

func rssKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}

func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// benchSearch is built once: the search index over the bench store.
var benchSearch struct {
	once sync.Once
	sx   *Search
}

func loadBenchSearch(b *testing.B, st *store.Store) *Search {
	b.Helper()
	benchSearch.once.Do(func() {
		_ = st.Trim()
		h0, r0 := heap(), rssKiB()
		start := time.Now()
		sx := NewSearch(nil)
		if err := sx.Build(st); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		_ = st.Trim() // the scan's pages of the store's file
		h1, r1 := heap(), rssKiB()
		fmt.Fprintf(os.Stderr, "search index of %d cases built in %s: heap +%d MiB, RSS +%d MiB (after trimming the store's pages)\n",
			sx.Len(), took.Round(time.Millisecond), (int64(h1)-int64(h0))>>20, (r1-r0)>>10)
		benchSearch.sx = sx
	})
	return benchSearch.sx
}

// report turns latencies into percentile metrics, in ms.
func report(b *testing.B, lat []time.Duration) {
	reportIn(b, lat, time.Millisecond, "ms")
}

func reportIn(b *testing.B, lat []time.Duration, unit time.Duration, name string) {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))]) / float64(unit)
	}
	b.ReportMetric(pct(0.50), "p50-"+name)
	b.ReportMetric(pct(0.95), "p95-"+name)
	b.ReportMetric(pct(0.99), "p99-"+name)
	b.ReportMetric(float64(lat[len(lat)-1])/float64(unit), "max-"+name)
	b.ReportMetric(float64(len(lat)), "pages")
	b.ReportMetric(0, "ns/op")
}

// pages runs a query page after page (up to maxPages, 100 cases each),
// timing each page.
func pages(b *testing.B, s *Service, req *accordv1.ListFederationCasesRequest, maxPages int, lat *[]time.Duration) int {
	n := 0
	req.PageToken = ""
	for range maxPages {
		t0 := time.Now()
		resp, err := s.ListFederationCases(userCtx(), req)
		*lat = append(*lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		n += len(resp.GetCases())
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	return n
}

var benchPlaces = []string{"Kharkiv", "Харків", "Kharkov", "Charków", "Charkiw", "Mariupol", "Маріуполь", "Bucha", "Izium",
	"Kherson", "Chernihiv", "Czernihów", "Bakhmut", "Бахмут", "Zaporizhzhia", "Irpin", "Kramatorsk", "Mykolaiv", "Sumy", "Kyiv"}

// BenchmarkFederationSearch measures ListFederationCases pages (100
// cases) at ACCORD_BENCH_FED_CASES shared cases: folded place search,
// near and text, each query paged up to five pages from the start.
func BenchmarkFederationSearch(b *testing.B) {
	st := loadBenchIndex(b)
	sx := loadBenchSearch(b, st)
	s := New(st, nil, nil, "LT", nil).WithSearch(sx, nil)
	r := rand.New(rand.NewPCG(5, 6))
	b.Run("place", func(b *testing.B) {
		var lat []time.Duration
		found := 0
		for b.Loop() {
			for _, p := range benchPlaces {
				found += pages(b, s, &accordv1.ListFederationCasesRequest{Place: p}, 5, &lat)
			}
		}
		if found == 0 {
			b.Fatal("nothing found")
		}
		report(b, lat)
	})
	b.Run("place-scan-without-index", func(b *testing.B) {
		// The listing without the search index: a page scans and decodes
		// the index until it is full; a rare place (or none) scans it all.
		scan := New(st, nil, nil, "LT", nil)
		var lat []time.Duration
		for b.Loop() {
			for _, p := range []string{"Izium", "Lemberg"} {
				pages(b, scan, &accordv1.ListFederationCasesRequest{Place: p}, 1, &lat)
			}
		}
		report(b, lat)
	})
	b.Run("place+member+dates", func(b *testing.B) {
		var lat []time.Duration
		for b.Loop() {
			for _, p := range benchPlaces {
				pages(b, s, &accordv1.ListFederationCasesRequest{Place: p, Member: benchMembers[r.IntN(len(benchMembers))], From: "2022-03-01", To: "2022-06-30"}, 5, &lat)
			}
		}
		report(b, lat)
	})
	b.Run("near", func(b *testing.B) {
		points := [][2]float64{{49.99, 36.23}, {50.45, 30.52}, {47.1, 37.55}, {50.54, 30.21}, {46.64, 32.62}, {48.59, 38.0}}
		var lat []time.Duration
		for b.Loop() {
			for _, p := range points {
				for _, km := range []float64{5, 25, 100} {
					pages(b, s, &accordv1.ListFederationCasesRequest{NearLat: p[0], NearLon: p[1], RadiusKm: km}, 5, &lat)
				}
			}
		}
		report(b, lat)
	})
	b.Run("text", func(b *testing.B) {
		var lat []time.Duration
		for b.Loop() {
			for range 20 {
				words := strings.Fields(benchIndex.titles[r.IntN(len(benchIndex.titles))])
				text := words[r.IntN(len(words))]
				if len(words) > 2 && r.IntN(2) == 0 {
					text += " " + words[r.IntN(len(words))]
				}
				if strings.Trim(text, "0123456789-.,:;()") == "" {
					continue
				}
				pages(b, s, &accordv1.ListFederationCasesRequest{Text: text}, 5, &lat)
			}
		}
		report(b, lat)
	})
}

// BenchmarkGetFederationCase measures GetFederationCase of random held
// cases (and one in ten absent) at ACCORD_BENCH_FED_CASES shared cases.
func BenchmarkGetFederationCase(b *testing.B) {
	st := loadBenchIndex(b)
	s := New(st, nil, nil, "LT", nil)
	r := rand.New(rand.NewPCG(7, 8))
	const lookups = 20_000
	lat := make([]time.Duration, 0, lookups)
	for b.Loop() {
		lat = lat[:0]
		for range lookups {
			k := benchIndex.keys[r.IntN(len(benchIndex.keys))]
			absent := r.IntN(10) == 0
			if absent {
				k[1] += "-X"
			}
			t0 := time.Now()
			_, err := s.GetFederationCase(userCtx(), &accordv1.GetFederationCaseRequest{Member: k[0], CaseId: k[1]})
			lat = append(lat, time.Since(t0))
			if (err != nil) != absent {
				b.Fatalf("%v: %v", k, err)
			}
		}
	}
	reportIn(b, lat, time.Microsecond, "µs")
}

// BenchmarkFederationAggregate measures AggregateFederationCases over
// ACCORD_BENCH_FED_CASES shared cases (default 1,000,000): the map of
// the whole country (Ukraine's box, 0.25° cells, and the whole world at
// 1° cells) without a filter, with a date range, a crime code, a member
// and a place.
func BenchmarkFederationAggregate(b *testing.B) {
	st := loadBenchIndex(b)
	sx := loadBenchSearch(b, st)
	s := New(st, nil, nil, "LT", nil).WithSearch(sx, nil)
	country := &accordv1.GeoBox{South: 44, West: 22, North: 53, East: 41}
	for _, bc := range []struct {
		name string
		req  *accordv1.AggregateFederationCasesRequest
	}{
		{"country", &accordv1.AggregateFederationCasesRequest{CellDeg: 0.25, Bounds: country}},
		{"world", &accordv1.AggregateFederationCasesRequest{CellDeg: 1}},
		{"dates", &accordv1.AggregateFederationCasesRequest{CellDeg: 0.25, Bounds: country, From: "2022-06-01", To: "2022-08-31"}},
		{"crime", &accordv1.AggregateFederationCasesRequest{CellDeg: 0.25, Bounds: country, CrimeCode: "RS-8.2.b.iv"}},
		{"member", &accordv1.AggregateFederationCasesRequest{CellDeg: 0.25, Bounds: country, Member: "UA"}},
		{"place", &accordv1.AggregateFederationCasesRequest{CellDeg: 0.05, Bounds: country, Place: "Kharkiv"}},
		{"place+dates", &accordv1.AggregateFederationCasesRequest{CellDeg: 0.05, Bounds: country, Place: "Харків", From: "2022-03-01", To: "2022-12-31"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var lat []time.Duration
			cases := int64(0)
			for b.Loop() {
				t0 := time.Now()
				resp, err := s.AggregateFederationCases(userCtx(), bc.req)
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				cases = resp.GetCaseCount()
			}
			report(b, lat)
			b.ReportMetric(float64(cases), "cases")
		})
	}
}
