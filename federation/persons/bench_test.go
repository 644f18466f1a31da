package persons_test

// Benchmarks of person matching between members (docs/BENCHMARKS.md,
// "person tokens"): the matcher's Prefetch of a whole register against one
// peer over gRPC with mutual TLS on loopback, and lookups of the register of
// interviewed persons against an index of a million shared cases.
//
// Sizes come from the environment (defaults in parentheses):
//
//	ACCORD_BENCH_PREFETCH       persons prefetched (10,000)
//	ACCORD_BENCH_LOOKUP_CASES   shared cases in the index (1,000,000)
//	ACCORD_BENCH_LOOKUP_POOL    distinct persons per member (50,000)
//	ACCORD_BENCH_LOOKUPS        lookups per iteration (1,000)

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/persons"
	"github.com/accordfed/accord/federation/persontoken"
	"github.com/accordfed/accord/federation/pki/pkitest"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

func benchSize(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// Names in Ukraine's national romanisation: node/casegen's pools and more
// common names, with patronymics, so that a register of 100,000 persons
// holds realistic repetitions (the same name with other years or
// patronymics) rather than random strings.
var (
	benchMale = []string{"Oleksandr", "Serhii", "Andrii", "Volodymyr", "Mykola", "Ivan", "Vasyl", "Petro",
		"Dmytro", "Yurii", "Oleh", "Viktor", "Mykhailo", "Bohdan", "Taras", "Roman", "Yaroslav", "Maksym",
		"Artem", "Denys", "Ihor", "Pavlo", "Anatolii", "Vitalii", "Stepan", "Hryhorii", "Yevhen", "Valentyn",
		"Vadym", "Kostiantyn", "Oleksii", "Borys", "Valerii", "Hennadii", "Danylo", "Zakhar", "Illia",
		"Kyrylo", "Leonid", "Marko", "Matvii", "Nazar", "Ostap", "Ruslan", "Rostyslav", "Sviatoslav",
		"Stanislav", "Tymofii", "Fedir", "Yakiv"}
	benchFemale = []string{"Olena", "Nataliia", "Iryna", "Tetiana", "Oksana", "Svitlana", "Yuliia", "Liudmyla",
		"Kateryna", "Mariia", "Hanna", "Halyna", "Valentyna", "Larysa", "Nadiia", "Viktoriia", "Anastasiia",
		"Daryna", "Sofiia", "Khrystyna", "Oleksandra", "Lesia", "Zoriana", "Vira", "Liubov", "Inna", "Alla",
		"Raisa", "Tamara", "Olha", "Anna", "Alina", "Antonina", "Bohdana", "Valeriia", "Veronika", "Dariia",
		"Diana", "Yevheniia", "Zhanna", "Zinaida", "Zlata", "Lidiia", "Marharyta", "Myroslava", "Nina",
		"Polina", "Roksolana", "Uliana", "Marta"}
	benchSurnames = []string{"Shevchenko", "Kovalenko", "Bondarenko", "Tkachenko", "Kravchenko", "Oliinyk",
		"Shevchuk", "Polishchuk", "Lysenko", "Marchenko", "Moroz", "Savchenko", "Rudenko", "Petrenko",
		"Klymenko", "Pavlenko", "Kuzmenko", "Ponomarenko", "Kharchenko", "Melnyk", "Boiko", "Tkachuk",
		"Kovalchuk", "Kravets", "Honcharuk", "Hrytsenko", "Romaniuk", "Symonenko", "Yatsenko", "Dmytrenko",
		"Havryliuk", "Vovk", "Karpenko", "Levchenko", "Zinchenko", "Fedorenko", "Sydorenko", "Nazarenko",
		"Ostapchuk", "Panchenko", "Demchenko", "Hnatiuk", "Prokopenko", "Semeniuk", "Yurchenko", "Lytvyn",
		"Zakharchenko", "Ivanenko", "Kushnir", "Babenko", "Andriienko", "Antonenko", "Vasylenko",
		"Havrylenko", "Herasymenko", "Hordiienko", "Davydenko", "Danylenko", "Doroshenko", "Yevtushenko",
		"Zaichenko", "Ishchenko", "Kyrylenko", "Korniienko", "Kostenko", "Kucherenko", "Lytvynenko",
		"Lutsenko", "Maksymenko", "Martynenko", "Myroshnychenko", "Mykhailenko", "Naumenko", "Nesterenko",
		"Omelchenko", "Pylypenko", "Prykhodko", "Radchenko", "Romanenko", "Serhiienko", "Stetsenko",
		"Taranenko", "Tymoshenko", "Khomenko", "Yakovenko", "Yaroshenko", "Borysenko", "Hryhorenko",
		"Kononenko", "Tyshchenko", "Bondarchuk", "Danyliuk", "Kravchuk", "Martyniuk", "Melnychuk",
		"Pavliuk", "Savchuk", "Koval", "Tkach", "Bondar", "Honchar", "Shvets", "Korol", "Soroka", "Kovtun"}
	// Patronymics: the father's name, then the male and female forms.
	benchPatronymics = [][2]string{{"Oleksandrovych", "Oleksandrivna"}, {"Serhiiovych", "Serhiivna"},
		{"Andriiovych", "Andriivna"}, {"Volodymyrovych", "Volodymyrivna"}, {"Mykolaiovych", "Mykolaivna"},
		{"Ivanovych", "Ivanivna"}, {"Vasylovych", "Vasylivna"}, {"Petrovych", "Petrivna"},
		{"Dmytrovych", "Dmytrivna"}, {"Yuriiovych", "Yuriivna"}, {"Olehovych", "Olehivna"},
		{"Viktorovych", "Viktorivna"}, {"Mykhailovych", "Mykhailivna"}, {"Bohdanovych", "Bohdanivna"},
		{"Tarasovych", "Tarasivna"}, {"Romanovych", "Romanivna"}, {"Stepanovych", "Stepanivna"},
		{"Hryhorovych", "Hryhorivna"}, {"Pavlovych", "Pavlivna"}, {"Anatoliiovych", "Anatoliivna"}}
)

// benchPerson is one generated person.
type benchPerson struct {
	persontoken.Person
	in persontoken.Input
}

// benchPersons returns n distinct persons (by folded name and year) drawn
// with seed: a patronymic for 30 %, a birth year (1930-2015) for 75 %.
func benchPersons(tb testing.TB, n int, seed uint64) []benchPerson {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, 20261207))
	out := make([]benchPerson, 0, n)
	seen := make(map[string]bool, n)
	for len(out) < n {
		female := rng.IntN(2) == 0
		var name string
		if female {
			name = benchFemale[rng.IntN(len(benchFemale))]
		} else {
			name = benchMale[rng.IntN(len(benchMale))]
		}
		if rng.Float64() < 0.3 {
			p := benchPatronymics[rng.IntN(len(benchPatronymics))]
			if female {
				name += " " + p[1]
			} else {
				name += " " + p[0]
			}
		}
		name += " " + benchSurnames[rng.IntN(len(benchSurnames))]
		p := persontoken.Person{Name: name}
		if rng.Float64() < 0.75 {
			p.BirthYear = 1930 + rng.IntN(86)
		}
		in, err := persontoken.Inputs(p)
		if err != nil {
			tb.Fatalf("inputs of %q: %v", name, err)
		}
		if k := string(in.Name) + "\x00" + string(in.Year); !seen[k] {
			seen[k] = true
			out = append(out, benchPerson{Person: p, in: in})
		}
	}
	return out
}

