package daemon_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/daemon/daemontest"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestAttackForgedRaftAppend: PL's registry server, with nothing but its
// own node key, claims leadership of a higher term over Raft and appends
// registry commands in UA's and DE's names straight into UA's log (the
// review's critical finding). UA's node appends and commits them as Raft
// must, but its state machine refuses every one of them: none is signed by
// a node of the member it claims. UA's registry is unchanged, the
// federation elects a leader again, and UA's own writes go on.
func TestAttackForgedRaftAppend(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE")
	nodes, servers := daemontest.StartFederation(t, fed, nil, "UA", "PL", "DE")
	ua := nodes[0]
	uaCoord := daemontest.Coordination(t, ua.D, fed.User("UA", "analyst"), "UA")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// A team of UA and DE, which PL is not in.
	out, err := execJSON(ctx, uaCoord, string(registry.CmdCreateJIT), "ua-team", []byte(`{"name":"Bucha","legal_basis":"EU JIT model agreement"}`))
	if err != nil {
		t.Fatal(err)
	}
	jit := out.GetId()
	before := registryView(t, uaCoord)

	// The rogue: PL's node identity and key, dialling UA's Raft listener.
	plCfg := fed.Node("PL", "pl-1")
	src, err := mtls.NewSource(plCfg, mtls.Hooks{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	uaID := fed.NodeURI("UA", "ua-1").String()
	plID := fed.NodeURI("PL", "pl-1").String()
	uaRaft := servers[0].RaftAddress
	book := raftnet.NewAddressBook()
	uaIdent, _ := identity.Parse(uaID)
	book.Set(raft.ServerAddress(uaRaft), uaIdent)
	deIdent, _ := identity.Parse(fed.NodeURI("DE", "de-1").String())
	book.Set(raft.ServerAddress(servers[2].RaftAddress), deIdent)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	layer, err := raftnet.New(raftnet.Config{Listener: ln, Source: src, Allow: func(identity.Identity) error { return nil }, Expect: book.Expect})
	if err != nil {
		t.Fatal(err)
	}
	trans := raftnet.NewTransport(layer, raftnet.TransportOptions{})
	defer trans.Close()

	// What a member's server could write: commands in UA's and DE's names,
	// unsigned, signed with PL's own key, and one of UA's real commands
	// changed after UA signed it.
	plCert, err := tls.LoadX509KeyPair(plCfg.CertFile, plCfg.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	forge := func(rid, member string, p registry.Payload, sign func(*registry.Command)) []byte {
		c, err := registry.NewCommand(rid, p)
		if err != nil {
			t.Fatal(err)
		}
		c.Member = member
		c.Actor = registry.Actor{Node: fed.NodeURI(member, strings.ToLower(member)+"-1").String(), User: "spiffe://accord.test/member/" + member + "/user/analyst"}
		c.Time = time.Now().UTC()
		if sign != nil {
			sign(c)
		}
		b, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	withPLKey := func(c *registry.Command) {
		if err := c.Sign(&plCert, 0, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	uaSigned := func(c *registry.Command) {
		signAsNode(t, fed, "UA", "ua-1", c)
		c.Actor.User = "spiffe://accord.test/member/UA/user/analyst"
		signAsNode(t, fed, "UA", "ua-1", c)
		c.Payload = registry.CreateJIT{Name: "Hijacked", LegalBasis: "none"} // changed after signing
	}
	forged := [][]byte{
		forge("forged-1", "UA", registry.CreateJIT{Name: "Forged UA team", LegalBasis: "none"}, nil),
		forge("forged-2", "UA", registry.CreateEntry{JIT: jit, Kind: registry.KindTheme, Title: "Forged entry in UA's team"}, withPLKey),
		forge("forged-3", "DE", registry.InviteToJIT{JIT: jit, Member: "PL"}, withPLKey),
		forge("forged-4", "UA", registry.CreateJIT{Name: "x", LegalBasis: "y"}, uaSigned),
	}

	// appendAs writes entries after the target's last one, in a term above
	// its own, as if PL's server led: Raft cannot tell a rogue leader from
	// an elected one, so the target appends and commits them. The attack
	// must reach the log for the test to mean anything.
	appendAs := func(target *daemontest.Node, id, addr string, data [][]byte, termUp uint64) uint64 {
		t.Helper()
		stats := target.D.Registry().Raft().Stats()
		term, _ := strconv.ParseUint(stats["term"], 10, 64)
		last, _ := strconv.ParseUint(stats["last_log_index"], 10, 64)
		var entries []*raft.Log
		for i, d := range data {
			entries = append(entries, &raft.Log{Index: last + uint64(i) + 1, Term: term + termUp, Type: raft.LogCommand, Data: d, AppendedAt: time.Now()})
		}
		to := last + uint64(len(entries))
		req := &raft.AppendEntriesRequest{
			RPCHeader:         raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(plID), Addr: []byte(servers[1].RaftAddress)},
			Term:              term + termUp,
			PrevLogEntry:      0, // no consistency check: the rogue appends after the last entry
			PrevLogTerm:       0,
			Entries:           entries,
			LeaderCommitIndex: to,
		}
		var resp raft.AppendEntriesResponse
		if err := trans.AppendEntries(raft.ServerID(id), raft.ServerAddress(addr), req, &resp); err != nil || !resp.Success {
			t.Fatalf("forged append of %d entries at %d-%d in term %d to %s: err %v, success %v", len(entries), last+1, to, term+termUp, id, err, resp.Success)
		}
		t.Logf("forged append of %d entries at %d-%d in term %d accepted by %s's Raft", len(entries), last+1, to, term+termUp, id)
		return to
	}
	forgedTo := appendAs(ua, uaID, uaRaft, forged, 100)

	// Whatever Raft did with them, UA's state machine applied no forged
	// command: the registry UA sees is what it was, once the group has a
	// leader again.
	daemontest.WaitFounded(t, uaCoord, "UA")
	// Raft accepted them: they reach UA's state machine, which refuses
	// each.
	raftnettest.WaitFor(t, time.Minute, func() error {
		if got := ua.D.Registry().Raft().AppliedIndex(); got < forgedTo {
			return fmt.Errorf("UA applied %d, not the forged entries up to %d", got, forgedTo)
		}
		return nil
	})
	after := registryView(t, uaCoord)
	for kind, b := range before {
		if after[kind] != b {
			t.Errorf("UA's registry %s changed after the forged append:\nbefore %s\nafter  %s", kind, b, after[kind])
		}
	}
	for _, marker := range []string{"Forged", "Hijacked"} {
		for kind, v := range after {
			if strings.Contains(v, marker) {
				t.Errorf("UA's registry %s holds %q", kind, marker)
			}
		}
	}
	// UA still writes.
	if _, err := execJSON(ctx, uaCoord, string(registry.CmdCreateEntry), "ua-entry", []byte(`{"jit":"`+jit+`","kind":"theme","title":"after the attack"}`)); err != nil {
		t.Fatalf("UA's write after the attack: %v", err)
	}

	// Divergence: PL's server writes one thing into UA's log and another
	// into DE's, each in a higher term. Whichever of the two the next
	// leader overwrites has applied entries the others never apply; the
	// servers' log chains show it, and that server says it differs from
	// the majority.
	de := nodes[2]
	deCoord := daemontest.Coordination(t, de.D, fed.User("DE", "analyst"), "DE")
	appendAs(ua, uaID, uaRaft, [][]byte{forge("split-ua", "UA", registry.CreateJIT{Name: "to UA", LegalBasis: "none"}, nil)}, 200)
	appendAs(de, fed.NodeURI("DE", "de-1").String(), servers[2].RaftAddress, [][]byte{forge("split-de", "DE", registry.CreateJIT{Name: "to DE", LegalBasis: "none"}, nil)}, 300)
	daemontest.WaitFounded(t, uaCoord, "UA")
	var diverged string
	for i, deadline := 0, time.Now().Add(time.Minute); diverged == ""; i++ {
		if time.Now().After(deadline) {
			t.Fatal("no server reports that it diverged from the majority")
		}
		// Writes give the servers common applied indexes to compare at.
		_, _ = execJSON(ctx, uaCoord, string(registry.CmdCreateEntry), "after-split-"+strconv.Itoa(i), []byte(`{"jit":"`+jit+`","kind":"theme","title":"after the split"}`))
		for member, c := range map[string]accordv1.CoordinationServiceClient{"UA": uaCoord, "DE": deCoord} {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			st, err := c.RegistryStatus(sctx, &accordv1.RegistryStatusRequest{})
			cancel()
			if err == nil && st.GetDivergedFromMajority() {
				diverged = member
			}
		}
	}
	t.Logf("%s's server reports that its registry diverged from the majority's", diverged)
	// PL's honest node sees that one server, and only it, as diverged.
	plCoord := daemontest.Coordination(t, nodes[1].D, fed.User("PL", "analyst"), "PL")
	raftnettest.WaitFor(t, time.Minute, func() error {
		st, err := plCoord.RegistryStatus(ctx, &accordv1.RegistryStatusRequest{})
		if err != nil {
			return err
		}
		var seen []string
		for _, s := range st.GetServers() {
			if s.GetDiverged() {
				seen = append(seen, s.GetId())
			}
		}
		if len(seen) != 1 || !strings.Contains(seen[0], "/member/"+diverged+"/") || st.GetDivergedFromMajority() {
			return fmt.Errorf("PL sees diverged servers %v (diverged from the majority: %v), want %s's alone", seen, st.GetDivergedFromMajority(), diverged)
		}
		return nil
	})
}

// registryView reads the registry as the user sees it, every kind, with a
// linearizable first read.
func registryView(t *testing.T, c accordv1.CoordinationServiceClient) map[string]string {
	t.Helper()
	view := map[string]string{}
	for i, kind := range registryKinds {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		resp, err := c.Query(ctx, &accordv1.QueryRequest{Kind: kind, Stale: i > 0})
		cancel()
		if err != nil {
			t.Fatalf("registry %s: %v", kind, err)
		}
		view[kind] = string(resp.GetResult())
	}
	return view
}
