package raftnettest

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"
)

// Network is a set of named nodes with a Link between each pair. Nodes are
// known by the addresses they listen at (Register); each node dials
// through Dialer, which routes the connection through the Link of the
// pair. It is safe for concurrent use.
type Network struct {
	mu      sync.Mutex
	byAddr  map[string]string // listening address -> node name
	nodes   []string
	links   map[[2]string]*Link
	latency time.Duration
	// lossRate and rto are every link's packet loss (SetLoss).
	lossRate float64
	rto      time.Duration
	dialer   net.Dialer
}

// NewNetwork returns a network without faults.
func NewNetwork() *Network {
	return &Network{byAddr: map[string]string{}, links: map[[2]string]*Link{}}
}

// Register names the node listening at address.
func (n *Network) Register(name, address string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.byAddr[address] = name
	if !slices.Contains(n.nodes, name) {
		n.nodes = append(n.nodes, name)
	}
}

// Link returns the link between nodes a and b (either order), made on
// first use with the network's latency.
func (n *Network) Link(a, b string) *Link {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.linkLocked(a, b)
}

func (n *Network) linkLocked(a, b string) *Link {
	if b < a {
		a, b = b, a
	}
	key := [2]string{a, b}
	l := n.links[key]
	if l == nil {
		l = NewLink()
		l.SetLatency(n.latency)
		l.SetLoss(n.lossRate, n.rto)
		n.links[key] = l
	}
	return l
}

// SetLatency sets the one-way latency of every link, now and later.
func (n *Network) SetLatency(d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.latency = d
	for _, l := range n.links {
		l.SetLatency(d)
	}
}

// SetLoss sets the packet loss of every link, now and later (see
// Link.SetLoss); a rate of zero ends it.
func (n *Network) SetLoss(rate float64, rto time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.lossRate, n.rto = rate, rto
	for _, l := range n.links {
		l.SetLoss(rate, rto)
	}
}

// direction returns the direction that bytes from node from to node to
// take on the link of the pair: Forward when from sorts first.
func direction(from, to string) Direction {
	if from < to {
		return Forward
	}
	return Backward
}

// CutOneWay blackholes the direction from -> to of the link between the
// two nodes: bytes from from to to are held until Heal (or Restore of the
// link), while bytes from to to from still flow on the connections that
// exist. New connections between the two hang, as TCP handshakes would.
func (n *Network) CutOneWay(from, to string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.linkLocked(from, to).BlackholeDirection(direction(from, to))
}

// Isolate blackholes every link between name and the other registered
// nodes.
func (n *Network) Isolate(name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, other := range n.nodes {
		if other != name {
			n.linkLocked(name, other).Blackhole()
		}
	}
}

// Partition blackholes every link between nodes of different groups and
// restores the links within each group. A registered node in no group is
// cut off from everyone.
func (n *Network) Partition(groups ...[]string) {
	group := map[string]int{}
	for i, g := range groups {
		for _, name := range g {
			group[name] = i + 1
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, a := range n.nodes {
		for _, b := range n.nodes[i+1:] {
			l := n.linkLocked(a, b)
			if ga := group[a]; ga != 0 && ga == group[b] {
				l.Restore()
			} else {
				l.Blackhole()
			}
		}
	}
}

// Heal restores every link.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, l := range n.links {
		l.Restore()
	}
}

// Dialer returns the dial function of node from (for
// raftnet.Config.DialContext). Dialling takes a round trip of the link,
// hangs while either direction is blackholed, and fails for an address no
// node registered.
func (n *Network) Dialer(from string) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		n.mu.Lock()
		to, ok := n.byAddr[address]
		var link *Link
		if ok {
			link = n.linkLocked(from, to)
		}
		n.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("raftnettest: %s dials %s, where no node is registered", from, address)
		}
		if !link.waitOpen(ctx.Done(), Forward, Backward) {
			return nil, fmt.Errorf("raftnettest: dial %s: link %s-%s is blackholed: %w", address, from, to, ctx.Err())
		}
		if err := sleep(ctx, 2*link.Latency()); err != nil {
			return nil, fmt.Errorf("raftnettest: dial %s: %w", address, err)
		}
		c, err := n.dialer.DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return wrap(c, link, direction(from, to)), nil
	}
}

// Close closes every link and waits for their relays.
func (n *Network) Close() {
	n.mu.Lock()
	links := make([]*Link, 0, len(n.links))
	for _, l := range n.links {
		links = append(links, l)
	}
	n.mu.Unlock()
	for _, l := range links {
		l.Close()
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
