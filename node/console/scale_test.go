package console

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/node/casegen"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/daemon/daemontest"
	"github.com/accordfed/accord/node/fedindex/fedindextest"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// The scale of TestConsoleAtScale, from the environment.
func scaleEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// scaleFedMembers share the federation index of the node under test
// equally. They are not admitted in the test's registry: the node holds
// their records (as it would after pulling them) and pulls from nobody
// but PL.
var scaleFedMembers = []string{"DE", "FR", "LT", "NL", "SE"}

// fillFederationIndex writes n generated shared cases of scaleFedMembers
// into the store file of a node that has not started, through the store's
// own FedApply (what the puller calls with each verified batch), and
// returns some words of their titles.
func fillFederationIndex(t *testing.T, path, member string, n int) []string {
	t.Helper()
	st, err := store.Open(path, member, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := rand.New(rand.NewPCG(11, 12))
	var words []string
	for mi, m := range scaleFedMembers {
		err := fedindextest.Store(st, m, n/len(scaleFedMembers), uint64(mi+1), func(c *accordv1.Case) {
			if r.IntN(2000) != 0 {
				return
			}
			for _, w := range strings.Fields(c.GetTitle()) {
				if len([]rune(w)) >= 5 && strings.Trim(w, "0123456789-.,:;()") == w {
					words = append(words, w)
					break
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return words
}

// importOwnCases imports n generated cases of UA through the node's local
// API (CaseService.ImportCases, as accordctl cases import does) and
// returns their ids.
func importOwnCases(ctx context.Context, t *testing.T, cs accordv1.CaseServiceClient, n int) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := casegen.WriteJSONL(&buf, casegen.Options{Member: "UA", Cases: n, Seed: 21}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	if err := casegen.Generate(casegen.Options{Member: "UA", Cases: n, Seed: 21}, func(c *accordv1.Case) error {
		ids = append(ids, c.GetCaseId())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	stream, err := cs.ImportCases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&accordv1.ImportCasesRequest{Body: &accordv1.ImportCasesRequest_Options{Options: &accordv1.ImportOptions{Source: "casegen"}}}); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(&buf)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var chunk []*accordv1.ImportLine
		no := int64(0)
		send := func() error {
			err := stream.Send(&accordv1.ImportCasesRequest{Body: &accordv1.ImportCasesRequest_Chunk{Chunk: &accordv1.ImportChunk{Lines: chunk}}})
			chunk = nil
			return err
		}
		for sc.Scan() {
			no++
			chunk = append(chunk, &accordv1.ImportLine{Number: no, Json: bytes.Clone(sc.Bytes())})
			if len(chunk) == 256 {
				if send() != nil {
					return
				}
			}
		}
		if len(chunk) > 0 && send() != nil {
			return
		}
		_ = stream.CloseSend()
	}()
	var res *accordv1.ImportResult
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if r := msg.GetResult(); r != nil {
			res = r
		}
	}
	if res == nil || res.GetCreated() != int64(n) {
		t.Fatalf("import of %d own cases: %v", n, res)
	}
	return ids
}

// proposeQueue has PL's analyst propose decisions between PL's cases and
// UA's, waiting for UA's answer, through PL's node (CreateMatchDecision:
// a signed registry command each, replicated by Raft). In each group of
// four decisions one UA case is in two, so that a quarter of the queue
// forms incident clusters of three cases.
func proposeQueue(ctx context.Context, t *testing.T, pl accordv1.CoordinationServiceClient, own []string, n int) {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				r := rand.New(rand.NewPCG(uint64(i), 99))
				ua := own[((i/4)*3+min(i%4, 2))%len(own)]
				_, err := pl.CreateMatchDecision(ctx, &accordv1.CreateMatchDecisionRequest{RequestId: fmt.Sprintf("scale-%d", i), MatchDecision: &accordv1.MatchDecision{
					Cases: []*accordv1.RegistryCaseRef{{Member: "PL", CaseId: fmt.Sprintf("PL-2022-%06d", i)}, {Member: "UA", CaseId: ua}},
					Score: 0.5 + 0.5*r.Float64(), Reasons: []string{"same place and day", "a video in common"},
				}})
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d proposals failed, the first: %v", len(errs), n, errs[0])
	}
}

// matchIndexRecords reads accord_match_index_records from a node's
// metrics.
func matchIndexRecords(addr string) (int, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(l, "accord_match_index_records "); ok {
			x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(x), err
		}
	}
	return 0, errors.New("no accord_match_index_records yet")
}

// pct is the p-th quantile of sorted latencies, in ms.
func pct(lat []time.Duration, p float64) float64 {
	return float64(lat[int(p*float64(len(lat)-1)+0.5)]) / float64(time.Millisecond)
}

// TestConsoleAtScale measures the console's pages over HTTP and its first
// page in headless Chromium, with a node whose federation index holds
// ACCORD_BENCH_CONSOLE_FED cases (default 1,000,000), whose office holds
// ACCORD_BENCH_CONSOLE_OWN cases (default 20,000) and whose review queue
// holds ACCORD_BENCH_CONSOLE_QUEUE decisions (default 5,000). It logs
// p50/p95 per page and asserts nothing about time: a benchmark run by
// hand (docs/BENCHMARKS.md), skipped unless ACCORD_BENCH_CONSOLE=1.
func TestConsoleAtScale(t *testing.T) {
	if os.Getenv("ACCORD_BENCH_CONSOLE") != "1" {
		t.Skip("a benchmark of several minutes with a node of 1,000,000 federation cases: set ACCORD_BENCH_CONSOLE=1 to run it (docs/console.md)")
	}
	nFed := scaleEnv("ACCORD_BENCH_CONSOLE_FED", 1_000_000)
	nOwn := scaleEnv("ACCORD_BENCH_CONSOLE_OWN", 20_000)
	nQueue := scaleEnv("ACCORD_BENCH_CONSOLE_QUEUE", 5_000)
	nReq := scaleEnv("ACCORD_BENCH_CONSOLE_REQUESTS", 60)

	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	var words []string
	filled := ""
	start := time.Now()
	nodes, _ := daemontest.StartFederationConfigured(t, fed, nil, func(member string, cfg *config.Config) {
		if member != "UA" {
			return
		}
		if filled == "" { // once, even when the federation starts again on other ports
			filled = cfg.DataDir
			words = fillFederationIndex(t, filepath.Join(filled, "store.db"), "UA", nFed)
			t.Logf("federation index of %d cases written in %s", nFed, time.Since(start).Round(time.Second))
		}
		cfg.DataDir = filled
	}, "UA", "PL")
	t.Logf("nodes started (UA's search index built) after %s", time.Since(start).Round(time.Second))
	var ua, pl *daemontest.Node
	for _, n := range nodes {
		if n.Member == "UA" {
			ua = n
		} else {
			pl = n
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	conn := daemontest.LocalConn(t, ua.D, fed.User("UA", "analyst"), "UA")
	t0 := time.Now()
	own := importOwnCases(ctx, t, accordv1.NewCaseServiceClient(conn), nOwn)
	t.Logf("%d own cases imported in %s", nOwn, time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	plCoord := daemontest.Coordination(t, pl.D, fed.User("PL", "analyst"), "PL")
	proposeQueue(ctx, t, plCoord, own, nQueue)
	t.Logf("%d decisions proposed in %s", nQueue, time.Since(t0).Round(time.Millisecond))

	// The node's background work after a start settles first: the
	// matcher's first pass over every case, the publication of the
	// office's cases, the queue replicated to UA.
	coord := accordv1.NewCoordinationServiceClient(conn)
	idx := accordv1.NewFederationIndexServiceClient(conn)
	t0 = time.Now()
	lastSaid := time.Now()
	lastIndexed, indexedAt := 0, time.Now()
	raftnettest.WaitFor(t, 25*time.Minute, func() (err error) {
		defer func() {
			if err != nil && time.Since(lastSaid) > time.Minute {
				t.Logf("waiting: %v", err)
				lastSaid = time.Now()
			}
		}()
		r, err := coord.ListMatchDecisions(ctx, &accordv1.ListMatchDecisionsRequest{AwaitingAnswer: true, PageSize: 1})
		if err != nil {
			return err
		}
		if r.GetTotalSize() < int32(nQueue) {
			return fmt.Errorf("UA's queue holds %d decisions", r.GetTotalSize())
		}
		st, err := idx.FederationStatus(ctx, &accordv1.FederationStatusRequest{})
		if err != nil {
			return err
		}
		if st.GetFeedPending() > 0 {
			return fmt.Errorf("%d changes to publish", st.GetFeedPending())
		}
		indexed, err := matchIndexRecords(ua.D.MetricsAddr())
		if err != nil {
			return err
		}
		// Done when it has read the federation index and has added no
		// case of the office's for 15 s (each is matched against the
		// million as it comes).
		if indexed != lastIndexed {
			lastIndexed, indexedAt = indexed, time.Now()
		}
		if indexed <= nFed || time.Since(indexedAt) < 15*time.Second {
			return fmt.Errorf("the matcher has indexed %d cases", indexed)
		}
		return nil
	})
	t.Logf("background work settled after %s more", time.Since(t0).Round(time.Second))

	token := randomToken()
	srv, err := New(Options{Conn: conn, Member: "UA", User: "analyst", LoginToken: token})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	f := &fixture{consoles: map[string]*httptest.Server{"UA": hs}, tokens: map[string]string{"UA": token}}
	b := f.signIn(t, "UA")

	// The first page shows what an office with this queue sees: a full
	// page of decisions and the clusters of three cases.
	if _, page := b.page("/queue"); !strings.Contains(page, `<table class="clusters">`) || strings.Count(page, `href="/matches/`) < queuePageSize {
		t.Fatalf("the queue does not show %d decisions and the clusters:\n%s", queuePageSize, page[:min(len(page), 3000)])
	}
	if len(words) == 0 {
		words = []string{"Shelling"}
	}
	places := []string{"Харків", "Маріуполь", "Бахмут", "Херсон", "Ізюм", "Чернігів"}
	pages := []struct {
		name string
		urls func(i int) string
	}{
		{"/queue (first page)", func(int) string { return "/queue" }},
		{"/queue?member=PL&min_score=0.9", func(int) string { return "/queue?member=PL&min_score=0.9" }},
		{"/federation?place=<Cyrillic>", func(i int) string { return "/federation?place=" + url.QueryEscape(places[i%len(places)]) }},
		{"/federation?text=<title word>", func(i int) string { return "/federation?text=" + url.QueryEscape(words[i%len(words)]) }},
		{"/federation?from=&to= (a month)", func(i int) string {
			d := time.Date(2022, time.Month(3+i%6), 1, 0, 0, 0, 0, time.UTC)
			return "/federation?from=" + d.Format(time.DateOnly) + "&to=" + d.AddDate(0, 1, -1).Format(time.DateOnly)
		}},
		// The maps of the whole country, as the pages ask when they open
		// (zoom 6, Ukraine in view): the node aggregates every matching
		// case into cells.
		{"/federation/map.json (whole country)", func(int) string {
			return "/federation/map.json?zoom=6&south=44&west=22&north=52.5&east=40.5"
		}},
		{"/federation/map.json?from=&to= (a month, whole country)", func(i int) string {
			d := time.Date(2022, time.Month(3+i%6), 1, 0, 0, 0, 0, time.UTC)
			return "/federation/map.json?zoom=6&south=44&west=22&north=52.5&east=40.5&from=" + d.Format(time.DateOnly) + "&to=" + d.AddDate(0, 1, -1).Format(time.DateOnly)
		}},
		{"/cases/map.json (own, whole country)", func(int) string { return "/cases/map.json?zoom=6&south=44&west=22&north=52.5&east=40.5" }},
		{"/cases (own; a search each time)", func(i int) string {
			if i%2 == 0 {
				return "/cases"
			}
			return "/cases?place=" + url.QueryEscape(places[i%len(places)])
		}},
	}
	if path := os.Getenv("ACCORD_BENCH_CONSOLE_CPUPROFILE"); path != "" {
		// The whole process: the node and the console.
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	var report strings.Builder
	fmt.Fprintf(&report, "\n| page | requests | p50 ms | p95 ms | max ms |\n|---|---:|---:|---:|---:|\n")
	for _, p := range pages {
		// One request first, not counted (a cold read of the store's
		// pages by a page seen for the first time).
		if code, body := b.page(p.urls(nReq)); code != http.StatusOK {
			t.Fatalf("%s: %d\n%s", p.name, code, body[:min(len(body), 2000)])
		}
		lat := make([]time.Duration, 0, nReq)
		for i := range nReq {
			t0 := time.Now()
			code, body := b.page(p.urls(i))
			lat = append(lat, time.Since(t0))
			if code != http.StatusOK {
				t.Fatalf("%s (%s): %d\n%s", p.name, p.urls(i), code, body[:min(len(body), 2000)])
			}
		}
		slices.Sort(lat)
		fmt.Fprintf(&report, "| `%s` | %d | %.1f | %.1f | %.1f |\n", p.name, len(lat), pct(lat, 0.5), pct(lat, 0.95), pct(lat, 1))
	}
	t.Logf("console over HTTP, %d federation cases, %d own cases, %d decisions waiting:%s", nFed, nOwn, nQueue, report.String())

	t.Run("browser", func(t *testing.T) {
		h := newHeadless(t)
		tok := randomToken()
		srv, err := New(Options{Conn: conn, Member: "UA", User: "analyst", LoginToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		bs := httptest.NewServer(srv)
		t.Cleanup(bs.Close)
		table := chromedp.CSS(`main table`)
		h.run(t, "sign in", chromedp.Navigate(bs.URL+"/login?token="+tok), chromedp.WaitVisible(table))
		const loads = 11
		var inter, dcl, load []float64
		for range loads {
			h.run(t, "the queue", chromedp.Navigate(bs.URL+"/queue"), chromedp.WaitVisible(table))
			v := value(t, h, "timing", chromedp.Evaluate[[]float64](`(() => { const n = performance.getEntriesByType("navigation")[0];
				return [n.domInteractive, n.domContentLoadedEventEnd, n.loadEventEnd]; })()`))
			inter, dcl, load = append(inter, v[0]), append(dcl, v[1]), append(load, v[2])
		}
		med := func(x []float64) float64 { slices.Sort(x); return x[len(x)/2] }
		t.Logf("first page (/queue) in Chromium, median of %d loads: domInteractive %.0f ms, DOMContentLoaded %.0f ms, load %.0f ms",
			loads, med(inter), med(dcl), med(load))
	})
}
