package main

// The federation benchmark: N real accordd processes on loopback, every one
// a registry server (five voters, the others non-voters), peers learned from
// the registry, every member importing its cases at the same moment. It
// measures how long until every node's federation index holds every other
// member's shared cases, how long until matching has settled, and each
// process's CPU time and peak memory. Opt-in: it runs only when
// ACCORD_BENCH_FED names the number of members (docs/BENCHMARKS.md, "A federation of N members"):
//
//	ACCORD_BENCH_FED=30 go test -run TestFederationBenchmark -timeout 3h -v ./cmd/accordd/
//	ACCORD_BENCH_FED=4 ACCORD_BENCH_FED_CASES=50 go test -run TestFederationBenchmark -v ./cmd/accordd/
//
// ACCORD_BENCH_FED_CASES is the cases each member imports (default 2,000).
// The first five members (fewer in a federation of five or less: all but
// one) found the registry (bootstrap); the others are
// admitted as docs/operations.md, "Adding a member", says: proposed and
// voted in through the typed membership API by the admitted members'
// admins, their CA learned from the registry (their node's trust bundle is
// the founders' plus their own CA), their node joining by naming the
// founding servers. ACCORD_BENCH_FED_FOUND_ALL=1 founds every member at
// bootstrap instead.

import (
	"bufio"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/trust"
	"github.com/accordfed/accord/node/caseformat"
	"github.com/accordfed/accord/node/casegen"
	"github.com/accordfed/accord/node/config"
	"github.com/accordfed/accord/node/daemon/daemontest"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// benchMemberCodes are the member codes of a benchmark federation, in the
// order members are added.
var benchMemberCodes = []string{
	"UA", "PL", "DE", "LT", "NL", "FR", "IT", "ES", "BE", "AT",
	"CZ", "SK", "HU", "RO", "BG", "HR", "SI", "EE", "LV", "FI",
	"SE", "DK", "IE", "PT", "GR", "CY", "MT", "LU", "NO", "GB",
}

// benchVoters is how many members found the registry (its default number
// of voters).
const benchVoters = 5

// benchMember is one member of the benchmark and its node.
type benchMember struct {
	*procNode
	metrics string                           // its metrics address
	members accordv1.MembershipServiceClient // as the member's admin
	cases   accordv1.CaseServiceClient       // as the member's analyst
	lines   [][]byte                         // the cases it imports
	shared  int                              // how many of them other members receive
	cpu0    float64                          // CPU seconds before the import
	result  *accordv1.ImportResult           // the import's result
	took    time.Duration                    // how long the import took
	last    map[string]float64               // the last metrics scraped: name, or name/label, -> value
	stale   bool                             // the last scrape failed (last is older)
	done    atomic.Bool                      // its import has finished
}

// fedBench is a benchmark federation.
type fedBench struct {
	t        *testing.T
	c        *procCluster
	members  []*benchMember
	newcomer *pkitest.Federation // the CAs of the members admitted by vote
	founders []config.RegistryServerConfig
}

func TestFederationBenchmark(t *testing.T) {
	v := os.Getenv("ACCORD_BENCH_FED")
	if v == "" {
		t.Skip("the federation benchmark runs only with ACCORD_BENCH_FED=<members>")
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 2 || n > len(benchMemberCodes) {
		t.Fatalf("ACCORD_BENCH_FED=%q: want a number of members from 2 to %d", v, len(benchMemberCodes))
	}
	perMember := 2000
	if v := os.Getenv("ACCORD_BENCH_FED_CASES"); v != "" {
		if perMember, err = strconv.Atoi(v); err != nil || perMember < 1 {
			t.Fatalf("ACCORD_BENCH_FED_CASES=%q: want a positive number", v)
		}
	}
	foundAll := os.Getenv("ACCORD_BENCH_FED_FOUND_ALL") != ""
	// Where the measurement ends: when matching has settled (the
	// default), or once every node's cases carry their pair tokens
	// ("tokens"; matching settles long after at 30 members).
	until := os.Getenv("ACCORD_BENCH_FED_UNTIL")
	if until != "" && until != "tokens" && until != "settled" {
		t.Fatalf("ACCORD_BENCH_FED_UNTIL=%q: want tokens or settled", until)
	}
	codes := benchMemberCodes[:n]
	// At least one member is admitted by vote, also in a small federation.
	founders := codes[:min(n-1, benchVoters)]
	if foundAll {
		founders = codes
	}
	t.Logf("machine: %d members (%d founders), %d cases each; load %s", n, len(founders), perMember, loadAvg())

	bin := buildAccordd(t)
	b := startBench(t, bin, founders)
	start := time.Now()
	for _, code := range codes[len(founders):] {
		b.admit(code)
	}
	if len(codes) > len(founders) {
		t.Logf("admitted and joined %d members by vote in %s; load %s", len(codes)-len(founders), time.Since(start).Round(100*time.Millisecond), loadAvg())
	}

	// Every node dials every other member's node, learned from the
	// registry (no node has a peers list).
	start = time.Now()
	b.poll(10*time.Minute, func() error {
		for _, m := range b.members {
			for _, o := range b.members {
				if o != m && m.last["accord_sync_connected/"+o.member] != 1 {
					return fmt.Errorf("%s has no Sync stream with %s", m.member, o.member)
				}
			}
		}
		return nil
	})
	t.Logf("every node pulls from every other member %s after the last joined; load %s", time.Since(start).Round(100*time.Millisecond), loadAvg())

	b.generate(perMember)
	b.importAll(until == "tokens")
}

// startBench starts the founders' nodes and waits until each sees the
// registry founded with a leader.
func startBench(t *testing.T, bin string, founders []string) *fedBench {
	t.Helper()
	fed := pkitest.NewFederation(t, "accord.test", founders...)
	rest := slices.DeleteFunc(slices.Clone(benchMemberCodes), func(m string) bool { return slices.Contains(founders, m) })
	b := &fedBench{t: t, c: &procCluster{t: t, bin: bin, fed: fed}, newcomer: pkitest.NewFederation(t, "accord.test", rest...)}
	t.Cleanup(func() {
		for _, n := range b.c.nodes {
			n.kill()
		}
		if t.Failed() {
			b.c.dumpLogs()
		}
	})
	addrs := daemontest.FreeAddrs(t, 4*len(founders))
	for i, m := range founders {
		b.founders = append(b.founders, config.RegistryServerConfig{
			Node:        fed.NodeURI(m, daemontest.NodeName(m)).String(),
			RaftAddress: addrs[4*i], Address: addrs[4*i+1], MemberName: m + " Prosecutor General's Office",
		})
	}
	b.c.servers = b.founders
	for i, m := range founders {
		node := fed.Node(m, daemontest.NodeName(m))
		bm := b.newMember(m, b.founders[i].Node, node, fed.User(m, "admin"), fed.User(m, "analyst"), addrs[4*i:4*i+4], true)
		bm.start()
	}
	for _, m := range b.members {
		if err := m.waitStarted(2 * time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range b.members {
		b.c.waitFounded(m.procNode)
	}
	return b
}

// newMember writes the configuration of a member's node (addrs: Raft,
// federation, local API, metrics) and dials its local API.
func (b *fedBench) newMember(code, uri string, node, admin, analyst mtls.Config, addrs []string, bootstrap bool) *benchMember {
	t := b.t
	t.Helper()
	n := &procNode{c: b.c, member: code, uri: uri,
		dataDir: filepath.Join(t.TempDir(), "data"), raft: addrs[0], listen: addrs[1], locl: addrs[2]}
	var servers strings.Builder
	for _, s := range b.founders {
		fmt.Fprintf(&servers, "    - {node: %q, raft_address: %q, address: %q, member_name: %q}\n", s.Node, s.RaftAddress, s.Address, s.MemberName)
	}
	// Registry timings are the defaults (1s heartbeat and election
	// timeouts): the benchmark loads two cores with thirty processes.
	body := fmt.Sprintf(`listen: %s
metrics_listen: %s
data_dir: %s
shutdown_timeout: 5s
local_api: {listen: %s, admins: [admin]}
log: {format: json, level: info}
tls: {cert_file: %s, key_file: %s, bundle_file: %s, crl_dir: %s}
registry:
  server: true
  raft_listen: %s
  bootstrap: %t
  servers:
%s`, n.listen, addrs[3], n.dataDir, n.locl, node.CertFile, node.KeyFile, node.BundleFile, node.CRLDir, n.raft, bootstrap, servers.String())
	n.cfgPath = filepath.Join(t.TempDir(), "node.yaml")
	if err := os.WriteFile(n.cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	n.coord = accordv1.NewCoordinationServiceClient(n.dial(analyst))
	m := &benchMember{procNode: n, metrics: addrs[3],
		members: accordv1.NewMembershipServiceClient(n.dial(admin)),
		cases:   accordv1.NewCaseServiceClient(n.dial(analyst))}
	b.c.nodes = append(b.c.nodes, n)
	b.members = append(b.members, m)
	return m
}

// admit adds a member as docs/operations.md says: the first founder's
// admin proposes it with its CA certificate, the admitted members' admins
// vote until it is admitted, and its node starts with the founders' trust
// bundle plus its own CA and the founding servers to join; it is running
// once it sees the registry with a leader.
func (b *fedBench) admit(code string) {
	t := b.t
	t.Helper()
	ca := b.newcomer.CAs[code]
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}))
	name := "members/" + code
	call := func(what string, f func(ctx context.Context) error) {
		t.Helper()
		eventually(t, time.Minute, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := f(ctx); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			return nil
		})
	}
	call("propose "+code, func(ctx context.Context) error {
		_, err := b.members[0].members.ProposeMember(ctx, &accordv1.ProposeMemberRequest{RequestId: "propose-" + code,
			Member: &accordv1.Member{Code: code, DisplayName: code + " Prosecutor General's Office", CaCerts: []string{caPEM}}})
		return err
	})
	// The fingerprint the candidate gives the voters over a second
	// channel (docs/operations.md, "Adding a member").
	fp, err := trust.CASetFingerprint([]string{caPEM})
	if err != nil {
		t.Fatal(err)
	}
	admitted := false
	for _, voter := range b.members {
		var status accordv1.MemberStatus
		call(voter.member+" votes for "+code, func(ctx context.Context) error {
			resp, err := voter.members.VoteMember(ctx, &accordv1.VoteMemberRequest{Name: name,
				Decision: accordv1.VoteDecision_VOTE_DECISION_APPROVE, RequestId: "vote-" + voter.member + "-" + code,
				CaFingerprint: fp})
			status = resp.GetMember().GetStatus()
			return err
		})
		if status == accordv1.MemberStatus_MEMBER_STATUS_ADMITTED {
			admitted = true
			break
		}
	}
	if !admitted {
		t.Fatalf("%s not admitted after the votes of all %d members", code, len(b.members))
	}

	// The newcomer's trust bundle: the founders' and its own CA.
	bundle, err := trust.NewBundle("accord.test")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range b.founders {
		m := s.ID().Member
		if err := bundle.Add(m, "", b.c.fed.CAs[m].Cert); err != nil {
			t.Fatal(err)
		}
	}
	if err := bundle.Add(code, "", ca.Cert); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bundleFile := filepath.Join(dir, "trust-bundle.json")
	if err := bundle.Save(bundleFile); err != nil {
		t.Fatal(err)
	}
	withBundle := func(c mtls.Config) mtls.Config {
		c.BundleFile, c.CRLDir = bundleFile, filepath.Join(dir, "crl")
		return c
	}
	node := withBundle(b.newcomer.Node(code, daemontest.NodeName(code)))
	m := b.newMember(code, b.newcomer.NodeURI(code, daemontest.NodeName(code)).String(), node, withBundle(b.newcomer.User(code, "admin")), withBundle(b.newcomer.User(code, "analyst")),
		daemontest.FreeAddrs(t, 4), false)
	m.start()
	if err := m.waitStarted(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
	b.c.waitFounded(m.procNode)
}

// generate makes perMember cases of every member with casegen's federation
// generator (about a third of the incidents investigated by two or three
// members, so that matching has work): the first perMember cases of each.
func (b *fedBench) generate(perMember int) {
	t := b.t
	t.Helper()
	byCode := map[string]*benchMember{}
	var codes []string
	for _, m := range b.members {
		byCode[m.member] = m
		codes = append(codes, m.member)
	}
	full := 0
	errEnough := errors.New("every member has its cases")
	err := casegen.GenerateFederation(casegen.FederationOptions{Members: codes, Incidents: casegen.MaxFederationIncidents, Seed: 30},
		func(member string, c *accordv1.Case) error {
			m := byCode[member]
			if len(m.lines) == perMember {
				return nil
			}
			line, err := caseformat.Encode(c)
			if err != nil {
				return err
			}
			m.lines = append(m.lines, line)
			if c.GetSensitivity() == accordv1.Sensitivity_SENSITIVITY_FEDERATION {
				m.shared++
			}
			if len(m.lines) == perMember {
				if full++; full == len(b.members) {
					return errEnough
				}
			}
			return nil
		}, func(string, string) error { return nil })
	if !errors.Is(err, errEnough) {
		t.Fatalf("generating the cases: %v", err)
	}
}

// importAll starts every member's import at the same moment and measures
// the time until every index has converged, every case carries its pair
// tokens and (unless untilTokens) matching has settled, and each process's
// CPU time and peak memory at each of those moments.
func (b *fedBench) importAll(untilTokens bool) {
	t := b.t
	t.Helper()
	for _, m := range b.members {
		m.cpu0 = cpuSeconds(t, m.current())
	}
	b.scrapeAll()
	applied0 := b.members[0].last["accord_registry_applied_index"]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(b.members))
	for _, m := range b.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := importAll(ctx, m.cases, m.lines, nil)
			if err != nil {
				errs <- fmt.Errorf("%s: import: %w", m.member, err)
				return
			}
			m.result, m.took = res, time.Since(start)
			m.done.Store(true)
		}()
	}
	t.Logf("load when the imports start: %s", loadAvg())

	// The index has converged when every node holds every other member's
	// shared cases; matching has settled when, after that, no node's
	// matching index or matches changed for settleQuiet.
	const settleQuiet = 15 * time.Second
	var converged, tokensIn, lastChange time.Time
	var lastMatching string
	progress := time.Now()
	b.poll(3*time.Hour, func() error {
		select {
		case err := <-errs:
			t.Fatal(err)
		default:
		}
		now := time.Now()
		var held, want, imported, stale, awaiting int
		var indexed, decisions float64
		var matching strings.Builder
		for _, m := range b.members {
			if m.done.Load() {
				imported++
			}
			if m.stale {
				stale++
			}
			indexed += m.last["accord_match_index_records"]
			decisions += m.last["accord_matches_found_total/proposed_here"]
			awaiting += int(m.last["accord_publish_awaiting_pair_tokens"])
			for _, o := range b.members {
				if o != m {
					held += int(m.last["accord_federation_records/"+o.member])
					want += o.shared
				}
			}
			fmt.Fprintf(&matching, "%v/%v/%v ", m.last["accord_match_index_records"], m.last["accord_matches_found_total/proposed_here"], m.last["accord_matches_found_total/registry"])
		}
		if matching.String() != lastMatching {
			lastMatching, lastChange = matching.String(), now
		}
		if time.Since(progress) > 30*time.Second {
			progress = now
			t.Logf("%s: %d of %d imports done; the indexes hold %d of %d shared records; %d cases published awaiting pair tokens; matching indexes %.0f cases, %.0f match decisions; %d nodes' metrics not read this time; load %s",
				now.Sub(start).Round(time.Second), imported, len(b.members), held, want, awaiting, indexed, decisions, stale, loadAvg())
		}
		if stale > 0 {
			return fmt.Errorf("%d nodes' metrics not read", stale)
		}
		if converged.IsZero() {
			if held != want {
				return fmt.Errorf("the indexes hold %d of the %d shared records", held, want)
			}
			converged = now
			t.Logf("every index converged %s after the imports started; load %s", converged.Sub(start).Round(100*time.Millisecond), loadAvg())
			b.logUsage("at convergence")
		}
		if tokensIn.IsZero() {
			// Every case was published (converged), and none waits
			// for pair tokens any more: those published without
			// them are queued to be published again.
			if awaiting > 0 {
				return fmt.Errorf("%d cases published awaiting pair tokens", awaiting)
			}
			tokensIn = now
			t.Logf("every case's pair tokens obtained %s after the imports started; load %s", tokensIn.Sub(start).Round(100*time.Millisecond), loadAvg())
			b.logUsage("with every pair token")
			if untilTokens {
				return nil
			}
		}
		if now.Sub(lastChange) < settleQuiet {
			return fmt.Errorf("matching changed %s ago", now.Sub(lastChange))
		}
		return nil
	})
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	if untilTokens {
		lastChange = tokensIn
	}
	b.report(start, converged, lastChange, applied0)
}

