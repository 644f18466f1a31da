package raftnet_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
)

// TestRPCInAnotherServersName: a registry server may speak only for
// itself. PL's server, authenticated as PL, sends RPCs whose header names
// DE's server (or claims DE's address): UA's transport refuses each
// before raft sees it, closes the connection and counts the refusal; the
// same RPC in PL's own name reaches raft.
func TestRPCInAnotherServersName(t *testing.T) {
	logger := raftnettest.NewLogger(t, slog.LevelInfo)
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE")
	uaSrc := newSource(t, fed.Node("UA", "ua-1"), logger)
	plSrc := newSource(t, fed.Node("PL", "pl-1"), logger)
	rec := &refusals{}
	ua := newLayer(t, uaSrc, func(c *raftnet.Config) { c.Refused = rec.add; c.Logger = logger })
	uaAddr := raft.ServerAddress(ua.Addr().String())
	deID := raftnet.ServerID(identity.Identity{Federation: "accord.test", Member: "DE", Kind: identity.KindNode, Name: "de-1"})
	plID := raftnet.ServerID(plSrc.Identity())
	book := raftnet.NewAddressBook()
	book.Set(uaAddr, uaSrc.Identity())
	deIdent, _ := raftnet.ParseServerID(deID)
	book.Set("127.0.0.1:7999", deIdent)
	uaTrans := raftnet.NewTransport(ua, raftnet.TransportOptions{Logger: logger, Expect: book.Expect, Refused: rec.add})
	defer uaTrans.Close()
	pl := newLayer(t, plSrc, func(c *raftnet.Config) { c.Expect = book.Expect; c.Logger = logger })
	plTrans := raftnet.NewTransport(pl, raftnet.TransportOptions{Logger: logger, Timeout: 3 * time.Second})
	defer plTrans.Close()

	// UA's raft: answers whatever reaches it, and remembers who sent it.
	got := make(chan string, 16)
	go func() {
		for rpc := range uaTrans.Consumer() {
			switch req := rpc.Command.(type) {
			case *raft.RequestVoteRequest:
				got <- string(req.ID)
				rpc.Respond(&raft.RequestVoteResponse{Term: req.Term}, nil)
			case *raft.AppendEntriesRequest:
				got <- string(req.ID)
				rpc.Respond(&raft.AppendEntriesResponse{Term: req.Term, Success: true}, nil)
			default:
				rpc.Respond(nil, nil)
			}
		}
	}()
	header := func(id raft.ServerID, addr string) raft.RPCHeader {
		return raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(id), Addr: []byte(addr)}
	}
	for _, c := range []struct {
		name string
		send func() error
	}{
		{"a vote asked in DE's name", func() error {
			return plTrans.RequestVote(raftnet.ServerID(uaSrc.Identity()), uaAddr, &raft.RequestVoteRequest{RPCHeader: header(deID, ""), Term: 7}, &raft.RequestVoteResponse{})
		}},
		{"entries appended in DE's name", func() error {
			return plTrans.AppendEntries(raftnet.ServerID(uaSrc.Identity()), uaAddr, &raft.AppendEntriesRequest{RPCHeader: header(deID, ""), Term: 7, LeaderCommitIndex: 1}, &raft.AppendEntriesResponse{})
		}},
		{"a heartbeat in PL's name from DE's address", func() error {
			return plTrans.AppendEntries(raftnet.ServerID(uaSrc.Identity()), uaAddr, &raft.AppendEntriesRequest{RPCHeader: header(plID, "127.0.0.1:7999"), Term: 7}, &raft.AppendEntriesResponse{})
		}},
	} {
		before := len(rec.all())
		if err := c.send(); err == nil {
			t.Errorf("%s: answered", c.name)
		}
		select {
		case id := <-got:
			t.Errorf("%s: reached raft as %s", c.name, id)
		default:
		}
		// The server counts the refusal as it closes the connection.
		raftnettest.WaitFor(t, 10*time.Second, func() error {
			if after := rec.all(); len(after) != before+1 || after[len(after)-1] != "server:spoofed_sender" {
				return fmt.Errorf("%s: refusals %v, want one more server:spoofed_sender", c.name, after)
			}
			return nil
		})
	}
	// In its own name it gets through.
	if err := plTrans.RequestVote(raftnet.ServerID(uaSrc.Identity()), uaAddr, &raft.RequestVoteRequest{RPCHeader: header(plID, pl.Addr().String()), Term: 7}, &raft.RequestVoteResponse{}); err != nil {
		t.Fatalf("PL's own vote request: %v", err)
	}
	select {
	case id := <-got:
		if id != string(plID) {
			t.Fatalf("raft saw %s, want %s", id, plID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("PL's own vote request never reached raft")
	}
	if n := len(rec.all()); n != 3 {
		t.Fatalf("refusals %v, want the three above", rec.all())
	}
}
