package daemon_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/feed"
	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// attackMarker is a person's name that attacks carry wherever a name could
// go (unknown fields, refused payloads, panics): it must never reach a
// store, a log or another member.
const attackMarker = "Zoryana Attackivna"

// attack is one row of the matrix: something a caller does to a node, the
// status it must get, and what it may change.
type attack struct {
	name string
	// target is the listener attacked: "federation" or "local".
	target string
	// prepare runs before the state is recorded (e.g. making a cursor
	// old); it is not part of the attack.
	prepare func(ctx context.Context) error
	// do is the attack; it returns the status of the call.
	do   func(ctx context.Context) error
	code codes.Code
	// msg must appear in the status message: the field or the reason.
	msg string
	// tlsReason, when set, is the reason the node must count a refused
	// handshake under (accord_tls_peer_refused_total).
	tlsReason string
	// effect checks the legitimate change an attack that is also a valid
	// request makes (a replay applied once); nil means nothing may change.
	effect func(before, after attackState) error
	// once marks an attack that cannot be repeated as it is (it changes
	// what it attacks); soak rounds repeat the others.
	once bool
}

// attackEnv is a running federation under attack: UA is attacked, PL and
// DE are honest members (DE later turns rogue), LT has a CA in the trust
// bundle but was never admitted.
type attackEnv struct {
	t          *testing.T
	fed        *pkitest.Federation
	ua, pl, de *regNode
	logs       map[string]*lockedBuffer
	deClosed   bool

	uaCases   accordv1.CaseServiceClient // UA's analyst, on UA's local API
	uaAdmin   accordv1.CaseServiceClient
	plWho     accordv1.FederationServiceClient // PL's node, on UA's federation listener
	plEx      accordv1.ExchangeServiceClient
	deEx      accordv1.ExchangeServiceClient
	plEntry   string // a strategy entry of PL's
	plCases   []string
	ops       int
	rows      []attackRow
	plRecords map[string]*accordv1.SignedRecord // PL's signed records as DE received them
}

// attackRow is one result of the matrix, for the report.
type attackRow struct {
	name, target, want, got string
	pass                    bool
}

// attackState is what an attack must not change: UA's own cases and feed,
// every node's federation index, and the registry as UA and PL see it.
type attackState struct {
	cases    map[string]int64             // UA's cases: id -> version
	head     uint64                       // UA's feed head
	index    map[string]map[string]uint64 // holder -> origin/case id -> feed seq
	registry map[string]string            // viewer kind -> JSON
}

var registryKinds = []string{"members", "jits", "strategy", "leads", "matches", "keys"}