// elementsOf counts the elements a Prefetch sends for persons: per person,
// the compared side (name, skeleton, year) and the published side (the
// same and the years around).
func elementsOf(ps []benchPerson) int {
	n := 0
	for _, p := range ps {
		n += 4
		if p.in.Year != nil {
			n += 4
		}
	}
	return n
}

// benchDir admits every node.
type benchDir struct{}

func (benchDir) NodeAdmitted(identity.Identity) bool { return true }
func (benchDir) SharedPersons(string) int            { return 0 }

type noAudit struct{}

func (noAudit) Audit(persons.Event) {}

// unlimited budgets: the benchmarks measure the work, not the refusals.
var unlimited = persons.Budgets{Window: 24 * time.Hour, MatchingFloor: 1 << 40, LookupPerMember: 1 << 40, LookupPerUser: 1 << 40}

// benchOrigin is one member's node running its PersonTokenService over
// gRPC with mutual TLS on loopback.
type benchOrigin struct {
	key     persons.PeerKey
	tokKey  *persontoken.Key
	addr    string
	cpu     atomic.Int64 // CPU of the handlers (ns), on their own threads
	handled atomic.Int64
}

// startOrigin starts the service of member's node name. The server's
// interceptor takes the caller's identity from its verified certificate,
// as the node's identity interceptor does, and measures the CPU time of
// each handler on its OS thread.
func startOrigin(tb testing.TB, fed *pkitest.Federation, member, name string, cleanup func(func())) *benchOrigin {
	tb.Helper()
	self := identity.Identity{Federation: "accord.test", Member: member, Kind: identity.KindNode, Name: name}
	ring, err := persons.OpenKeyRing(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	v, k := ring.Current()
	o := &benchOrigin{key: persons.PeerKey{Member: member, Node: self, Version: v, Public: k.Public()}, tokKey: k}
	svc := persons.NewService(self, ring, benchDir{}, noAudit{}, unlimited, nil, logger)
	src, err := mtls.NewSource(fed.Node(member, name), mtls.Hooks{}, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(src.ServerCredentials()), grpc.UnaryInterceptor(
		func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			id, _, err := identity.FromPeer(ctx)
			if err != nil {
				return nil, err
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			t0 := threadCPU()
			resp, err := h(identity.NewContext(ctx, id), req)
			o.cpu.Add(int64(threadCPU() - t0))
			o.handled.Add(1)
			return resp, err
		}))
	accordv1.RegisterPersonTokenServiceServer(srv, svc)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	o.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	cleanup(srv.Stop)
	return o
}

// benchPeers lists the origins' keys and dials them as node self.
type benchPeers struct {
	keys    []persons.PeerKey
	clients map[string]accordv1.PersonTokenServiceClient // by member
}

func (p *benchPeers) PeerKeys() []persons.PeerKey { return p.keys }

func (p *benchPeers) dial(node identity.Identity) (accordv1.PersonTokenServiceClient, error) {
	c, ok := p.clients[node.Member]
	if !ok {
		return nil, fmt.Errorf("no client of %s", node)
	}
	return c, nil
}

func newBenchPeers(tb testing.TB, fed *pkitest.Federation, member, name string, origins []*benchOrigin, cleanup func(func())) *benchPeers {
	tb.Helper()
	src, err := mtls.NewSource(fed.Node(member, name), mtls.Hooks{}, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	p := &benchPeers{clients: map[string]accordv1.PersonTokenServiceClient{}}
	for _, o := range origins {
		cc, err := grpc.NewClient(o.addr, grpc.WithTransportCredentials(src.ClientCredentials(mtls.ExpectMember(o.key.Member))))
		if err != nil {
			tb.Fatal(err)
		}
		cleanup(func() { _ = cc.Close() })
		p.keys = append(p.keys, o.key)
		p.clients[o.key.Member] = accordv1.NewPersonTokenServiceClient(cc)
	}
	return p
}

// BenchmarkPrefetch measures the matcher's Prefetch of a register of
// distinct persons (ACCORD_BENCH_PREFETCH, default 10,000; 75 % with a
// birth year) against one other member's node: every batch blinded, sent
// over gRPC with mutual TLS on loopback, evaluated with its proof, checked
// and unblinded. Each iteration starts with an empty cache. It reports the
// wall time per person and the CPU split: the origin's handlers, the
// asker's Prefetch goroutine (blinding, proof checks, unblinding), and the
// rest of the process (gRPC, TLS and protobuf on both ends, the garbage
// collector).
func BenchmarkPrefetch(b *testing.B) {
	n := benchSize("ACCORD_BENCH_PREFETCH", 10_000)
	fed := pkitest.NewFederation(b, "accord.test", "UA", "PL")
	origin := startOrigin(b, fed, "UA", "ua-1", b.Cleanup)
	peers := newBenchPeers(b, fed, "PL", "pl-1", []*benchOrigin{origin}, b.Cleanup)
	ps := benchPersons(b, n, 1)
	ins := make([]persontoken.Input, len(ps))
	for i, p := range ps {
		ins[i] = p.in
	}
	elems := elementsOf(ps)
	ctx := context.Background()
	// Warm the connection (the handshake is another benchmark's figure).
	if _, err := persons.NewAsker(peers, benchOwn(b), peers.dial, logger).Prefetch(ctx, ins[:1]); err != nil {
		b.Fatal(err)
	}

	var procCPU time.Duration
	originCPU0 := origin.cpu.Load()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := persons.NewAsker(peers, benchOwn(b), peers.dial, logger)
		p0 := processCPU()
		if _, err := a.Prefetch(ctx, ins); err != nil {
			b.Fatal(err)
		}
		procCPU += processCPU() - p0
		if got, pub := a.Cached(ins[len(ins)-1]), a.Published(ins[len(ins)-1]); len(got) != 1 || len(pub) != 1 {
			b.Fatalf("%d compared and %d published tokens cached for the last person", len(got), len(pub))
		}
	}
	b.StopTimer()
	originCPU := time.Duration(origin.cpu.Load() - originCPU0)
	per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
	b.ReportMetric(float64(n), "persons")
	b.ReportMetric(float64(elems), "elements")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "wall-s")
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "persons/s")
	// The asker's work runs in its batch goroutines: "asker+other" is the
	// asking side with gRPC and TLS of both ends.
	b.ReportMetric(per(originCPU), "origin-cpu-s")
	b.ReportMetric(per(procCPU-originCPU), "asker+other-cpu-s")
	b.ReportMetric(0, "ns/op")
}