// logUsage logs the CPU time since the imports started and the peak
// memory of the nodes now.
func (b *fedBench) logUsage(when string) {
	t := b.t
	var cpu, hwm []float64
	for _, m := range b.members {
		p := m.current()
		cpu = append(cpu, cpuSeconds(t, p)-m.cpu0)
		hwm = append(hwm, memKiB(t, p, "VmHWM")/1024)
	}
	var total, totalHWM float64
	for i := range cpu {
		total += cpu[i]
		totalHWM += hwm[i]
	}
	t.Logf("%s: CPU since the imports started %.0fs in all, per node median %.1fs, max %.1fs; peak RSS %.0f MiB in all, per node median %.0f MiB, max %.0f MiB",
		when, total, median(cpu), slices.Max(cpu), totalHWM, median(hwm), slices.Max(hwm))
}

// poll scrapes every node's metrics every second until cond holds, and
// fails the test with cond's last error after timeout.
func (b *fedBench) poll(timeout time.Duration, cond func() error) {
	t := b.t
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		for _, m := range b.members {
			if p := m.current(); p != nil {
				select {
				case <-p.done:
					t.Fatalf("%s's node exited (%v):\n%s", m.member, p.err, p.log.tail(20))
				default:
				}
			}
		}
		b.scrapeAll()
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		<-tick.C
	}
}