func (e *attackEnv) state() attackState {
	e.t.Helper()
	s := attackState{cases: map[string]int64{}, index: map[string]map[string]uint64{}, registry: map[string]string{}}
	if err := e.ua.d.Store().ExportCases(store.Filter{}, func(c *accordv1.Case) error {
		s.cases[c.GetCaseId()] = c.GetVersion()
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
	fi, err := e.ua.d.Store().Feed()
	if err != nil {
		e.t.Fatal(err)
	}
	s.head = fi.Head
	for _, n := range e.nodes() {
		idx := map[string]uint64{}
		if err := n.d.Store().FedScan("", func(origin, caseID string, seq uint64, _ []byte) error {
			idx[origin+"/"+caseID] = seq
			return nil
		}); err != nil {
			e.t.Fatal(err)
		}
		s.index[n.member] = idx
	}
	for _, n := range []*regNode{e.ua, e.pl} {
		for i, kind := range registryKinds {
			// The first read is linearizable: the node has then applied
			// everything committed before it, and the others may read its
			// own state.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			resp, err := n.user.Query(ctx, &accordv1.QueryRequest{Kind: kind, Stale: i > 0})
			cancel()
			if err != nil {
				e.t.Fatalf("%s's view of the registry's %s: %v", n.member, kind, err)
			}
			s.registry[n.member+" "+kind] = string(resp.GetResult())
		}
	}
	return s
}

// nodes are the running nodes.
func (e *attackEnv) nodes() []*regNode {
	if e.deClosed {
		return []*regNode{e.ua, e.pl}
	}
	return []*regNode{e.ua, e.pl, e.de}
}

// diff describes how b differs from a, or returns "".
func (a attackState) diff(b attackState) string {
	var out []string
	if !maps.Equal(a.cases, b.cases) {
		out = append(out, fmt.Sprintf("UA's cases %v -> %v", a.cases, b.cases))
	}
	if a.head != b.head {
		out = append(out, fmt.Sprintf("UA's feed head %d -> %d", a.head, b.head))
	}
	for _, holder := range slices.Sorted(maps.Keys(a.index)) {
		if bi, ok := b.index[holder]; ok && !maps.Equal(a.index[holder], bi) {
			out = append(out, fmt.Sprintf("%s's federation index %v -> %v", holder, a.index[holder], bi))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(a.registry)) {
		if a.registry[k] != b.registry[k] {
			out = append(out, fmt.Sprintf("registry (%s) %s -> %s", k, a.registry[k], b.registry[k]))
		}
	}
	return strings.Join(out, "; ")
}

// TestAttackMatrix runs every attack of the matrix against the real
// listeners of a node of a running federation, and checks for each the
// status code (or the refused handshake and its reason), that the message
// names the field or reason, that nothing was stored anywhere (UA's cases
// and feed, every node's federation index, the registry), and that the
// node still serves. Then DE turns rogue and serves UA forged, replayed,
// stale and gapped feeds. No log of any node may hold the name the attacks
// carry.
func TestAttackMatrix(t *testing.T) {
	e := newAttackEnv(t)
	attacks := e.attacks()
	deadline := time.Now().Add(soak(t, 0))
	rounds := 0
	for {
		rounds++
		for _, a := range attacks {
			if rounds > 1 && a.once {
				continue
			}
			e.run(a)
		}
		if !time.Now().Before(deadline) {
			break
		}
	}
	e.roguePhase()
	e.noMarkerInLogs()

	passed := 0
	for _, r := range e.rows {
		if r.pass {
			passed++
		}
	}
	t.Logf("attack matrix: %d round(s), %d attacks, %d passed, %d operations", rounds, len(e.rows), passed, e.ops)
	for _, r := range e.rows {
		res := "passed"
		if !r.pass {
			res = "FAILED"
		}
		t.Logf("  %-72s | %-10s | want %-40s | got %-40s | %s", r.name, r.target, r.want, r.got, res)
	}
}

func newAttackEnv(t *testing.T) *attackEnv {
	t.Helper()
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE", "LT")
	logs := map[string]*lockedBuffer{"UA": {}, "PL": {}, "DE": {}}
	w := map[string]io.Writer{}
	for m, b := range logs {
		w[m] = b
	}
	nodes, _ := startFederationLogged(t, fed, w, "UA", "PL", "DE")
	e := &attackEnv{t: t, fed: fed, ua: nodes[0], pl: nodes[1], de: nodes[2], logs: logs}
	e.uaCases = accordv1.NewCaseServiceClient(dialWith(e.t, e.ua.d.LocalAddr(), honestCreds(e.t, fed.User("UA", "analyst"), "UA")))
	e.uaAdmin = accordv1.NewCaseServiceClient(dialWith(e.t, e.ua.d.LocalAddr(), honestCreds(e.t, fed.User("UA", "admin"), "UA")))
	plConn := dialWith(e.t, e.ua.d.Addr(), honestCreds(e.t, fed.Node("PL", "pl-1"), "UA"))
	e.plWho = accordv1.NewFederationServiceClient(plConn)
	e.plEx = accordv1.NewExchangeServiceClient(plConn)
	e.deEx = accordv1.NewExchangeServiceClient(dialWith(e.t, e.ua.d.Addr(), honestCreds(e.t, fed.Node("DE", "de-1"), "UA")))

	// Cases at UA and PL, far apart in time and place (no matches are
	// proposed while the matrix runs), and a strategy entry of PL's.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 1; i <= 4; i++ {
		c := attackCaseOf("UA", fmt.Sprintf("UA-2023-%06d", i), fmt.Sprintf("Olha Testenko %d", i))
		if _, err := e.uaCases.CreateCase(ctx, &accordv1.CreateCaseRequest{Case: c}); err != nil {
			t.Fatal(err)
		}
	}
	plCases := accordv1.NewCaseServiceClient(dialWith(e.t, e.pl.d.LocalAddr(), honestCreds(e.t, fed.User("PL", "analyst"), "PL")))
	for i := 1; i <= 2; i++ {
		id := fmt.Sprintf("PL-2020-%06d", i)
		c := attackCaseOf("PL", id, fmt.Sprintf("Jan Testowski %d", i))
		c.Incidents[0].Start, c.Incidents[0].End, c.Incidents[0].Place = "2020-01-10T10:00:00+01:00", "2020-01-10T11:00:00+01:00", "Rzeszów"
		if _, err := plCases.CreateCase(ctx, &accordv1.CreateCaseRequest{Case: c}); err != nil {
			t.Fatal(err)
		}
		e.plCases = append(e.plCases, id)
	}
	entry := mustExecute(t, e.pl.user, "pl-entry-1", registry.CreateEntry{Kind: registry.KindPriority, Title: "Attacks on energy infrastructure"})
	e.plEntry = entry.GetId()

	// Every member's signing key registered, every index complete.
	raftnettest.WaitFor(t, 60*time.Second, func() error {
		members := query[[]registry.Member](t, e.ua.user, "members", "")
		for _, m := range members {
			if len(m.SigningKeys) == 0 {
				return fmt.Errorf("member %s has no signing key yet", m.Code)
			}
		}
		for _, n := range e.nodes() {
			counts, err := n.d.Store().FedCounts()
			if err != nil {
				return err
			}
			want := map[string]int{"UA": 4, "PL": 2}
			delete(want, n.member)
			for origin, k := range want {
				if counts[origin] != k {
					return fmt.Errorf("%s holds %d records of %s, want %d", n.member, counts[origin], origin, k)
				}
			}
		}
		return nil
	})
	// DE's view of PL's feed, for the rogue DE to replay later.
	e.plRecords = map[string]*accordv1.SignedRecord{}
	deOnPL := accordv1.NewExchangeServiceClient(dialWith(e.t, e.pl.d.Addr(), honestCreds(e.t, fed.Node("DE", "de-1"), "PL")))
	for _, r := range syncAll(e.t, deOnPL, "").records {
		var fr accordv1.FeedRecord
		if err := proto.Unmarshal(r.GetRecord(), &fr); err != nil {
			t.Fatal(err)
		}
		e.plRecords[fr.GetCaseId()] = r
	}
	e.waitStable()
	return e
}

// attackCaseOf is a valid case of member with one victim.
func attackCaseOf(member, id, victim string) *accordv1.Case {
	year := int32(1980)
	return &accordv1.Case{
		CaseId: id, Country: member, Title: "Shelling of a school", Sensitivity: accordv1.Sensitivity_SENSITIVITY_FEDERATION,
		CrimeCodes: []string{"RS-8.2.b.ix"},
		Incidents:  []*accordv1.Incident{{Start: "2023-05-10T10:00:00+03:00", End: "2023-05-10T11:00:00+03:00", Place: "Kharkiv", Region: "Kharkiv Oblast"}},
		Persons:    []*accordv1.Person{{Role: accordv1.PersonRole_PERSON_ROLE_VICTIM, Name: victim, BirthYear: &year}},
	}
}

// waitStable waits until the state stops changing (keys registered,
// records pulled, nothing in flight).
func (e *attackEnv) waitStable() attackState {
	e.t.Helper()
	var last attackState
	var since time.Time
	raftnettest.WaitFor(e.t, 60*time.Second, func() error {
		s := e.state()
		if since.IsZero() || last.diff(s) != "" {
			last, since = s, time.Now()
			return errors.New("the federation's state is still changing")
		}
		if time.Since(since) < 1500*time.Millisecond {
			return errors.New("the federation's state has not been stable for long")
		}
		return nil
	})
	return last
}

// run runs one attack and records its row.
func (e *attackEnv) run(a attack) {
	t, parent := e.t, e.t
	t.Helper()
	row := attackRow{name: a.name, target: a.target, want: a.code.String()}
	if a.tlsReason != "" {
		row.want += " (handshake: " + a.tlsReason + ")"
	} else if a.msg != "" {
		row.want += " " + strimmed(a.msg, 26)
	}
	ok := t.Run(a.name, func(t *testing.T) {
		// Helpers fail the attack's own test, not the matrix.
		e.t = t
		defer func() { e.t = parent }()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if a.prepare != nil {
			if err := a.prepare(ctx); err != nil {
				t.Fatalf("prepare: %v", err)
			}
			e.quiet(t)
		}
		before := e.state()
		var refusedBefore float64
		if a.tlsReason != "" {
			refusedBefore = scrapeMetric(t, e.ua.d.MetricsAddr(), refusedSeries(a.tlsReason))
		}
		err := a.do(ctx)
		e.ops++
		st := status.Convert(err)
		row.got = st.Code().String()
		if st.Code() != a.code {
			t.Errorf("status %s %q, want %s", st.Code(), st.Message(), a.code)
		} else if a.msg != "" && !strings.Contains(st.Message(), a.msg) {
			t.Errorf("status message %q does not name %q", st.Message(), a.msg)
		}
		if a.tlsReason != "" {
			raftnettest.WaitFor(t, 10*time.Second, func() error {
				if v := scrapeMetric(t, e.ua.d.MetricsAddr(), refusedSeries(a.tlsReason)); v <= refusedBefore {
					return fmt.Errorf("no handshake refused for %s counted (%v)", a.tlsReason, v)
				}
				return nil
			})
			row.got += " (" + a.tlsReason + ")"
		} else if st.Code() != codes.OK {
			row.got += " " + strimmed(st.Message(), 26)
		}
		after := e.state()
		if a.effect == nil {
			if d := before.diff(after); d != "" {
				t.Errorf("the attack changed what the federation holds: %s", d)
			}
		} else if err := a.effect(before, after); err != nil {
			t.Errorf("effect: %v", err)
		} else {
			// What the attack changed legitimately settles before the
			// next attack takes its "before".
			e.quiet(t)
		}
		if strings.Contains(st.Message(), attackMarker) {
			t.Errorf("the status message repeats the person's name the request carried: %q", st.Message())
		}
		e.alive(t)
	})
	row.pass = ok
	e.rows = append(e.rows, row)
}

func strimmed(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// alive checks that UA still serves honest callers on both listeners.
// quiet waits until UA has published every change of its cases, with
// the pair tokens of their persons (a case published before them is
// published again when they come), and every other node's index holds
// each of UA's cases shared with the whole federation as UA last
// published it.
func (e *attackEnv) quiet(t *testing.T) {
	t.Helper()
	raftnettest.WaitFor(t, 60*time.Second, func() error {
		if v := scrapeMetric(t, e.ua.d.MetricsAddr(), "accord_publish_awaiting_pair_tokens"); v != 0 {
			return fmt.Errorf("UA has %v cases awaiting pair tokens", v)
		}
		st := e.ua.d.Store()
		fi, err := st.Feed()
		if err != nil {
			return err
		}
		pending, err := st.Changes(fi.PublishedChange, 1)
		if err != nil {
			return err
		}
		if len(pending) > 0 {
			return fmt.Errorf("UA has changes to publish")
		}
		want := map[string]uint64{}
		if err := st.ExportCases(store.Filter{}, func(c *accordv1.Case) error {
			seq, flags, ok, err := st.SharedState(c.GetCaseId())
			if err == nil && ok && flags&(feed.Tombstone|feed.JIT) == 0 {
				want[c.GetCaseId()] = seq
			}
			return err
		}); err != nil {
			return err
		}
		for _, n := range e.nodes() {
			if n == e.ua {
				continue
			}
			held := map[string]uint64{}
			if err := n.d.Store().FedScan("UA", func(_, caseID string, seq uint64, _ []byte) error {
				held[caseID] = seq
				return nil
			}); err != nil {
				return err
			}
			for id, seq := range want {
				if held[id] != seq {
					return fmt.Errorf("%s holds UA's %s at seq %d, UA published it at %d", n.member, id, held[id], seq)
				}
			}
		}
		return nil
	})
}

func (e *attackEnv) alive(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := e.plWho.WhoAmI(ctx, &accordv1.WhoAmIRequest{}); err != nil {
		t.Fatalf("UA's federation listener no longer serves PL: %v", err)
	}
	if _, err := e.uaCases.ListCases(ctx, &accordv1.ListCasesRequest{PageSize: 1}); err != nil {
		t.Fatalf("UA's local API no longer serves its analyst: %v", err)
	}
	s, err := e.plEx.Sync(ctx, &accordv1.SyncRequest{MaxBatch: 1})
	if err == nil {
		_, err = s.Recv()
	}
	if err != nil {
		t.Fatalf("UA's exchange no longer serves PL: %v", err)
	}
}

// noMarkerInLogs checks that no node logged the name the attacks carried.
func (e *attackEnv) noMarkerInLogs() {
	e.t.Helper()
	for m, b := range e.logs {
		if i := bytes.Index(b.Bytes(), []byte(attackMarker)); i >= 0 {
			line := b.Bytes()[max(0, i-300):min(len(b.Bytes()), i+100)]
			e.t.Errorf("%s's log holds the name an attack carried: …%s…", m, line)
		}
	}
	for _, n := range e.nodes() {
		data, err := os.ReadFile(n.d.Store().Path())
		if err != nil {
			e.t.Fatal(err)
		}
		if bytes.Contains(data, []byte(attackMarker)) {
			e.t.Errorf("%s's store file holds the name an attack carried", n.member)
		}
	}
}

// oneShot dials addr with creds, makes one call and closes the
// connection (a refused client must not keep retrying in the background).
func oneShot(ctx context.Context, addr string, creds credentials.TransportCredentials, call func(context.Context, *grpc.ClientConn) error) error {
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	defer cc.Close()
	return call(ctx, cc)
}

func whoAmI(ctx context.Context, cc *grpc.ClientConn) error {
	_, err := accordv1.NewFederationServiceClient(cc).WhoAmI(ctx, &accordv1.WhoAmIRequest{})
	return err
}

func listCases(ctx context.Context, cc *grpc.ClientConn) error {
	_, err := accordv1.NewCaseServiceClient(cc).ListCases(ctx, &accordv1.ListCasesRequest{})
	return err
}

// syncResult is what one pull of a feed brought.
type syncResult struct {
	records []*accordv1.SignedRecord
	cursor  string
}

// syncOnce pulls a feed from cursor until caught up.
func syncOnce(ctx context.Context, c accordv1.ExchangeServiceClient, cursor string, maxBatch int32) (syncResult, error) {
	s, err := c.Sync(ctx, &accordv1.SyncRequest{Cursor: cursor, MaxBatch: maxBatch})
	if err != nil {
		return syncResult{}, err
	}
	var out syncResult
	for {
		resp, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out.records = append(out.records, resp.GetRecords()...)
		out.cursor = resp.GetCursor()
	}
}

func syncAll(t *testing.T, c accordv1.ExchangeServiceClient, cursor string) syncResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := syncOnce(ctx, c, cursor, 0)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// syncErr pulls from cursor and returns the error, if any.
func syncErr(ctx context.Context, c accordv1.ExchangeServiceClient, cursor string) error {
	_, err := syncOnce(ctx, c, cursor, 0)
	return err
}

// mintCursor makes a cursor as a node makes it (exchange/cursor.go):
// base64url(1 | epoch | seq | len(peer) | peer | HMAC-SHA256[:16]), with
// the node's own key, as only someone holding the node's store could.
func mintCursor(key []byte, epoch, seq uint64, peer string) string {
	b := []byte{1}
	b = binary.BigEndian.AppendUint64(b, epoch)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = append(b, byte(len(peer)))
	b = append(b, peer...)
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(m.Sum(b)[:len(b)+16])
}

// execJSON sends a registry command with a raw JSON payload.
func execJSON(ctx context.Context, c accordv1.CoordinationServiceClient, typ, rid string, payload []byte) (*accordv1.ExecuteResponse, error) {
	return c.Execute(ctx, &accordv1.ExecuteRequest{Type: typ, RequestId: rid, Payload: payload})
}

// jitsOf returns the JITs in a registry state as UA sees them.
func jitsOf(s attackState) []registry.JIT {
	var out []registry.JIT
	_ = json.Unmarshal([]byte(s.registry["UA jits"]), &out)
	return out
}

// onlyNewJIT checks that exactly one JIT was added, led by lead, and that
// nothing else changed beyond the registry's JIT lists.
func onlyNewJIT(lead string) func(before, after attackState) error {
	return func(before, after attackState) error {
		b, a := jitsOf(before), jitsOf(after)
		if len(a) != len(b)+1 {
			return fmt.Errorf("%d JITs -> %d, want one more", len(b), len(a))
		}
		known := map[string]bool{}
		for _, j := range b {
			known[j.ID] = true
		}
		for _, j := range a {
			if !known[j.ID] && j.Lead != lead {
				return fmt.Errorf("the new JIT %s is led by %q, want %s", j.ID, j.Lead, lead)
			}
		}
		after.registry["UA jits"], after.registry["PL jits"] = before.registry["UA jits"], before.registry["PL jits"]
		if d := before.diff(after); d != "" {
			return fmt.Errorf("more changed: %s", d)
		}
		return nil
	}
}

// onlyNewCases checks that the given cases were added to UA at version 1
// (and published), and nothing else changed but federation indexes
// learning them.
func onlyNewCases(ids ...string) func(before, after attackState) error {
	return func(before, after attackState) error {
		for _, id := range ids {
			if _, ok := before.cases[id]; ok {
				return fmt.Errorf("%s existed before", id)
			}
			if v := after.cases[id]; v != 1 {
				return fmt.Errorf("%s at version %d, want 1 (created once)", id, v)
			}
			delete(after.cases, id)
		}
		after.head, after.index = before.head, before.index
		if d := before.diff(after); d != "" {
			return fmt.Errorf("more changed: %s", d)
		}
		return nil
	}
}

func (e *attackEnv) attacks() []attack {
	t, fed := e.t, e.fed
	uaAddr, uaLocal := e.ua.d.Addr(), e.ua.d.LocalAddr()
	plURI := fed.NodeURI("PL", "pl-9")
	outsider, err := pki.NewCA(pki.CAOptions{Federation: "accord.test", Member: "PL"})
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := pki.NewCA(pki.CAOptions{Federation: "accord.test", Member: "XX"})
	if err != nil {
		t.Fatal(err)
	}
	revoked := fed.Node("PL", "pl-revoked")
	fed.Revoke("PL", revoked)
	if err := e.ua.d.Reload(); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name   string
		cfg    mtls.Config
		reason string
	}{
		{"no client certificate", mtls.Config{}, "no_certificate"},
		{"certificate of an unknown CA", fed.Crafted("unknown-ca", pkitest.Craft{Signer: outsider, URIs: []*url.URL{plURI}}), "unknown_ca"},
		{"expired certificate", fed.Crafted("expired", pkitest.Craft{SignedBy: "PL", URIs: []*url.URL{plURI}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}), "expired"},
		{"certificate not yet valid", fed.Crafted("future", pkitest.Craft{SignedBy: "PL", URIs: []*url.URL{plURI}, NotBefore: time.Now().Add(time.Hour), NotAfter: time.Now().Add(48 * time.Hour)}), "not_yet_valid"},
		{"revoked certificate", revoked, "revoked"},
		{"another member's CA issuing a foreign identity", fed.Crafted("ua-ca-as-pl", pkitest.Craft{SignedBy: "UA", URIs: []*url.URL{plURI}}), "wrong_ca"},
		{"certificate without a URI SAN", fed.Crafted("no-uri", pkitest.Craft{SignedBy: "PL"}), "bad_identity"},
		{"certificate with two URI SANs", fed.Crafted("two-uris", pkitest.Craft{SignedBy: "PL", URIs: []*url.URL{plURI, fed.NodeURI("PL", "pl-8")}}), "bad_identity"},
		{"member outside the trust bundle", fed.Crafted("stranger", pkitest.Craft{Signer: stranger, URIs: []*url.URL{fed.NodeURI("XX", "xx-1")}}), "unknown_member"},
		{"CA certificate used as a leaf", fed.Crafted("ca-leaf", pkitest.Craft{SignedBy: "PL", URIs: []*url.URL{plURI}, IsCA: true}), "leaf_is_ca"},
		{"identity of another federation", fed.Crafted("other-fed", pkitest.Craft{SignedBy: "PL", URIs: []*url.URL{{Scheme: "spiffe", Host: "other.test", Path: "/member/PL/node/pl-1"}}}), "wrong_federation"},
	}
	var out []attack
	for _, b := range bad {
		cfg := b.cfg
		out = append(out,
			attack{name: "TLS: " + b.name, target: "federation", code: codes.Unavailable, tlsReason: b.reason,
				do: func(ctx context.Context) error { return oneShot(ctx, uaAddr, presentAnyway(e.t, cfg), whoAmI) }},
			attack{name: "TLS: " + b.name, target: "local", code: codes.Unavailable, tlsReason: b.reason,
				do: func(ctx context.Context) error { return oneShot(ctx, uaLocal, presentAnyway(e.t, cfg), listCases) }},
		)
	}
	out = append(out,
		attack{name: "TLS: revoked, resuming a session made before", target: "federation", code: codes.Unavailable, tlsReason: "revoked", once: true,
			do: func(context.Context) error { return e.resumeRevoked() }},
		attack{name: "TLS: revoked while connected", target: "federation", code: codes.Unavailable, tlsReason: "revoked", once: true,
			do: func(ctx context.Context) error {
				cfg := fed.Node("PL", "pl-cut")
				cc, err := grpc.NewClient(uaAddr, grpc.WithTransportCredentials(honestCreds(e.t, cfg, "UA")))
				if err != nil {
					return err
				}
				defer cc.Close()
				if err := whoAmI(ctx, cc); err != nil {
					return fmt.Errorf("before the revocation: %w", err)
				}
				fed.Revoke("PL", cfg)
				if err := e.ua.d.Reload(); err != nil {
					return err
				}
				// The reload closed the connection; the client's next
				// connection is refused at the handshake.
				if err := whoAmI(ctx, cc); status.Code(err) != codes.Unavailable {
					return status.Errorf(codes.Internal, "the first call after the revocation: %v, want Unavailable", err)
				}
				return whoAmI(ctx, cc)
			}},
	)
	out = append(out, e.authAttacks()...)
	out = append(out, e.actingForOthers()...)
	out = append(out, e.messageAttacks()...)
	out = append(out, e.validationAttacks()...)
	out = append(out, e.replayAttacks()...)
	out = append(out, e.cursorAttacks()...)
	return out
}

// resumeRevoked connects with a certificate, keeps the TLS session ticket,
// revokes the certificate and resumes the session: the node must refuse
// the resumed handshake like a full one.
func (e *attackEnv) resumeRevoked() error {
	cfg := e.fed.Node("PL", "pl-resume")
	tc := attackerTLS(e.t, cfg)
	tc.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	connect := func() (bool, error) {
		conn, err := tls.Dial("tcp", e.ua.d.Addr(), tc)
		if err != nil {
			return false, err
		}
		defer conn.Close()
		resumed := conn.ConnectionState().DidResume
		// The server's session tickets come before its HTTP/2 settings:
		// reading the settings stores the ticket, or reads the refusal.
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
			return resumed, err
		}
		_, err = http2.NewFramer(conn, conn).ReadFrame()
		return resumed, err
	}
	if _, err := connect(); err != nil {
		return status.Errorf(codes.Internal, "first connection: %v", err)
	}
	if resumed, err := connect(); err != nil || !resumed {
		return status.Errorf(codes.Internal, "control: the second connection did not resume its session (resumed %v, %v); the test would prove nothing", resumed, err)
	}
	e.fed.Revoke("PL", cfg)
	if err := e.ua.d.Reload(); err != nil {
		return err
	}
	resumed, err := connect()
	if !resumed {
		return status.Errorf(codes.Internal, "the refused connection did not resume its session (%v); the test proves nothing about resumption", err)
	}
	if err == nil {
		return nil
	}
	return status.Error(codes.Unavailable, "resumed handshake refused: "+err.Error())
}

func (e *attackEnv) authAttacks() []attack {
	fed := e.fed
	uaAddr, uaLocal := e.ua.d.Addr(), e.ua.d.LocalAddr()
	sync := func(cfg mtls.Config) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			return oneShot(ctx, uaAddr, honestCreds(e.t, cfg, "UA"), func(ctx context.Context, cc *grpc.ClientConn) error {
				return syncErr(ctx, accordv1.NewExchangeServiceClient(cc), "")
			})
		}
	}
	submit := func(cfg mtls.Config, addr, member string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			cmd, err := registry.NewCommand("attack-submit", registry.CreateJIT{Name: "Intruders", LegalBasis: "none"})
			if err != nil {
				return err
			}
			b, err := cmd.Encode()
			if err != nil {
				return err
			}
			return oneShot(ctx, addr, honestCreds(e.t, cfg, member), func(ctx context.Context, cc *grpc.ClientConn) error {
				_, err := accordv1.NewRegistryServiceClient(cc).Submit(ctx, &accordv1.SubmitRequest{Command: b})
				return err
			})
		}
	}
	create := func(cfg mtls.Config) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			return oneShot(ctx, uaLocal, honestCreds(e.t, cfg, "UA"), func(ctx context.Context, cc *grpc.ClientConn) error {
				c := attackCaseOf("UA", "UA-2023-900001", attackMarker)
				_, err := accordv1.NewCaseServiceClient(cc).CreateCase(ctx, &accordv1.CreateCaseRequest{Case: c})
				return err
			})
		}
	}
	return []attack{
		{name: "auth: another member's user calling ExchangeService.Sync", target: "federation", code: codes.PermissionDenied, msg: "only member nodes", do: sync(fed.User("PL", "analyst"))},
		{name: "auth: the member's own user calling ExchangeService.Sync", target: "federation", code: codes.PermissionDenied, msg: "only member nodes", do: sync(fed.User("UA", "analyst"))},
		{name: "auth: user calling RegistryService.Submit", target: "federation", code: codes.PermissionDenied, msg: "only member nodes", do: submit(fed.User("PL", "admin"), uaAddr, "UA")},
		{name: "auth: node of a member never admitted pulling the feed", target: "federation", code: codes.PermissionDenied, msg: "not a node of an admitted member", do: sync(fed.Node("LT", "lt-1"))},
		{name: "auth: node of the same member pulling its member's feed", target: "federation", code: codes.PermissionDenied, msg: "not a node of an admitted member", do: sync(fed.Node("UA", "ua-9"))},
		{name: "auth: node of a member never admitted submitting a command", target: "federation", code: codes.PermissionDenied, msg: "not a registry server", do: submit(fed.Node("LT", "lt-1"), uaAddr, "UA")},
		{name: "auth: node that is not a registry server submitting a command", target: "federation", code: codes.PermissionDenied, msg: "not a registry server", do: submit(fed.Node("PL", "pl-2"), uaAddr, "UA")},
		{name: "auth: node of a member never admitted joining the registry", target: "federation", code: codes.PermissionDenied, msg: "LT",
			do: func(ctx context.Context) error { return e.joinAsLT(ctx) }},
		{name: "auth: another member's node calling CaseService.CreateCase", target: "local", code: codes.PermissionDenied, msg: "users of member UA only", do: create(fed.Node("PL", "pl-1"))},
		{name: "auth: the member's own node certificate calling the local API", target: "local", code: codes.PermissionDenied, msg: "users of member UA only", do: create(fed.Node("UA", "ua-9"))},
		{name: "auth: another member's user calling the local API", target: "local", code: codes.PermissionDenied, msg: "users of member UA only", do: create(fed.User("PL", "analyst"))},
		{name: "auth: analyst deleting a case (admins only)", target: "local", code: codes.PermissionDenied, msg: "admin role",
			do: func(ctx context.Context) error {
				_, err := e.uaCases.DeleteCase(ctx, &accordv1.DeleteCaseRequest{CaseId: "UA-2023-000001", Reason: "attack"})
				return err
			}},
		{name: "auth: analyst sending an admin registry command", target: "local", code: codes.PermissionDenied, msg: "admin role",
			do: func(ctx context.Context) error {
				_, err := execJSON(ctx, e.ua.user, string(registry.CmdCreateKey), "attack-key", []byte(`{"name":"attack-key","purpose":"x"}`))
				return err
			}},
		{name: "auth: analyst taking a backup (admins only)", target: "local", code: codes.PermissionDenied, msg: "admin",
			do: func(ctx context.Context) error {
				cc := dialWith(e.t, uaLocal, honestCreds(e.t, fed.User("UA", "analyst"), "UA"))
				s, err := accordv1.NewNodeAdminServiceClient(cc).Backup(ctx, &accordv1.BackupRequest{})
				if err != nil {
					return err
				}
				_, err = s.Recv()
				return err
			}},
	}
}