// lookupWorld is a node (UA) holding the shared cases of four other
// members, whose nodes run their services on loopback.
type lookupWorld struct {
	origins []*benchOrigin
	index   *persons.Index
	lookup  *persons.Lookup
	user    context.Context
	queries []benchPerson
	// asked are the queries' tokens under each origin's key, as a lookup
	// obtains them (for Find alone).
	asked    [][]persontoken.Tokens
	cases    int
	refs     int
	heap     uint64
	fillTime time.Duration
}

var (
	lookupOnce     sync.Once
	lookupW        *lookupWorld
	lookupCleanups []func()
	lookupDirs     []string
)

// TestMain stops the lookup world's servers and removes its files, which
// live as long as the test binary (so that -count does not build the index
// again).
func TestMain(m *testing.M) {
	code := m.Run()
	for _, f := range slices.Backward(lookupCleanups) {
		f()
	}
	for _, d := range lookupDirs {
		_ = os.RemoveAll(d)
	}
	os.Exit(code)
}

// longTB is the benchmark's TB with temporary folders and cleanups that
// outlive it.
type longTB struct{ testing.TB }

func (longTB) TempDir() string {
	d, err := os.MkdirTemp("", "accord-persons-bench-")
	if err != nil {
		panic(err)
	}
	lookupDirs = append(lookupDirs, d)
	return d
}

