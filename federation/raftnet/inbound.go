package raftnet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/identity"
)

// Inbound RPCs.
//
// hashicorp/raft takes the sender of every RPC from the RPC's own header
// (its ID and address), whatever connection it came on. So the Transport
// serves inbound connections itself rather than through NetworkTransport's
// listener: it decodes each RPC, checks that the header names the very
// node whose certificate the connection was authenticated with — a server
// may speak only for itself — and that a claimed address, where the
// address book knows it, belongs to that node, and only then hands the RPC
// to raft. An RPC that claims another server is refused and its connection
// closed (counted as "spoofed_sender" through Config.Refused).
//
// What it cannot check: that a server claiming leadership of a term won
// that term's election (Raft lets any voter stand, and a lagging follower
// must accept a leader it does not yet know as a voter). The registry's
// signed commands and log chains cover that (federation/registry).

// The RPC types of hashicorp/raft's network transport (net_transport.go).
const (
	rpcAppendEntries uint8 = iota
	rpcRequestVote
	rpcInstallSnapshot
	rpcTimeoutNow
	rpcRequestPreVote
)

// ErrSpoofedSender is wrapped when an RPC's header names another server
// than the one its connection authenticated as.
var ErrSpoofedSender = errors.New("raft RPC sent in another server's name")

// receiveBuffer is the read buffer of an inbound connection (raft's own).
const receiveBuffer = 64 << 10

// peerIdentity is implemented by the layer's connections.
type peerIdentity interface {
	PeerIdentity() (identity.Identity, error)
}

// PeerIdentity returns the identity the connection's peer authenticated
// as.
func (c *conn) PeerIdentity() (identity.Identity, error) {
	if len(c.chain) == 0 {
		return identity.Identity{}, errors.New("no peer certificate")
	}
	return identity.FromCertificate(c.chain[0])
}

// inbound serves a layer's inbound connections for a Transport.
type inbound struct {
	layer     raft.StreamLayer
	expect    func(raft.ServerAddress) (identity.Identity, error)
	refused   func(side, remote string, err error)
	logger    *slog.Logger
	consume   chan raft.RPC
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	heartbeat atomic.Pointer[func(raft.RPC)]
	conns     sync.Map // net.Conn -> struct{}
}

// acceptNothing is the stream layer NetworkTransport gets: it dials through
// the real layer but never accepts (the inbound side serves the real one).
type acceptNothing struct {
	raft.StreamLayer
	in *inbound
}

func (a acceptNothing) Accept() (net.Conn, error) {
	<-a.in.ctx.Done()
	return nil, ErrClosed
}

func (a acceptNothing) Close() error {
	a.in.close()
	return a.StreamLayer.Close()
}

func (in *inbound) close() {
	in.cancel()
	in.conns.Range(func(k, _ any) bool {
		_ = k.(net.Conn).Close()
		return true
	})
}

func (in *inbound) acceptLoop() {
	defer in.wg.Done()
	for {
		c, err := in.layer.Accept()
		if err != nil {
			if in.ctx.Err() != nil || errors.Is(err, ErrClosed) || errors.Is(err, net.ErrClosed) {
				return
			}
			in.logger.Warn("raft: accept failed", "err", err)
			continue
		}
		in.conns.Store(c, struct{}{})
		in.wg.Add(1)
		go func() {
			defer in.wg.Done()
			defer in.conns.Delete(c)
			defer c.Close()
			in.serve(c)
		}()
	}
}

