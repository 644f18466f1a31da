package daemon_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/records"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/audit"
	"github.com/accordfed/accord/node/daemon"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// rogueFeed is a hostile member's ExchangeService: it serves each caller
// the batches the test queues for its member, nothing else.
type rogueFeed struct {
	accordv1.UnimplementedExchangeServiceServer
	mu     sync.Mutex
	queues map[string]chan *accordv1.SyncResponse
	calls  map[string]int
	active map[string]int
}

func newRogueFeed() *rogueFeed {
	return &rogueFeed{queues: map[string]chan *accordv1.SyncResponse{}, calls: map[string]int{}, active: map[string]int{}}
}

func (r *rogueFeed) queue(member string) chan *accordv1.SyncResponse {
	r.mu.Lock()
	defer r.mu.Unlock()
	q, ok := r.queues[member]
	if !ok {
		q = make(chan *accordv1.SyncResponse, 16)
		r.queues[member] = q
	}
	return q
}

// streams returns how many Sync calls member made and has open.
func (r *rogueFeed) streams(member string) (calls, active int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[member], r.active[member]
}

func (r *rogueFeed) Sync(_ *accordv1.SyncRequest, stream accordv1.ExchangeService_SyncServer) error {
	id, _, err := identity.FromPeer(stream.Context())
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.calls[id.Member]++
	r.active[id.Member]++
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.active[id.Member]--
		r.mu.Unlock()
	}()
	q := r.queue(id.Member)
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case resp := <-q:
			if err := stream.Send(resp); err != nil {
				return err
			}
		}
	}
}

func (r *rogueFeed) Nudge(context.Context, *accordv1.NudgeRequest) (*accordv1.NudgeResponse, error) {
	return &accordv1.NudgeResponse{}, nil
}

// rogueStep is one batch the rogue DE serves UA, and what UA must hold
// afterwards.
type rogueStep struct {
	name  string
	batch []*accordv1.SignedRecord
	// kept: UA applies the batch and keeps its cursor; otherwise UA keeps
	// nothing of it and asks again.
	kept bool
	// de is UA's index of DE afterwards (case id -> feed seq); nil means
	// as before. UA's index of PL never changes.
	de map[string]uint64
	// refused and stale count the batch's records UA must refuse and skip
	// as stale; reasons are the audit log's codes of the refusals.
	refused, stale int
	reasons        []string
}