func (longTB) Cleanup(f func()) { lookupCleanups = append(lookupCleanups, f) }

var lookupMembers = []string{"PL", "DE", "LT", "NL"}

var benchRoles = []accordv1.PersonRole{
	accordv1.PersonRole_PERSON_ROLE_VICTIM, accordv1.PersonRole_PERSON_ROLE_VICTIM, accordv1.PersonRole_PERSON_ROLE_VICTIM,
	accordv1.PersonRole_PERSON_ROLE_WITNESS, accordv1.PersonRole_PERSON_ROLE_WITNESS, accordv1.PersonRole_PERSON_ROLE_SUSPECT,
}

func newLookupWorld(b *testing.B) *lookupWorld {
	tb := longTB{b}
	nCases := benchSize("ACCORD_BENCH_LOOKUP_CASES", 1_000_000)
	pool := benchSize("ACCORD_BENCH_LOOKUP_POOL", 50_000)
	nLookups := benchSize("ACCORD_BENCH_LOOKUPS", 1000)
	w := &lookupWorld{cases: nCases}
	fed := pkitest.NewFederation(tb, "accord.test", append([]string{"UA"}, lookupMembers...)...)
	for _, m := range lookupMembers {
		w.origins = append(w.origins, startOrigin(tb, fed, m, "node-1", tb.Cleanup))
	}
	peers := newBenchPeers(tb, fed, "UA", "ua-1", w.origins, tb.Cleanup)

	// Each member's pool of distinct persons and their published tokens
	// (Key.Tokens, on all cores), reused across its cases as names repeat.
	start := time.Now()
	pools := make([][]benchPerson, len(w.origins))
	published := make([][]*accordv1.PersonEncoding, len(w.origins))
	for i, o := range w.origins {
		pools[i] = benchPersons(tb, pool, uint64(100+i))
		published[i] = make([]*accordv1.PersonEncoding, pool)
		var wg sync.WaitGroup
		workers := runtime.GOMAXPROCS(0)
		for wk := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := wk; j < pool; j += workers {
					t, err := o.tokKey.Tokens(o.key.ID(), pools[i][j].in)
					if err != nil {
						b.Error(err)
						return
					}
					published[i][j] = &accordv1.PersonEncoding{KeyName: o.key.KeyName(), KeyVersion: int32(o.key.Version), Encoding: t.Marshal()}
				}
			}()
		}
		wg.Wait()
	}
	if b.Failed() {
		b.FailNow()
	}
	b.Logf("tokens of %d×%d distinct persons in %s", len(w.origins), pool, time.Since(start).Round(time.Millisecond))

	// The index: nCases shared cases, spread evenly over the members, 1-4
	// persons each drawn from the member's pool.
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	start = time.Now()
	w.index = persons.NewIndex()
	rng := rand.New(rand.NewPCG(7, 20261207))
	for c := range nCases {
		i := c % len(w.origins)
		sc := &accordv1.SharedCase{CaseId: fmt.Sprintf("%s-2024-%07d", lookupMembers[i], c/len(w.origins))}
		for range 1 + rng.IntN(4) {
			pe := published[i][rng.IntN(pool)]
			sc.Persons = append(sc.Persons, &accordv1.PersonEncoding{Role: benchRoles[rng.IntN(len(benchRoles))],
				KeyName: pe.KeyName, KeyVersion: pe.KeyVersion, Encoding: pe.Encoding})
		}
		w.refs += len(sc.Persons)
		w.index.Put(lookupMembers[i], sc)
	}
	w.fillTime = time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&ms)
	w.heap = ms.HeapAlloc - before
	runtime.KeepAlive(published)
	b.Logf("index of %d cases (%d persons) filled in %s, heap +%.0f MiB", w.index.Len(), w.refs, w.fillTime.Round(time.Millisecond), float64(w.heap)/(1<<20))

	// The lookups: half persons of the members' pools (found, in several
	// cases each), half persons the index does not hold by name (they may
	// agree by skeleton).
	qrng := rand.New(rand.NewPCG(9, 20261207))
	fresh := benchPersons(tb, nLookups, 999)
	for q := range nLookups {
		if q%2 == 0 {
			i := qrng.IntN(len(pools))
			w.queries = append(w.queries, pools[i][qrng.IntN(pool)])
		} else {
			w.queries = append(w.queries, fresh[q])
		}
	}
	w.asked = make([][]persontoken.Tokens, len(w.origins))
	for i, o := range w.origins {
		for _, q := range w.queries {
			// What the blinded evaluation gives (persontoken's tests check
			// that it equals the direct one), without the neighbouring years.
			t, err := o.tokKey.Tokens(o.key.ID(), q.in)
			if err != nil {
				b.Fatal(err)
			}
			t.HasNear, t.Near = false, [2]persontoken.Token{}
			w.asked[i] = append(w.asked[i], t)
		}
	}

	self := identity.Identity{Federation: "accord.test", Member: "UA", Kind: identity.KindNode, Name: "ua-1"}
	asker := persons.NewAsker(peers, benchOwn(b), peers.dial, logger)
	limits := persons.LookupLimits{Window: time.Hour, PerUser: 1 << 30, PerNode: 1 << 30, Timeout: 20 * time.Second}
	w.lookup = persons.NewLookup(self, asker, peers, w.index, noAudit{}, limits, nil, logger)
	w.user = identity.NewContext(context.Background(), identity.Identity{Federation: "accord.test", Member: "UA", Kind: identity.KindUser, Name: "analyst"})
	return w
}