// joinAsLT asks the registry's leader to add LT's node to the group.
func (e *attackEnv) joinAsLT(ctx context.Context) error {
	// LT's node signs its own registration, as a joining node does.
	cmd, err := registry.NewCommand("lt-join", registry.RegisterNode{Node: registry.NodeSpec{
		URI: e.fed.NodeURI("LT", "lt-1").String(), RegistryServer: true, Address: "127.0.0.1:1", FederationAddress: "127.0.0.1:2"}})
	if err != nil {
		return err
	}
	signAsNode(e.t, e.fed, "LT", "lt-1", cmd)
	data, err := cmd.Encode()
	if err != nil {
		return err
	}
	return e.atLeader(ctx, func(ctx context.Context, n *regNode) error {
		return oneShot(ctx, n.d.Addr(), honestCreds(e.t, e.fed.Node("LT", "lt-1"), n.member), func(ctx context.Context, cc *grpc.ClientConn) error {
			_, err := accordv1.NewRegistryServiceClient(cc).Join(ctx, &accordv1.JoinRequest{RaftAddress: "127.0.0.1:1", FederationAddress: "127.0.0.1:2", Command: data})
			return err
		})
	})
}

// atLeader makes a call of RegistryService, which only the leader
// answers, on each registry server in turn until one answers otherwise
// than Unavailable (not the leader; no leader during an election), for up
// to 30 s.
func (e *attackEnv) atLeader(ctx context.Context, call func(context.Context, *regNode) error) error {
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		var err error
		for _, n := range e.nodes() {
			if err = call(ctx, n); status.Code(err) != codes.Unavailable {
				return err
			}
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-tick.C:
		}
	}
}

