package raftnet

import (
	"fmt"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/identity"
)

// ServerID returns the raft server ID of a node: its certificate identity
// URI, e.g. spiffe://accord.example/member/UA/node/ua-1.
func ServerID(id identity.Identity) raft.ServerID {
	return raft.ServerID(id.String())
}

// ParseServerID returns the node identity a raft server ID names. It fails
// (wrapping ErrBadServerID) for anything but a valid node identity URI.
func ParseServerID(sid raft.ServerID) (identity.Identity, error) {
	id, err := identity.Parse(string(sid))
	if err != nil {
		return identity.Identity{}, fmt.Errorf("%w: %q: %w", ErrBadServerID, sid, err)
	}
	if id.Kind != identity.KindNode {
		return identity.Identity{}, fmt.Errorf("%w: %q names a %s", ErrBadServerID, sid, id.Kind)
	}
	return id, nil
}

// AddressBook says which node identity must answer at each raft address.
// Its Expect method is meant for Config.Expect. It is safe for concurrent
// use.
type AddressBook struct {
	mu sync.RWMutex
	m  map[raft.ServerAddress]identity.Identity
}

// NewAddressBook returns an empty address book.
func NewAddressBook() *AddressBook {
	return &AddressBook{m: map[raft.ServerAddress]identity.Identity{}}
}

// Set records that id answers at addr, replacing any earlier entry for
// addr.
func (b *AddressBook) Set(addr raft.ServerAddress, id identity.Identity) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[addr] = id
}

// Remove forgets addr.
func (b *AddressBook) Remove(addr raft.ServerAddress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, addr)
}

// SetConfiguration replaces every entry with the servers of a raft
// configuration, whose IDs are node identity URIs (ServerID). On error the
// book is unchanged.
func (b *AddressBook) SetConfiguration(cfg raft.Configuration) error {
	m := make(map[raft.ServerAddress]identity.Identity, len(cfg.Servers))
	for _, s := range cfg.Servers {
		id, err := ParseServerID(s.ID)
		if err != nil {
			return err
		}
		if other, ok := m[s.Address]; ok && other != id {
			return fmt.Errorf("%w: address %s is given to both %s and %s", ErrConfig, s.Address, other, id)
		}
		m[s.Address] = id
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m = m
	return nil
}

// Expect returns the identity expected at addr, or an error wrapping
// ErrUnknownAddress.
func (b *AddressBook) Expect(addr raft.ServerAddress) (identity.Identity, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	id, ok := b.m[addr]
	if !ok {
		return identity.Identity{}, fmt.Errorf("%w: %s", ErrUnknownAddress, addr)
	}
	return id, nil
}