// serve answers the RPCs of one connection until it ends or sends an RPC
// in another server's name.
func (in *inbound) serve(c net.Conn) {
	pi, ok := c.(peerIdentity)
	if !ok {
		in.logger.Error("raft: an inbound connection without a verified peer; closed", "remote", c.RemoteAddr().String())
		return
	}
	peer, err := pi.PeerIdentity()
	if err != nil {
		in.logger.Error("raft: an inbound connection without a verified peer; closed", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
	r := bufio.NewReaderSize(c, receiveBuffer)
	w := bufio.NewWriter(c)
	dec := codec.NewDecoder(r, &codec.MsgpackHandle{})
	// As raft's own transport encodes its answers (time in the old
	// format, which every raft version reads).
	mh := &codec.MsgpackHandle{}
	mh.TimeNotBuiltin = true
	enc := codec.NewEncoder(w, mh)
	for in.ctx.Err() == nil {
		if err := in.handle(peer, r, dec, enc); err != nil {
			switch {
			case errors.Is(err, ErrSpoofedSender):
				in.logger.Warn("raft: refused an RPC sent in another server's name; connection closed", "peer", peer.String(), "err", err)
				if in.refused != nil {
					in.refused("server", c.RemoteAddr().String(), err)
				}
			case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), in.ctx.Err() != nil:
			default:
				in.logger.Debug("raft: inbound connection ended", "peer", peer.String(), "err", err)
			}
			return
		}
		if err := w.Flush(); err != nil {
			return
		}
	}
}

// handle decodes one RPC, checks its sender and hands it to raft, then
// writes raft's answer.
func (in *inbound) handle(peer identity.Identity, r *bufio.Reader, dec *codec.Decoder, enc *codec.Encoder) error {
	typ, err := r.ReadByte()
	if err != nil {
		return err
	}
	respCh := make(chan raft.RPCResponse, 1)
	rpc := raft.RPC{RespChan: respCh}
	var (
		header    raft.RPCHeader
		claimed   []byte // a deprecated address field, when the header has none
		heartbeat bool
	)
	switch typ {
	case rpcAppendEntries:
		var req raft.AppendEntriesRequest
		if err := dec.Decode(&req); err != nil {
			return err
		}
		rpc.Command, header, claimed = &req, req.RPCHeader, req.Leader //nolint:staticcheck // the deprecated field is what old senders fill
		leader := req.Addr
		if len(leader) == 0 {
			leader = req.Leader //nolint:staticcheck
		}
		heartbeat = req.Term != 0 && leader != nil && req.PrevLogEntry == 0 && req.PrevLogTerm == 0 &&
			len(req.Entries) == 0 && req.LeaderCommitIndex == 0
	case rpcRequestVote:
		var req raft.RequestVoteRequest
		if err := dec.Decode(&req); err != nil {
			return err
		}
		rpc.Command, header, claimed = &req, req.RPCHeader, req.Candidate //nolint:staticcheck
	case rpcRequestPreVote:
		var req raft.RequestPreVoteRequest
		if err := dec.Decode(&req); err != nil {
			return err
		}
		rpc.Command, header = &req, req.RPCHeader
	case rpcInstallSnapshot:
		var req raft.InstallSnapshotRequest
		if err := dec.Decode(&req); err != nil {
			return err
		}
		rpc.Command, header, claimed = &req, req.RPCHeader, req.Leader //nolint:staticcheck
		rpc.Reader = io.LimitReader(r, req.Size)
	case rpcTimeoutNow:
		var req raft.TimeoutNowRequest
		if err := dec.Decode(&req); err != nil {
			return err
		}
		rpc.Command, header = &req, req.RPCHeader
	default:
		return fmt.Errorf("unknown raft rpc type %d", typ)
	}
	if err := in.checkSender(peer, header, claimed); err != nil {
		return err
	}
	dispatched := false
	if heartbeat {
		if fn := in.heartbeat.Load(); fn != nil {
			(*fn)(rpc)
			dispatched = true
		}
	}
	if !dispatched {
		select {
		case in.consume <- rpc:
		case <-in.ctx.Done():
			return raft.ErrTransportShutdown
		}
	}
	select {
	case resp := <-respCh:
		respErr := ""
		if resp.Error != nil {
			respErr = resp.Error.Error()
		}
		if err := enc.Encode(respErr); err != nil {
			return err
		}
		return enc.Encode(resp.Response)
	case <-in.ctx.Done():
		return raft.ErrTransportShutdown
	}
}

// checkSender refuses an RPC whose header names another server than the
// connection's peer, or claims an address the address book gives to
// another server.
func (in *inbound) checkSender(peer identity.Identity, h raft.RPCHeader, claimed []byte) error {
	want := ServerID(peer)
	if string(h.ID) != string(want) {
		return fmt.Errorf("%w: the header names %q, the connection is %s's", ErrSpoofedSender, h.ID, peer)
	}
	addr := h.Addr
	if len(addr) == 0 {
		addr = claimed
	}
	if len(addr) > 0 && in.expect != nil {
		if at, err := in.expect(raft.ServerAddress(addr)); err == nil && at != peer {
			return fmt.Errorf("%w: %s claims the address %s of %s", ErrSpoofedSender, peer, addr, at)
		}
	}
	return nil
}