func (e *attackEnv) actingForOthers() []attack {
	fed := e.fed
	// submit sends a registry command as UA's registry server to the
	// registry's leader, with the envelope claiming whatever the attacker
	// likes.
	submit := func(mutate func(*registry.Command)) func(ctx context.Context) (*accordv1.SubmitResponse, error) {
		return func(ctx context.Context) (*accordv1.SubmitResponse, error) {
			cmd, err := registry.NewCommand("claim-"+fmt.Sprint(time.Now().UnixNano()), registry.CreateJIT{Name: "Claimed team", LegalBasis: "EU JIT model agreement"})
			if err != nil {
				return nil, err
			}
			mutate(cmd)
			b, err := cmd.Encode()
			if err != nil {
				return nil, err
			}
			// To the leader, whichever it is; a retry carries the same
			// request id, so it is applied once at most.
			var resp *accordv1.SubmitResponse
			err = e.atLeader(ctx, func(ctx context.Context, n *regNode) error {
				return oneShot(ctx, n.d.Addr(), honestCreds(e.t, fed.Node("UA", "ua-1"), n.member), func(ctx context.Context, cc *grpc.ClientConn) error {
					var err error
					resp, err = accordv1.NewRegistryServiceClient(cc).Submit(ctx, &accordv1.SubmitRequest{Command: b})
					return err
				})
			})
			return resp, err
		}
	}
	plNode, plUser := fed.NodeURI("PL", "pl-1").String(), "spiffe://accord.test/member/PL/user/analyst"
	return []attack{
		{name: "acting for another member: a case of PL (country)", target: "local", code: codes.InvalidArgument, msg: "country",
			do: func(ctx context.Context) error {
				c := attackCaseOf("PL", "PL-2023-000099", attackMarker)
				_, err := e.uaCases.CreateCase(ctx, &accordv1.CreateCaseRequest{Case: c})
				return err
			}},
		{name: "acting for another member: a case id of PL", target: "local", code: codes.InvalidArgument, msg: "case_id",
			do: func(ctx context.Context) error {
				c := attackCaseOf("UA", "PL-2023-000099", attackMarker)
				_, err := e.uaCases.CreateCase(ctx, &accordv1.CreateCaseRequest{Case: c})
				return err
			}},
		{name: "acting for another member: importing a case of PL", target: "local", code: codes.OK,
			do: func(ctx context.Context) error {
				res, err := importLines(ctx, e.uaCases, fmt.Sprintf(`{"case_id":"PL-2023-000098","country":"PL","incidents":[{"start":"2023-01-01T10:00:00+02:00","place":"Lviv"}],"persons":[{"role":"victim","name":%q}]}`, attackMarker))
				if err != nil {
					return err
				}
				if res.GetWritten() || res.GetInvalid() != 1 || !slices.ContainsFunc(res.GetErrors(), func(le *accordv1.LineError) bool { return le.GetField() == "country" }) {
					return status.Errorf(codes.Internal, "import result %v, want one invalid line naming country and nothing written", res)
				}
				return nil
			}},
		{name: "acting for another member: updating PL's member record", target: "local", code: codes.PermissionDenied, msg: "PL",
			do: func(ctx context.Context) error {
				_, err := execJSON(ctx, e.ua.admin, string(registry.CmdUpdateMember), "attack-update-pl", []byte(`{"code":"PL","name":"Hijacked","ca_certs":[]}`))
				return err
			}},
		{name: "acting for another member: deleting PL's strategy entry", target: "local", code: codes.PermissionDenied, msg: "owned by PL",
			do: func(ctx context.Context) error {
				_, err := execJSON(ctx, e.ua.user, string(registry.CmdDeleteEntry), "attack-delete-entry", fmt.Appendf(nil, `{"entry":%q,"reason":"attack"}`, e.plEntry))
				return err
			}},
		{name: "acting for another member: Submit claiming PL's member and user", target: "federation", code: codes.PermissionDenied, msg: "only its own commands",
			do: func(ctx context.Context) error {
				_, err := submit(func(c *registry.Command) { c.Member, c.Actor.Node, c.Actor.User = "PL", plNode, plUser })(ctx)
				return err
			}},
		{name: "acting for another member: Submit claiming PL's member", target: "federation", code: codes.PermissionDenied, msg: "only its own commands",
			do: func(ctx context.Context) error {
				_, err := submit(func(c *registry.Command) { c.Member, c.Actor.Node = "PL", plNode })(ctx)
				return err
			}},
		{name: "acting for another member: Join with a registration of PL's node", target: "federation", code: codes.PermissionDenied, msg: "caller is",
			do: func(ctx context.Context) error {
				cmd, err := registry.NewCommand("join-as-pl", registry.RegisterNode{Node: registry.NodeSpec{
					URI: plNode, RegistryServer: true, Address: "127.0.0.1:1", FederationAddress: "127.0.0.1:2"}})
				if err != nil {
					return err
				}
				signAsNode(e.t, fed, "PL", "pl-1", cmd) // as if PL's key had leaked to UA
				data, err := cmd.Encode()
				if err != nil {
					return err
				}
				return e.atLeader(ctx, func(ctx context.Context, n *regNode) error {
					return oneShot(ctx, n.d.Addr(), honestCreds(e.t, fed.Node("UA", "ua-1"), n.member), func(ctx context.Context, cc *grpc.ClientConn) error {
						_, err := accordv1.NewRegistryServiceClient(cc).Join(ctx, &accordv1.JoinRequest{RaftAddress: "127.0.0.1:1", FederationAddress: "127.0.0.1:2", Command: data})
						return err
					})
				})
			}},
		{name: "Submit of an unsigned command as itself", target: "federation", code: codes.PermissionDenied, msg: "not signed",
			do: func(ctx context.Context) error {
				_, err := submit(func(c *registry.Command) { c.Member, c.Actor.Node = "UA", fed.NodeURI("UA", "ua-1").String() })(ctx)
				return err
			}},
	}
}

