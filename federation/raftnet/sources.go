package raftnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
)

// Sources is the set of IP addresses of known registry servers, for
// Config.Reserved: connections from them keep handshake slots of their own.
// It is built from the hosts of Raft addresses (host:port), names resolved
// when Update is called, so that Contains, called for every inbound
// connection, never waits on a resolver. It is safe for concurrent use.
type Sources struct {
	mu  sync.RWMutex
	ips map[netip.Addr]struct{}
}

// NewSources returns an empty set.
func NewSources() *Sources {
	return &Sources{ips: map[netip.Addr]struct{}{}}
}

// Update replaces the set with the addresses of the hosts of addrs (each
// host:port or a bare host): IP literals as they are, names through r (nil
// for net.DefaultResolver) under ctx. A host that cannot be resolved is
// left out, and named in the returned error; the others are still set.
func (s *Sources) Update(ctx context.Context, r *net.Resolver, addrs []string) error {
	if r == nil {
		r = net.DefaultResolver
	}
	hosts := make([]string, 0, len(addrs))
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			host = a
		}
		if host != "" {
			hosts = append(hosts, host)
		}
	}
	slices.Sort(hosts)
	hosts = slices.Compact(hosts)
	ips := make(map[netip.Addr]struct{}, len(hosts))
	var errs []error
	for _, h := range hosts {
		if ip, err := netip.ParseAddr(h); err == nil {
			ips[ip.Unmap()] = struct{}{}
			continue
		}
		found, err := r.LookupNetIP(ctx, "ip", h)
		if err != nil {
			errs = append(errs, fmt.Errorf("raft server host %s: %w", h, err))
			continue
		}
		for _, ip := range found {
			ips[ip.Unmap()] = struct{}{}
		}
	}
	s.mu.Lock()
	s.ips = ips
	s.mu.Unlock()
	return errors.Join(errs...)
}

// Contains reports whether ip is the address of a known registry server.
func (s *Sources) Contains(ip netip.Addr) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.ips[ip.Unmap()]
	return ok
}