// roguePhase turns DE rogue: DE's node is stopped and, on its address,
// with its certificate and its registered signing key, a hostile feed
// serves UA forged, replayed, stale, gapped and misaddressed records. UA
// must keep exactly the records it may, refuse the others with the reason
// audited, and keep serving.
func (e *attackEnv) roguePhase() {
	parent := e.t
	parent.Run("rogue member's feed", func(t *testing.T) {
		e.t = t
		defer func() { e.t = parent }()
		deKey, deKeyID := loadNodeSigningKey(t, e.de.cfg.DataDir, "de-1")
		plKeyID := ""
		for _, m := range query[[]registry.Member](t, e.ua.user, "members", "") {
			switch m.Code {
			case "DE":
				if !slices.ContainsFunc(m.SigningKeys, func(k registry.SigningKey) bool { return k.ID == deKeyID }) {
					t.Fatalf("the registry does not hold DE's key %s: %v", deKeyID, m.SigningKeys)
				}
			case "PL":
				plKeyID = m.SigningKeys[0].ID
			}
		}
		// Before DE turns: PL updates one case and deletes the other, so that
		// DE holds an old signed record of each.
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		plCases := accordv1.NewCaseServiceClient(dialWith(t, e.pl.d.LocalAddr(), honestCreds(t, e.fed.User("PL", "analyst"), "PL")))
		plAdmin := accordv1.NewCaseServiceClient(dialWith(t, e.pl.d.LocalAddr(), honestCreds(t, e.fed.User("PL", "admin"), "PL")))
		c := attackCaseOf("PL", e.plCases[0], "Jan Testowski 1")
		c.Incidents[0].Start, c.Incidents[0].End, c.Incidents[0].Place = "2020-01-10T10:00:00+01:00", "2020-01-10T11:00:00+01:00", "Rzeszów"
		c.Title = "Shelling of a school (second report)"
		if _, err := plCases.UpdateCase(ctx, &accordv1.UpdateCaseRequest{Case: c}); err != nil {
			t.Fatal(err)
		}
		if _, err := plAdmin.DeleteCase(ctx, &accordv1.DeleteCaseRequest{CaseId: e.plCases[1], Reason: "entered twice"}); err != nil {
			t.Fatal(err)
		}
		var plNow map[string]uint64
		raftnettest.WaitFor(t, 30*time.Second, func() error {
			plNow = e.indexOf("PL")
			old := seqOf(t, e.plRecords[e.plCases[0]])
			if _, gone := plNow[e.plCases[1]]; gone || plNow[e.plCases[0]] <= old {
				return fmt.Errorf("UA's index of PL: %v", plNow)
			}
			return nil
		})

		// DE turns.
		rogue := turnRogue(t, e.fed, e.de.d, e.de.cfg.TLS, "DE", "de-1", e.ua.d.Addr(), "UA")
		e.deClosed = true

		now := timestamppb.Now()
		rec := func(id string, seq uint64, title string) *accordv1.FeedRecord {
			return &accordv1.FeedRecord{Origin: "DE", CaseId: id, Seq: seq, PublishTime: now, Case: &accordv1.SharedCase{
				CaseId: id, Title: title, Status: accordv1.CaseStatus_CASE_STATUS_INVESTIGATION,
				Sensitivity: accordv1.Sensitivity_SENSITIVITY_FEDERATION, Version: int64(seq),
			}}
		}
		deSigner := records.NewSigner("DE", deKeyID, deKey)
		sign := func(s *records.Signer, recs ...*accordv1.FeedRecord) []*accordv1.SignedRecord {
			out, err := s.SignBatch(recs)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		marshal := func(r *accordv1.FeedRecord) []byte {
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		gapped := sign(deSigner, rec("DE-2024-000001", 3, "Filtration camp"), rec("DE-2024-000002", 4, "Deportation of children"), rec("DE-2024-000003", 7, "Looting of a museum"))
		older := sign(deSigner, rec("DE-2024-000001", 2, "Filtration camp (first report)"))
		tomb := sign(deSigner, &accordv1.FeedRecord{Origin: "DE", CaseId: "DE-2024-000002", Seq: 8, PublishTime: now, Tombstone: true})
		tampered := sign(deSigner, rec("DE-2024-000004", 9, "Shelling of a hospital"))
		tampered[0] = proto.CloneOf(tampered[0])
		tampered[0].Record = append([]byte(nil), tampered[0].Record...)
		tampered[0].Record[len(tampered[0].Record)-1] ^= 1
		withUnknownField := pbString(marshal(rec("DE-2024-000005", 10, "Shelling of a hospital")), 99, attackMarker)
		forMember := marshal(&accordv1.FeedRecord{Origin: "DE", CaseId: "DE-2024-000001", Seq: 11, PublishTime: now, Tombstone: true, Recipient: "PL"})
		national := rec("DE-2024-000006", 12, "National case")
		national.Case.Sensitivity = accordv1.Sensitivity_SENSITIVITY_NATIONAL
		plCaseUnderDE := rec("PL-2020-000001", 13, "Claimed")
		plCaseUnderDE.Case.CaseId = "PL-2020-000001"
		asPL := rec("PL-2020-000001", 14, "Forged report")
		asPL.Origin = "PL"
		de := func(kv ...any) map[string]uint64 {
			m := map[string]uint64{}
			for i := 0; i < len(kv); i += 2 {
				m[kv[i].(string)] = uint64(kv[i+1].(int))
			}
			return m
		}
		steps := []rogueStep{
			{name: "control: DE's records signed by hand are accepted", kept: true,
				batch: []*accordv1.SignedRecord{signOne(deKey, deKeyID, marshal(rec("DE-2024-000009", 1, "Control")))},
				de:    de("DE-2024-000009", 1)},
			{name: "a feed with a gap (seqs 3, 4, 7)", kept: true, batch: gapped,
				de: de("DE-2024-000009", 1, "DE-2024-000001", 3, "DE-2024-000002", 4, "DE-2024-000003", 7)},
			{name: "the same batch replayed (no duplicates)", kept: true, batch: gapped, stale: 3},
			{name: "an older version after a newer one (stale)", kept: true, batch: older, stale: 1},
			{name: "a tombstone", kept: true, batch: tomb,
				de: de("DE-2024-000009", 1, "DE-2024-000001", 3, "DE-2024-000003", 7)},
			{name: "the withdrawn record replayed after its tombstone", kept: true, batch: gapped[1:2], stale: 1},
			{name: "a tampered record", kept: true, batch: tampered, refused: 1, reasons: []string{"bad_signature"}},
			{name: "a record with an unknown field, validly signed", kept: true, refused: 1, reasons: []string{"invalid_record"},
				batch: []*accordv1.SignedRecord{signOne(deKey, deKeyID, withUnknownField)}},
			{name: "a tombstone meant for another member", kept: true, refused: 1, reasons: []string{"invalid_record"},
				batch: []*accordv1.SignedRecord{signOne(deKey, deKeyID, forMember)}},
			{name: "a national case", kept: true, refused: 1, reasons: []string{"invalid_record"},
				batch: []*accordv1.SignedRecord{signOne(deKey, deKeyID, marshal(national))}},
			{name: "record origin: a PL case id in DE's record", kept: true, refused: 1, reasons: []string{"invalid_record"},
				batch: []*accordv1.SignedRecord{signOne(deKey, deKeyID, marshal(plCaseUnderDE))}},
			{name: "record origin: a PL record signed with DE's key", kept: true, refused: 1, reasons: []string{"unknown_key"},
				batch: []*accordv1.SignedRecord{signOne(deKey, deKeyID, marshal(asPL))}},
			{name: "record origin: a PL record under PL's key id, signed by DE", kept: true, refused: 1, reasons: []string{"bad_signature"},
				batch: []*accordv1.SignedRecord{signOne(deKey, plKeyID, marshal(asPL))}},
			{name: "PL's record relayed, older than UA's copy", kept: true, stale: 1,
				batch: []*accordv1.SignedRecord{e.plRecords[e.plCases[0]]}},
			{name: "PL's record relayed after PL's deletion (withdrawn)", kept: true, stale: 1,
				batch: []*accordv1.SignedRecord{e.plRecords[e.plCases[1]]}},
			{name: "DE's own record under a key DE never registered (batch dropped, asked again)", kept: false,
				batch: []*accordv1.SignedRecord{signOne(deKey, "de-1.0000000000000000", marshal(rec("DE-2024-000007", 15, "Unregistered key")))}},
			{name: "after the dropped batch, the feed goes on", kept: true, batch: sign(deSigner, rec("DE-2024-000008", 16, "Forced labour")),
				de: de("DE-2024-000009", 1, "DE-2024-000001", 3, "DE-2024-000003", 7, "DE-2024-000008", 16)},
		}
		for i, s := range steps {
			ok := e.rogueStep(t, rogue, i, s, plNow)
			got := s.want()
			if !ok {
				got = "see the test log"
			}
			e.rows = append(e.rows, attackRow{name: "rogue feed: " + s.name, target: "exchange", want: s.want(), got: got, pass: ok})
		}
	})
}

// want describes the expected outcome of a step, for the report.
func (s rogueStep) want() string {
	switch {
	case !s.kept:
		return "batch dropped, asked again"
	case s.refused > 0:
		return fmt.Sprintf("%d refused (%v)", s.refused, s.reasons)
	case s.stale > 0:
		return fmt.Sprintf("%d skipped as stale", s.stale)
	}
	return "applied"
}

// rogueStep serves one batch to UA and checks what UA made of it.
func (e *attackEnv) rogueStep(t *testing.T, rogue *rogueFeed, i int, s rogueStep, plWant map[string]uint64) bool {
	t.Helper()
	parent := e.t
	return t.Run(s.name, func(t *testing.T) {
		e.t = t
		defer func() { e.t = parent }()
		st0 := e.puller(t, "DE")
		de0, pl0 := e.indexOf("DE"), e.indexOf("PL")
		cur0, err := e.ua.d.Store().FedCursor("DE")
		if err != nil {
			t.Fatal(err)
		}
		audit0 := e.refusals(t)
		calls0, _ := rogue.streams("UA")
		cursor := fmt.Sprintf("rogue-%d", i)
		var head uint64
		for _, r := range s.batch {
			head = max(head, seqOf(t, r))
		}
		rogue.queue("UA") <- &accordv1.SyncResponse{Records: s.batch, Cursor: cursor, Head: head, CaughtUp: true}
		e.ops++
		raftnettest.WaitFor(t, 30*time.Second, func() error {
			cur, err := e.ua.d.Store().FedCursor("DE")
			if err != nil {
				return err
			}
			if !s.kept {
				calls, active := rogue.streams("UA")
				if cur != cur0 {
					return fmt.Errorf("UA kept the cursor of a batch it had to drop")
				}
				if calls == calls0 || active != 1 {
					return fmt.Errorf("UA has not asked again (%d calls, %d open)", calls, active)
				}
				return nil
			}
			if cur != cursor {
				return fmt.Errorf("UA has not applied the batch (cursor %q)", cur)
			}
			st := e.puller(t, "DE")
			if st.Refused-st0.Refused < s.refused || st.Stale-st0.Stale < s.stale {
				return fmt.Errorf("UA counted %d refused and %d stale records of the batch", st.Refused-st0.Refused, st.Stale-st0.Stale)
			}
			if got := e.refusals(t); len(got)-len(audit0) < len(s.reasons) {
				return fmt.Errorf("UA audited %d refusals", len(got)-len(audit0))
			}
			return nil
		})
		st := e.puller(t, "DE")
		if d := st.Refused - st0.Refused; d != s.refused {
			t.Errorf("UA refused %d records, want %d", d, s.refused)
		}
		if d := st.Stale - st0.Stale; d != s.stale {
			t.Errorf("UA skipped %d records as stale, want %d", d, s.stale)
		}
		if got := e.refusals(t)[len(audit0):]; !slices.Equal(got, s.reasons) && (len(got) != 0 || len(s.reasons) != 0) {
			t.Errorf("UA audited the refusals as %v, want %v", got, s.reasons)
		}
		wantDE := s.de
		if wantDE == nil {
			wantDE = de0
		}
		if got := e.indexOf("DE"); !maps.Equal(got, wantDE) {
			t.Errorf("UA's index of DE: %v, want %v", got, wantDE)
		}
		if got := e.indexOf("PL"); !maps.Equal(got, pl0) || !maps.Equal(got, plWant) {
			t.Errorf("UA's index of PL: %v, want %v", got, plWant)
		}
		e.alive(t)
	})
}

// indexOf returns UA's federation index of origin: case id -> feed seq.
func (e *attackEnv) indexOf(origin string) map[string]uint64 {
	e.t.Helper()
	out := map[string]uint64{}
	if err := e.ua.d.Store().FedScan(origin, func(_, caseID string, seq uint64, _ []byte) error {
		out[caseID] = seq
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// puller returns how UA's pulling of member goes.
func (e *attackEnv) puller(t *testing.T, member string) (st struct{ Refused, Stale, Received int }) {
	t.Helper()
	for _, s := range e.ua.d.Exchange().Status() {
		if s.Member == member {
			st.Refused, st.Stale, st.Received = s.Refused, s.Stale, s.Received
		}
	}
	return st
}

// refusals returns the reason codes of UA's audited refusals of DE's
// records, in order.
func (e *attackEnv) refusals(t *testing.T) []string {
	t.Helper()
	var out []string
	err := audit.Scan(filepath.Join(e.ua.cfg.DataDir, audit.FileName), audit.Filter{Peer: "DE", Kind: audit.KindRefused}, func(en audit.Entry) error {
		if en.What.Records > 0 {
			out = append(out, en.What.Reason)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// seqOf reads a signed record's feed seq.
func seqOf(t *testing.T, sr *accordv1.SignedRecord) uint64 {
	t.Helper()
	var r accordv1.FeedRecord
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(sr.GetRecord(), &r); err != nil {
		t.Fatal(err)
	}
	return r.GetSeq()
}

// signOne signs record bytes, whatever they hold, as a batch of one: a
// hostile member's signer, which checks nothing.
func signOne(key ed25519.PrivateKey, keyID string, record []byte) *accordv1.SignedRecord {
	root := sha256.Sum256(append([]byte{0}, record...))
	msg := append([]byte("accord-records-v1"), 0)
	msg = binary.BigEndian.AppendUint32(msg, 1)
	msg = append(msg, root[:]...)
	return &accordv1.SignedRecord{Record: record, KeyId: keyID, Signature: ed25519.Sign(key, msg), LeafIndex: 0, LeafCount: 1}
}

// loadNodeSigningKey reads a node's record-signing key from its data
// folder, and its key id.
func loadNodeSigningKey(t *testing.T, dataDir, nodeName string) (ed25519.PrivateKey, string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dataDir, "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatal("signing.key: not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	priv := k.(ed25519.PrivateKey)
	return priv, records.KeyID(nodeName, priv.Public().(ed25519.PublicKey))
}

// turnRogue stops a member's node (d, with TLS material cfg) and serves,
// on its address and with its certificate, a rogue feed; it returns once
// the victim's puller (a node at victimAddr of member victim) has come to
// it, nudged by the rogue as the member's node.
func turnRogue(t *testing.T, fed *pkitest.Federation, d *daemon.Daemon, cfg mtls.Config, member, nodeName, victimAddr, victim string) *rogueFeed {
	t.Helper()
	addr := d.Addr()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	rogue := newRogueFeed()
	src, err := mtls.NewSource(cfg, mtls.Hooks{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(grpc.Creds(src.ServerCredentials()))
	accordv1.RegisterExchangeServiceServer(g, rogue)
	var ln net.Listener
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		ln, err = net.Listen("tcp", addr)
		return err
	})
	go func() { _ = g.Serve(ln) }()
	t.Cleanup(g.Stop)
	// The rogue nudges the victim, whose puller then comes at once.
	nudger := accordv1.NewExchangeServiceClient(dialWith(t, victimAddr, honestCreds(t, fed.Node(member, nodeName), victim)))
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		if _, active := rogue.streams(victim); active > 0 {
			return nil
		}
		nctx, ncancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer ncancel()
		_, _ = nudger.Nudge(nctx, &accordv1.NudgeRequest{Head: 1})
		return fmt.Errorf("%s has not come to the rogue %s yet", victim, member)
	})
	return rogue
}
