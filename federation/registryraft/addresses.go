package registryraft

import (
	"fmt"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/raftnet"
	"github.com/accordfed/accord/federation/registry"
)

// RaftAddresses is the transport's raft.ServerAddressProvider
// (raftnet.TransportOptions.ServerAddressProvider): it resolves a server's
// Raft address when raft dials it, rather than trusting the address stored
// in raft's configuration, which stays wrong when servers move while the
// group has no leader to change it (every server restarted at a new
// address: none could reach another, and no leader was ever elected).
//
// The candidates of a server are its Raft address in the registry's node
// record and in this node's configuration (configured: registry.servers).
// While this node holds a connection to one of them (connected, usually
// raftnet.StreamLayer.Connected) that one is given; otherwise each call
// gives the next candidate in turn, so that a stale one costs one failed
// dial. Each address given is recorded in book (the identity expected
// there, when not nil). A server with no candidate is an error, and raft
// then dials the address of its configuration.
type RaftAddresses struct {
	fsm        *registry.FSM
	configured map[raft.ServerID]raft.ServerAddress
	book       *raftnet.AddressBook
	connected  func(raft.ServerAddress) bool

	mu   sync.Mutex
	next map[raft.ServerID]int
}

var _ raft.ServerAddressProvider = (*RaftAddresses)(nil)

// NewRaftAddresses returns the provider; see RaftAddresses.
func NewRaftAddresses(fsm *registry.FSM, configured map[raft.ServerID]raft.ServerAddress, book *raftnet.AddressBook, connected func(raft.ServerAddress) bool) *RaftAddresses {
	return &RaftAddresses{fsm: fsm, configured: configured, book: book, connected: connected, next: map[raft.ServerID]int{}}
}

// ServerAddr returns the address to dial id at.
func (p *RaftAddresses) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) {
	ident, err := raftnet.ParseServerID(id)
	if err != nil {
		return "", err
	}
	var cands []raft.ServerAddress
	add := func(a raft.ServerAddress) {
		for _, c := range cands {
			if c == a {
				return
			}
		}
		if a != "" {
			cands = append(cands, a)
		}
	}
	p.fsm.Read(func(v registry.View) {
		if n, _, err := v.GetNode(string(id)); err == nil && n.RegistryServer {
			add(raft.ServerAddress(n.Address))
		}
	})
	add(p.configured[id])
	if len(cands) == 0 {
		return "", fmt.Errorf("registryraft: no raft address known for %s", id)
	}
	addr := cands[0]
	pick := true
	if p.connected != nil {
		for _, c := range cands {
			if p.connected(c) {
				addr, pick = c, false
				break
			}
		}
	}
	if pick && len(cands) > 1 {
		p.mu.Lock()
		addr = cands[p.next[id]%len(cands)]
		p.next[id]++
		p.mu.Unlock()
	}
	if p.book != nil {
		p.book.Set(addr, ident)
	}
	return addr, nil
}