// importLines imports lines through the local API and returns the result.
func importLines(ctx context.Context, c accordv1.CaseServiceClient, lines ...string) (*accordv1.ImportResult, error) {
	s, err := c.ImportCases(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.Send(&accordv1.ImportCasesRequest{Body: &accordv1.ImportCasesRequest_Options{Options: &accordv1.ImportOptions{Source: "attack"}}}); err != nil {
		return nil, err
	}
	chunk := &accordv1.ImportChunk{}
	for i, l := range lines {
		chunk.Lines = append(chunk.Lines, &accordv1.ImportLine{Number: int64(i + 1), Json: []byte(l)})
	}
	if err := s.Send(&accordv1.ImportCasesRequest{Body: &accordv1.ImportCasesRequest_Chunk{Chunk: chunk}}); err != nil {
		return nil, err
	}
	if err := s.CloseSend(); err != nil {
		return nil, err
	}
	for {
		resp, err := s.Recv()
		if err != nil {
			return nil, err
		}
		if r := resp.GetResult(); r != nil {
			return r, nil
		}
	}
}

// withUnknown returns m with an unknown field carrying the marker.
func withUnknown[M proto.Message](m M) M {
	m.ProtoReflect().SetUnknown(pbString(nil, 99, attackMarker))
	return m
}

func (e *attackEnv) messageAttacks() []attack {
	fed := e.fed
	uaAddr := e.ua.d.Addr()
	uaConn := dialWith(e.t, e.ua.d.LocalAddr(), honestCreds(e.t, fed.User("UA", "analyst"), "UA"))
	plConn := dialWith(e.t, uaAddr, honestCreds(e.t, fed.Node("PL", "pl-1"), "UA"))
	validCase := func(id, title string) []byte {
		c := pbString(nil, 1, id)
		c = pbString(c, 2, "UA")
		c = pbString(c, 3, title)
		inc := pbString(pbString(nil, 1, "2023-05-10T10:00:00+03:00"), 4, "Kharkiv")
		c = pbMessage(c, 8, inc)
		return pbMessage(nil, 1, c)
	}
	const createCase = "/accord.v1.CaseService/CreateCase"
	const syncMethod = "/accord.v1.ExchangeService/Sync"
	unknownID := "UA-2023-000500"
	return []attack{
		{name: "malformed protobuf (CreateCase)", target: "local", code: codes.Internal, msg: "unmarshal",
			do: func(ctx context.Context) error {
				return rawUnary(ctx, uaConn, createCase, []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01})
			}},
		{name: "malformed protobuf (ExchangeService.Sync)", target: "federation", code: codes.Internal, msg: "unmarshal",
			do: func(ctx context.Context) error {
				return rawServerStream(ctx, plConn, syncMethod, []byte{0x12, 0x05, 0x01})
			}},
		{name: "invalid UTF-8 in a string field (CreateCase title)", target: "local", code: codes.Internal, msg: "invalid UTF-8",
			do: func(ctx context.Context) error {
				return rawUnary(ctx, uaConn, createCase, validCase("UA-2023-000400", "Shelling \xff\xfe of "+attackMarker))
			}},
		{name: "invalid UTF-8 in a string field (Sync cursor)", target: "federation", code: codes.Internal, msg: "invalid UTF-8",
			do: func(ctx context.Context) error {
				return rawServerStream(ctx, plConn, syncMethod, pbString(nil, 1, "\xc3\x28"))
			}},
		{name: "invalid UTF-8 in a JSON payload (Execute)", target: "local", code: codes.InvalidArgument, msg: "UTF-8",
			do: func(ctx context.Context) error {
				_, err := execJSON(ctx, e.ua.user, string(registry.CmdCreateJIT), "attack-utf8", []byte("{\"name\":\"Team \xff\xfe\",\"legal_basis\":\"EU JIT model agreement\"}"))
				return err
			}},
		{name: "unknown fields in a request, a case and an incident (dropped, never stored or signed)", target: "local", code: codes.OK, once: true,
			effect: func(before, after attackState) error {
				if err := onlyNewCases(unknownID)(before, after); err != nil {
					return err
				}
				return e.checkDropped(unknownID)
			},
			do: func(ctx context.Context) error {
				c := withUnknown(attackCaseOf("UA", unknownID, "Petro Testenko"))
				withUnknown(c.Incidents[0])
				_, err := e.uaCases.CreateCase(ctx, withUnknown(&accordv1.CreateCaseRequest{Case: c}))
				return err
			}},
		{name: "unknown field in a registry command's JSON payload", target: "local", code: codes.InvalidArgument, msg: "unknown field",
			do: func(ctx context.Context) error {
				_, err := execJSON(ctx, e.ua.user, string(registry.CmdCreateJIT), "attack-unknown-json", fmt.Appendf(nil, `{"name":"Team","legal_basis":"EU JIT model agreement","witness":%q}`, attackMarker))
				return err
			}},
		{name: "unknown protobuf field in a submitted registry command", target: "federation", code: codes.InvalidArgument, msg: "unknown fields",
			do: func(ctx context.Context) error {
				cmd, err := registry.NewCommand("attack-unknown-pb", registry.CreateJIT{Name: "Team", LegalBasis: "EU JIT model agreement"})
				if err != nil {
					return err
				}
				b, err := cmd.Encode()
				if err != nil {
					return err
				}
				b = pbString(b, 99, attackMarker)
				return oneShot(ctx, e.pl.d.Addr(), honestCreds(e.t, fed.Node("UA", "ua-1"), "PL"), func(ctx context.Context, cc *grpc.ClientConn) error {
					_, err := accordv1.NewRegistryServiceClient(cc).Submit(ctx, &accordv1.SubmitRequest{Command: b})
					return err
				})
			}},
		{name: "oversized message (CreateCase of 5 MiB)", target: "local", code: codes.ResourceExhausted, msg: "larger than max",
			do: func(ctx context.Context) error {
				c := attackCaseOf("UA", "UA-2023-000401", attackMarker)
				c.Title = strings.Repeat("x", 5<<20)
				_, err := e.uaCases.CreateCase(ctx, &accordv1.CreateCaseRequest{Case: c})
				return err
			}},
		{name: "oversized message (Sync with a 5 MiB cursor)", target: "federation", code: codes.ResourceExhausted, msg: "larger than max",
			do: func(ctx context.Context) error { return syncErr(ctx, e.plEx, strings.Repeat("A", 5<<20)) }},
		{name: "oversized message (an import chunk of 5 MiB)", target: "local", code: codes.ResourceExhausted, msg: "larger than max",
			do: func(ctx context.Context) error {
				line := fmt.Sprintf(`{"case_id":"UA-2023-000402","country":"UA","title":%q,"incidents":[{"start":"2023-01-01T10:00:00+02:00","place":"Lviv"}]}`, strings.Repeat("y", 400))
				lines := make([]string, 5<<20/len(line)+1)
				for i := range lines {
					lines[i] = line
				}
				_, err := importLines(ctx, e.uaCases, lines...)
				return err
			}},
		{name: "decompression bomb (gzip Sync request, grpc-encoding gzip)", target: "federation", code: codes.Unimplemented, msg: "gzip",
			do: func(context.Context) error { return e.gzipSync() }},
	}
}