// scrapeAll reads every node's metrics, at once.
func (b *fedBench) scrapeAll() {
	var wg sync.WaitGroup
	for _, m := range b.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := scrape(m.metrics)
			if m.stale = err != nil; err == nil {
				m.last = got
			}
		}()
	}
	wg.Wait()
}

// scrape reads a node's metrics as name -> value, a sample with a member
// or learned label as name/label value.
func scrape(addr string) (map[string]float64, error) {
	// A starved node (thirty of them on two cores) may take long.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	s := bufio.NewScanner(resp.Body)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		line := s.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		key := line[:sp]
		if i := strings.IndexByte(key, '{'); i >= 0 {
			name, labels := key[:i], key[i:]
			key = name
			for _, l := range []string{`member="`, `learned="`} {
				if j := strings.Index(labels, l); j >= 0 {
					rest := labels[j+len(l):]
					key = name + "/" + rest[:strings.IndexByte(rest, '"')]
				}
			}
		}
		out[key] = v
	}
	return out, s.Err()
}

// report logs the figures.
func (b *fedBench) report(start, converged, settled time.Time, applied0 float64) {
	t := b.t
	b.scrapeAll()
	var cpu, rss, imports []float64
	var totalCPU, totalRSS, matches float64
	streams, connected := 0.0, 0.0
	t.Logf("%-4s %9s %9s %9s %8s %8s %8s", "node", "import s", "CPU s", "CPU tot", "HWM MiB", "RSS MiB", "matches")
	for _, m := range b.members {
		p := m.current()
		c := cpuSeconds(t, p) - m.cpu0
		hwm, cur := memKiB(t, p, "VmHWM"), memKiB(t, p, "VmRSS")
		found := m.last["accord_matches_found_total/proposed_here"] + m.last["accord_matches_found_total/registry"]
		t.Logf("%-4s %9.1f %9.1f %9.1f %8.0f %8.0f %8.0f", m.member, m.took.Seconds(), c, cpuSeconds(t, p), hwm/1024, cur/1024, found)
		cpu, rss, imports = append(cpu, c), append(rss, hwm/1024), append(imports, m.took.Seconds())
		totalCPU += c
		totalRSS += hwm / 1024
		matches += found
		for k, v := range m.last {
			switch {
			case strings.HasPrefix(k, "accord_sync_streams_served/"):
				streams += v
			case strings.HasPrefix(k, "accord_sync_connected/"):
				connected += v
			}
		}
		if r := m.result; r.GetCreated() != int64(len(m.lines)) {
			t.Errorf("%s: import created %d of %d cases: %v", m.member, r.GetCreated(), len(m.lines), r)
		}
	}
	shared := 0
	for _, m := range b.members {
		shared += m.shared
	}
	st, err := b.members[0].status()
	if err != nil {
		t.Fatal(err)
	}
	voters, nonvoters := 0, 0
	for _, s := range st.GetServers() {
		switch s.GetSuffrage() {
		case "Voter":
			voters++
		case "Nonvoter":
			nonvoters++
		}
	}
	t.Logf("members %d, cases %d each (%d shared in all), imports done: median %.1fs, max %.1fs",
		len(b.members), len(b.members[0].lines), shared, median(imports), slices.Max(imports))
	t.Logf("every index converged after %s; matching settled (or, with ACCORD_BENCH_FED_UNTIL=tokens, every pair token obtained) after %s",
		converged.Sub(start).Round(100*time.Millisecond), settled.Sub(start).Round(100*time.Millisecond))
	t.Logf("CPU from the imports' start to settled: total %.0fs, per node median %.1fs, max %.1fs", totalCPU, median(cpu), slices.Max(cpu))
	t.Logf("peak RSS (VmHWM): total %.0f MiB, per node median %.0f MiB, max %.0f MiB", totalRSS, median(rss), slices.Max(rss))
	t.Logf("registry: %d voters, %d non-voters, leader %s, applied index %d (%d before the imports: %d registry entries during them)",
		voters, nonvoters, st.GetLeaderId(), st.GetAppliedIndex(), uint64(applied0), st.GetAppliedIndex()-uint64(applied0))
	t.Logf("Sync streams: %.0f open as puller, %.0f served; match decisions seen by the members: %.0f (each pair counted by both sides); load %s",
		connected, streams, matches, loadAvg())
}

// cpuSeconds returns the CPU time (user and system) the process has used,
// from /proc/<pid>/stat (in clock ticks of 1/100 s, Linux's USER_HZ).
func cpuSeconds(t *testing.T, p *proc) float64 {
	t.Helper()
	if p == nil {
		t.Fatal("no process")
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing parenthesis (state is field 3, utime 14, stime 15).
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	utime, err1 := strconv.ParseFloat(fields[11], 64)
	stime, err2 := strconv.ParseFloat(fields[12], 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("/proc/%d/stat: %q", p.cmd.Process.Pid, data)
	}
	return (utime + stime) / 100
}

// memKiB returns a field of /proc/<pid>/status in KiB (VmHWM, VmRSS).
func memKiB(t *testing.T, p *proc, field string) float64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, field+":"); ok {
			v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, p.cmd.Process.Pid)
	return 0
}

// loadAvg returns the machine's load averages (1, 5, 15 minutes).
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	return strings.Join(f[:3], " ")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