func lookupWorldOf(b *testing.B) *lookupWorld {
	lookupOnce.Do(func() { lookupW = newLookupWorld(b) })
	if lookupW == nil {
		b.Fatal("lookup world not made")
	}
	return lookupW
}

// percentiles reports p50, p90 and p99 of lat in unit (µs or ms).
func percentiles(b *testing.B, lat []time.Duration, unit string) {
	slices.Sort(lat)
	div := map[string]float64{"µs": 1e3, "ms": 1e6}[unit]
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Nanoseconds()) / div }
	b.ReportMetric(pct(0.50), "p50-"+unit)
	b.ReportMetric(pct(0.90), "p90-"+unit)
	b.ReportMetric(pct(0.99), "p99-"+unit)
	b.ReportMetric(pct(1), "max-"+unit)
}

// BenchmarkLookup measures the register of interviewed persons on a node
// that holds ACCORD_BENCH_LOOKUP_CASES (default 1,000,000) shared cases of
// four other members, 1-4 persons each, drawn from ACCORD_BENCH_LOOKUP_POOL
// (default 50,000) distinct persons per member:
//
//   - full: Lookup.LookupPerson called directly with the user's identity
//     in the context, as the local API's interceptor gives it; the asker
//     evaluates against the four members' services over gRPC with mutual
//     TLS on loopback (in this process, on the same cores), compares in
//     the index and notifies the members whose cases answered;
//   - find: Index.Find alone, for each member's tokens of a looked-up
//     person.
//
// One iteration is ACCORD_BENCH_LOOKUPS (default 1,000) lookups, half of
// persons the index holds; it reports latency percentiles, hits per lookup
// and the index's heap.
func BenchmarkLookup(b *testing.B) {
	w := lookupWorldOf(b)
	b.Run("full", func(b *testing.B) {
		var lat []time.Duration
		hits := 0
		for i := 0; i < b.N; i++ {
			for _, q := range w.queries {
				t0 := time.Now()
				resp, err := w.lookup.LookupPerson(w.user, &accordv1.LookupPersonRequest{Name: q.Name, BirthYear: int32(q.BirthYear)})
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				for _, m := range resp.GetMembers() {
					if m.GetStatus() != persons.StatusAnswered {
						b.Fatalf("%s: %s %s", m.GetMember(), m.GetStatus(), m.GetDetail())
					}
				}
				hits += len(resp.GetHits())
			}
		}
		percentiles(b, lat, "ms")
		b.ReportMetric(float64(hits)/float64(len(lat)), "hits/lookup")
		b.ReportMetric(float64(w.heap)/(1<<20), "index-MiB")
		b.ReportMetric(float64(w.cases), "cases")
		b.ReportMetric(0, "ns/op")
	})
	b.Run("find", func(b *testing.B) {
		roles := map[accordv1.PersonRole]bool{accordv1.PersonRole_PERSON_ROLE_VICTIM: true, accordv1.PersonRole_PERSON_ROLE_WITNESS: true}
		// Wall time, and the CPU time of the calling thread: on a loaded
		// machine the wall-time tail is mostly time spent waiting for a core.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var lat, cpu []time.Duration
		hits := 0
		for i := 0; i < b.N; i++ {
			for q := range w.queries {
				for m := range w.asked {
					c0, t0 := threadCPU(), time.Now()
					h := w.index.Find(w.asked[m][q], roles)
					lat = append(lat, time.Since(t0))
					cpu = append(cpu, threadCPU()-c0)
					hits += len(h)
				}
			}
		}
		percentiles(b, lat, "µs")
		slices.Sort(cpu)
		b.ReportMetric(float64(cpu[len(cpu)/2].Nanoseconds())/1e3, "cpu-p50-µs")
		b.ReportMetric(float64(cpu[int(0.99*float64(len(cpu)-1))].Nanoseconds())/1e3, "cpu-p99-µs")
		b.ReportMetric(w.fillTime.Seconds(), "fill-s")
		b.ReportMetric(float64(hits)/float64(len(lat)), "hits/find")
		b.ReportMetric(float64(w.refs)/float64(w.cases), "persons/case")
		b.ReportMetric(0, "ns/op")
	})
}

// benchOwn is the asking node's own key in the benchmarks.
func benchOwn(b *testing.B) persons.Own {
	k, err := persontoken.GenerateKey(nil)
	if err != nil {
		b.Fatal(err)
	}
	return func() (string, *persontoken.Key) { return "PL/pl-1#1", k }
}