// checkDropped checks that a case created with unknown fields was stored,
// published and received without them: UA holds it without unknown
// fields, PL verified and indexed UA's signed record of it (a record with
// unknown fields is refused), and no store holds the name they carried.
func (e *attackEnv) checkDropped(id string) error {
	c, err := e.ua.d.Store().GetCase(id)
	if err != nil {
		return err
	}
	if len(c.ProtoReflect().GetUnknown()) > 0 || len(c.GetIncidents()[0].ProtoReflect().GetUnknown()) > 0 {
		return fmt.Errorf("UA stored the case with its unknown fields")
	}
	raftnettest.WaitFor(e.t, 30*time.Second, func() error {
		if _, ok := fedIndex(e.t, e.pl.d.Store(), "UA")[id]; !ok {
			return fmt.Errorf("PL has not indexed %s: a record with unknown fields is refused by its receivers", id)
		}
		return nil
	})
	return nil
}

// gzipSync sends a Sync request as a gzip bomb through raw HTTP/2.
func (e *attackEnv) gzipSync() error {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write(pbString(nil, 1, string(make([]byte, 6<<20)))) // inflates past max_recv_msg_bytes (4 MiB)
	_ = zw.Close()
	c := dialH2(e.t, e.ua.d.Addr(), e.fed.Node("PL", "pl-1"))
	defer c.conn.Close()
	id, err := c.open("/accord.v1.ExchangeService/Sync", false, hpack.HeaderField{Name: "grpc-encoding", Value: "gzip"})
	if err != nil {
		return err
	}
	if err := c.send(id, grpcFrame(b.Bytes(), true), true); err != nil {
		return err
	}
	res, err := c.result(id, 10*time.Second)
	if err != nil {
		return err
	}
	if res.reset {
		return status.Errorf(codes.Unknown, "stream reset %s", res.rstCode)
	}
	return status.Error(res.code, res.message)
}

func (e *attackEnv) validationAttacks() []attack {
	fed := e.fed
	fedIdx := accordv1.NewFederationIndexServiceClient(dialWith(e.t, e.ua.d.LocalAddr(), honestCreds(e.t, fed.User("UA", "analyst"), "UA")))
	evidence := accordv1.NewEvidenceServiceClient(dialWith(e.t, e.ua.d.LocalAddr(), honestCreds(e.t, fed.User("UA", "analyst"), "UA")))
	create := func(id string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			_, err := e.uaCases.CreateCase(ctx, &accordv1.CreateCaseRequest{Case: attackCaseOf("UA", id, attackMarker)})
			return err
		}
	}
	exec := func(c accordv1.CoordinationServiceClient, typ, rid, payload string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			_, err := execJSON(ctx, c, typ, rid, []byte(payload))
			return err
		}
	}
	return []attack{
		{name: "invalid id: case id with a space", target: "local", code: codes.InvalidArgument, msg: "case_id", do: create("UA-2023 000001")},
		{name: "invalid id: case id of 200 characters", target: "local", code: codes.InvalidArgument, msg: "case_id", do: create("UA-" + strings.Repeat("9", 197))},
		{name: "invalid id: empty case id (GetCase)", target: "local", code: codes.InvalidArgument, msg: "case_id",
			do: func(ctx context.Context) error {
				_, err := e.uaCases.GetCase(ctx, &accordv1.GetCaseRequest{})
				return err
			}},
		{name: "invalid id: malformed case id (GetCase: no such case)", target: "local", code: codes.NotFound, msg: "case",
			do: func(ctx context.Context) error {
				_, err := e.uaCases.GetCase(ctx, &accordv1.GetCaseRequest{CaseId: "../../UA-2023-000001"})
				return err
			}},
		{name: "invalid id: evidence hash not 64 hex digits", target: "local", code: codes.InvalidArgument, msg: "sha256",
			do: func(ctx context.Context) error {
				_, err := evidence.RegisterEvidence(ctx, &accordv1.RegisterEvidenceRequest{CaseId: "UA-2023-000001", Sha256: "xyz", Location: "vault://1"})
				return err
			}},
		{name: "invalid id: registry request id with '/' and spaces", target: "local", code: codes.InvalidArgument, msg: "request_id",
			do: exec(e.ua.user, string(registry.CmdCreateJIT), "../../a b", `{"name":"Team","legal_basis":"EU JIT model agreement"}`)},
		{name: "invalid name: JIT name of 300 characters", target: "local", code: codes.InvalidArgument, msg: "name",
			do: exec(e.ua.user, string(registry.CmdCreateJIT), "attack-long-name", fmt.Sprintf(`{"name":%q,"legal_basis":"EU JIT model agreement"}`, strings.Repeat("n", 300)))},
		{name: "invalid name: member code with punctuation (member.propose)", target: "local", code: codes.InvalidArgument, msg: "code",
			do: exec(e.ua.admin, string(registry.CmdProposeMember), "attack-member-code", `{"code":"u@!","name":"Nowhere","ca_certs":[]}`)},
		{name: "invalid name: command type users may not send (federation.bootstrap)", target: "local", code: codes.InvalidArgument, msg: "type",
			do: exec(e.ua.admin, string(registry.CmdBootstrap), "attack-bootstrap", `{"federation":"accord.test"}`)},
		{name: "invalid name: unknown registry query kind", target: "local", code: codes.InvalidArgument, msg: "kind",
			do: func(ctx context.Context) error {
				_, err := e.ua.user.Query(ctx, &accordv1.QueryRequest{Kind: "everything"})
				return err
			}},
		{name: "invalid page size: negative (ListCases)", target: "local", code: codes.InvalidArgument, msg: "page_size",
			do: func(ctx context.Context) error {
				_, err := e.uaCases.ListCases(ctx, &accordv1.ListCasesRequest{PageSize: -1})
				return err
			}},
		{name: "invalid page size: above the maximum (ListFederationCases)", target: "local", code: codes.InvalidArgument, msg: "page_size",
			do: func(ctx context.Context) error {
				_, err := fedIdx.ListFederationCases(ctx, &accordv1.ListFederationCasesRequest{PageSize: 100000})
				return err
			}},
		{name: "invalid page size: negative (ListFederationCases)", target: "local", code: codes.InvalidArgument, msg: "page_size",
			do: func(ctx context.Context) error {
				_, err := fedIdx.ListFederationCases(ctx, &accordv1.ListFederationCasesRequest{PageSize: -5})
				return err
			}},
		{name: "invalid page size: Sync max_batch above the maximum", target: "federation", code: codes.InvalidArgument, msg: "max_batch",
			do: func(ctx context.Context) error {
				_, err := syncOnce(ctx, e.plEx, "", 5000)
				return err
			}},
		{name: "invalid page size: Sync max_batch negative", target: "federation", code: codes.InvalidArgument, msg: "max_batch",
			do: func(ctx context.Context) error {
				_, err := syncOnce(ctx, e.plEx, "", -1)
				return err
			}},
		{name: "stale version: UpdateCase with an old expected_version", target: "local", code: codes.Aborted, msg: "version",
			do: func(ctx context.Context) error {
				c := attackCaseOf("UA", "UA-2023-000001", attackMarker)
				_, err := e.uaCases.UpdateCase(ctx, &accordv1.UpdateCaseRequest{Case: c, ExpectedVersion: 99})
				return err
			}},
		{name: "stale version: strategy.update of PL's entry at an old version", target: "local", code: codes.FailedPrecondition, msg: "version",
			do: exec(e.pl.user, string(registry.CmdUpdateEntry), "attack-stale-entry", fmt.Sprintf(`{"entry":%q,"expected_version":7,"kind":"priority","title":"Changed"}`, e.plEntry))},
	}
}

func (e *attackEnv) replayAttacks() []attack {
	jit := `{"name":"Kharkiv schools","legal_basis":"EU JIT model agreement"}`
	return []attack{
		{name: "replay: registry command sent twice with one request id (applied once)", target: "local", code: codes.OK, once: true, effect: onlyNewJIT("UA"),
			do: func(ctx context.Context) error {
				a, err := execJSON(ctx, e.ua.user, string(registry.CmdCreateJIT), "replay-jit", []byte(jit))
				if err != nil {
					return err
				}
				b, err := execJSON(ctx, e.ua.user, string(registry.CmdCreateJIT), "replay-jit", []byte(jit))
				if err != nil {
					return err
				}
				if a.GetId() != b.GetId() || a.GetVersion() != b.GetVersion() || a.GetStatus() != b.GetStatus() {
					return status.Errorf(codes.Internal, "the replay answered %v, the first call %v", b, a)
				}
				return nil
			}},
		{name: "replay: the request id again with another payload (refused)", target: "local", code: codes.InvalidArgument, msg: "already used", once: true,
			do: func(ctx context.Context) error {
				_, err := execJSON(ctx, e.ua.user, string(registry.CmdCreateJIT), "replay-jit", []byte(`{"name":"Another team","legal_basis":"EU JIT model agreement"}`))
				return err
			}},
		{name: "replay: Submit of one command twice (applied once)", target: "federation", code: codes.OK, once: true, effect: onlyNewJIT("UA"),
			do: func(ctx context.Context) error {
				cmd, err := registry.NewCommand("replay-submit", registry.CreateJIT{Name: "Odesa port", LegalBasis: "EU JIT model agreement"})
				if err != nil {
					return err
				}
				signAsNode(e.t, e.fed, "UA", "ua-1", cmd)
				b, err := cmd.Encode()
				if err != nil {
					return err
				}
				return e.replayViaLeader(ctx, b)
			}},
		{name: "replay: CreateCase sent twice (the second refused)", target: "local", code: codes.AlreadyExists, msg: "UA-2023-000600", once: true,
			effect: onlyNewCases("UA-2023-000600"),
			do: func(ctx context.Context) error {
				c := attackCaseOf("UA", "UA-2023-000600", "Iryna Testenko")
				if _, err := e.uaCases.CreateCase(ctx, &accordv1.CreateCaseRequest{Case: c}); err != nil {
					return fmt.Errorf("first call: %w", err)
				}
				_, err := e.uaCases.CreateCase(ctx, &accordv1.CreateCaseRequest{Case: c})
				return err
			}},
		{name: "replay: an import sent twice (the second changes nothing)", target: "local", code: codes.OK, once: true,
			effect: onlyNewCases("UA-2023-000700", "UA-2023-000701"),
			do: func(ctx context.Context) error {
				var lines []string
				for _, id := range []string{"UA-2023-000700", "UA-2023-000701"} {
					lines = append(lines, fmt.Sprintf(`{"case_id":%q,"country":"UA","incidents":[{"start":"2023-06-01T10:00:00+03:00","place":"Kharkiv"}]}`, id))
				}
				first, err := importLines(ctx, e.uaCases, lines...)
				if err != nil {
					return err
				}
				again, err := importLines(ctx, e.uaCases, lines...)
				if err != nil {
					return err
				}
				if first.GetCreated() != 2 || again.GetCreated() != 0 || again.GetUpdated() != 0 || again.GetUnchanged() != 2 {
					return status.Errorf(codes.Internal, "first import %v, replay %v", first, again)
				}
				return nil
			}},
	}
}

// replayViaLeader submits a command twice, as UA's node, to whichever
// registry server leads (UA's own included): it must be applied once and
// answered alike.
func (e *attackEnv) replayViaLeader(ctx context.Context, cmd []byte) error {
	return e.atLeader(ctx, func(ctx context.Context, n *regNode) error {
		var got []*accordv1.SubmitResponse
		for range 2 {
			err := oneShot(ctx, n.d.Addr(), honestCreds(e.t, e.fed.Node("UA", "ua-1"), n.member), func(ctx context.Context, cc *grpc.ClientConn) error {
				resp, err := accordv1.NewRegistryServiceClient(cc).Submit(ctx, &accordv1.SubmitRequest{Command: cmd})
				got = append(got, resp)
				return err
			})
			if err != nil {
				return err // Unavailable: not the leader (any more); try the others
			}
		}
		a, b := got[0], got[1]
		if a.GetId() != b.GetId() || a.GetVersion() != b.GetVersion() || a.GetStatus() != b.GetStatus() {
			return status.Errorf(codes.Internal, "the replay answered %v, the first call %v", b, a)
		}
		return nil
	})
}

func (e *attackEnv) cursorAttacks() []attack {
	t := e.t
	fi, err := e.ua.d.Store().Feed()
	if err != nil {
		t.Fatal(err)
	}
	plCursor := syncAll(e.t, e.plEx, "").cursor
	// A cursor minted with UA's key at its head is accepted: the minted
	// cursors below differ from a real one only where the attack says.
	if err := syncErr(context.Background(), e.plEx, mintCursor(fi.CursorKey, fi.Epoch, fi.Head, "PL")); err != nil {
		t.Fatalf("control: a minted cursor at the head: %v", err)
	}
	deOnPL := accordv1.NewExchangeServiceClient(dialWith(e.t, e.pl.d.Addr(), honestCreds(e.t, e.fed.Node("UA", "ua-1"), "PL")))
	foreignNode := syncAll(e.t, deOnPL, "").cursor // PL's cursor issued to UA
	var old string
	return []attack{
		{name: "cursor: garbage", target: "federation", code: codes.InvalidArgument, msg: "cursor",
			do: func(ctx context.Context) error { return syncErr(ctx, e.plEx, "not-a-cursor!") }},
		{name: "cursor: forged (one bit flipped)", target: "federation", code: codes.InvalidArgument, msg: "not issued by this node",
			do: func(ctx context.Context) error {
				b := []byte(plCursor)
				b[len(b)/2] ^= 1
				return syncErr(ctx, e.plEx, string(b))
			}},
		{name: "cursor: issued to another member", target: "federation", code: codes.InvalidArgument, msg: "issued to member PL",
			do: func(ctx context.Context) error { return syncErr(ctx, e.deEx, plCursor) }},
		{name: "cursor: of another node's feed", target: "federation", code: codes.InvalidArgument, msg: "not issued by this node",
			do: func(ctx context.Context) error { return syncErr(ctx, e.plEx, foreignNode) }},
		{name: "cursor: from the future (beyond the head)", target: "federation", code: codes.InvalidArgument, msg: "ahead of this feed",
			do: func(ctx context.Context) error {
				return syncErr(ctx, e.plEx, mintCursor(fi.CursorKey, fi.Epoch, fi.Head+1000, "PL"))
			}},
		{name: "cursor: of an earlier feed epoch", target: "federation", code: codes.OutOfRange, msg: "earlier feed",
			do: func(ctx context.Context) error {
				return syncErr(ctx, e.plEx, mintCursor(fi.CursorKey, fi.Epoch^1, fi.Head, "PL"))
			}},
		{name: "cursor: compacted (older than the retained feed)", target: "federation", code: codes.OutOfRange, msg: "older than the retained feed", once: true,
			prepare: func(ctx context.Context) error {
				old = syncAll(e.t, e.plEx, "").cursor
				if _, err := e.uaAdmin.DeleteCase(ctx, &accordv1.DeleteCaseRequest{CaseId: "UA-2023-000004", Reason: "opened twice"}); err != nil {
					return err
				}
				var head uint64
				raftnettest.WaitFor(e.t, 20*time.Second, func() error {
					if _, flags, ok, err := e.ua.d.Store().SharedState("UA-2023-000004"); err != nil || !ok || flags&feed.Tombstone == 0 {
						return fmt.Errorf("the deletion is not published yet (%w)", err)
					}
					fi, err := e.ua.d.Store().Feed()
					head = fi.Head
					return err
				})
				if n, err := e.ua.d.Store().PurgeTombstones(head); err != nil || n == 0 {
					return fmt.Errorf("purge: %d, %w", n, err)
				}
				e.waitStable()
				return nil
			},
			do: func(ctx context.Context) error { return syncErr(ctx, e.plEx, old) }},
	}
}

// signAsNode signs cmd as a member's node, with its certificate and key,
// as that node signs the commands it sends.
func signAsNode(t *testing.T, fed *pkitest.Federation, member, name string, cmd *registry.Command) {
	t.Helper()
	cfg := fed.Node(member, name)
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Member, cmd.Actor.Node = member, fed.NodeURI(member, name).String()
	if err := cmd.Sign(&cert, 0, time.Now()); err != nil {
		t.Fatal(err)
	}
}
