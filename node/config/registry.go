package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/accordfed/accord/federation/identity"
)

// RegistryConfig makes the node a server of the federation's shared
// registry (a member of its Raft group). Every field but server may be left
// at its default.
type RegistryConfig struct {
	// Server makes this node a registry server. Off, the node has no
	// registry.
	Server bool `yaml:"server"`
	// RaftListen is the address of the Raft listener (mutual TLS, only
	// registry servers may connect). Required for a registry server.
	RaftListen string `yaml:"raft_listen"`
	// RaftAdvertise is the Raft address the other servers dial (default
	// raft_listen).
	RaftAdvertise string `yaml:"raft_advertise"`
	// Advertise is the federation gRPC address the other servers reach this
	// node at (default listen).
	Advertise string `yaml:"advertise"`
	// Bootstrap founds the registry with servers as its founding servers,
	// once, when this node has no registry state yet; this node must be one
	// of them. Every founding server has the same servers list and
	// bootstrap: true. Off, a node without registry state asks the servers
	// listed to add it (its member must be admitted).
	Bootstrap bool `yaml:"bootstrap"`
	// Servers are the founding servers (with bootstrap) or the registry
	// servers to ask to join (without). Before the registry's state reaches
	// this node, only these may connect to its Raft listener.
	Servers []RegistryServerConfig `yaml:"servers"`
	// AdmissionThresholdPercent, for founders: admitting a member takes the
	// approval of strictly more than this share of the admitted members
	// (default 50, a simple majority).
	AdmissionThresholdPercent int `yaml:"admission_threshold_percent"`

	// HeartbeatTimeout and ElectionTimeout (default 1s each): on wide-area
	// links at least ten times the round trip between the farthest servers.
	HeartbeatTimeout time.Duration `yaml:"heartbeat_timeout"`
	ElectionTimeout  time.Duration `yaml:"election_timeout"`
	// LeaderLeaseTimeout (default 500ms), at most heartbeat_timeout.
	LeaderLeaseTimeout time.Duration `yaml:"leader_lease_timeout"`
	// CommitTimeout (default 50ms).
	CommitTimeout time.Duration `yaml:"commit_timeout"`
	// SnapshotThreshold (default 8192 entries) and TrailingLogs (default
	// 10240 entries kept after a snapshot).
	SnapshotThreshold uint64 `yaml:"snapshot_threshold"`
	TrailingLogs      uint64 `yaml:"trailing_logs"`
	// SnapshotInterval is how often the threshold is checked (default 2m;
	// Raft waits between one and two intervals).
	SnapshotInterval time.Duration `yaml:"snapshot_interval"`
	// MaxVoters is how many servers vote (default 5), one per member at
	// most; the others are non-voters.
	MaxVoters int `yaml:"max_voters"`
	// DeadServerTimeout is how long a voter may be unreachable before a
	// reachable server of the same member takes its vote (default 30s).
	DeadServerTimeout time.Duration `yaml:"dead_server_timeout"`
	// DivergenceCheckInterval is how often the server compares its registry
	// log chain with the other servers' (default 30s).
	DivergenceCheckInterval time.Duration `yaml:"divergence_check_interval"`

	// RaftHandshakeTimeout bounds an inbound Raft connection's TLS
	// handshake, before which the client is not authenticated (default 3s).
	RaftHandshakeTimeout time.Duration `yaml:"raft_handshake_timeout"`
	// RaftMaxHandshakes bounds the inbound Raft handshakes in progress at
	// once from hosts that are not known registry servers (default 64);
	// RaftMaxHandshakesPerSource those from one IPv4 address or IPv6 /64
	// (default 8). The hosts of the configured and registered registry
	// servers each keep RaftMaxHandshakesPerSource slots of their own.
	RaftMaxHandshakes          int `yaml:"raft_max_handshakes"`
	RaftMaxHandshakesPerSource int `yaml:"raft_max_handshakes_per_source"`
}

// RegistryServerConfig names a registry server.
type RegistryServerConfig struct {
	// Node is the server's node identity,
	// spiffe://<federation>/member/<MEMBER>/node/<name>.
	Node string `yaml:"node"`
	// RaftAddress is its Raft address, host:port.
	RaftAddress string `yaml:"raft_address"`
	// Address is its federation gRPC address, host:port.
	Address string `yaml:"address"`
	// MemberName is, for founders, the member's name as the registry records
	// it (default the member code).
	MemberName string `yaml:"member_name"`
}

// ID returns the parsed node identity (after Validate).
func (s RegistryServerConfig) ID() identity.Identity {
	id, _ := identity.Parse(s.Node)
	return id
}

// validate fills in the advertised addresses (from raft_listen and the
// node's listen, after flags) and checks every field.
func (r *RegistryConfig) validate(listen string, ps *problems) {
	if !r.Server {
		return
	}
	// An ephemeral listen port (":0", tests) is advertised as bound.
	if r.RaftAdvertise == "" && !strings.HasSuffix(r.RaftListen, ":0") {
		r.RaftAdvertise = r.RaftListen
	}
	if r.Advertise == "" && !strings.HasSuffix(listen, ":0") {
		r.Advertise = listen
	}
	if r.RaftListen == "" {
		ps.add(fmt.Errorf("%w: registry.raft_listen: required for a registry server", ErrInvalid))
	} else {
		ps.add(checkAddr("registry.raft_listen", r.RaftListen, true))
	}
	for _, a := range []struct{ field, addr string }{{"registry.raft_advertise", r.RaftAdvertise}, {"registry.advertise", r.Advertise}} {
		if a.addr == "" {
			continue
		}
		ps.add(checkAddr(a.field, a.addr, false))
	}
	if len(r.Servers) == 0 {
		ps.add(fmt.Errorf("%w: registry.servers: required: the founding servers (bootstrap: true) or the servers to join", ErrInvalid))
	}
	seen := map[string]bool{}
	for i, s := range r.Servers {
		field := fmt.Sprintf("registry.servers[%d]", i)
		id, err := identity.Parse(s.Node)
		if err != nil || id.Kind != identity.KindNode {
			ps.add(fmt.Errorf("%w: %s.node: %q: must be a node identity, spiffe://<federation>/member/<MEMBER>/node/<name>", ErrInvalid, field, s.Node))
			continue
		}
		if seen[s.Node] {
			ps.add(fmt.Errorf("%w: %s.node: %s is listed twice", ErrInvalid, field, s.Node))
			continue
		}
		seen[s.Node] = true
		ps.add(checkAddr(field+".raft_address", s.RaftAddress, false))
		ps.add(checkAddr(field+".address", s.Address, false))
	}
	if r.AdmissionThresholdPercent < 0 || r.AdmissionThresholdPercent > 99 {
		ps.add(fmt.Errorf("%w: registry.admission_threshold_percent: %d: must be 1-99 (0 for the default, 50)", ErrInvalid, r.AdmissionThresholdPercent))
	}
	if r.RaftMaxHandshakes < 0 {
		ps.add(fmt.Errorf("%w: registry.raft_max_handshakes: %d: must be at least 1 (0 for the default, 64)", ErrInvalid, r.RaftMaxHandshakes))
	}
	if r.RaftMaxHandshakesPerSource < 0 {
		ps.add(fmt.Errorf("%w: registry.raft_max_handshakes_per_source: %d: must be at least 1 (0 for the default, 8)", ErrInvalid, r.RaftMaxHandshakesPerSource))
	}
	if r.MaxVoters < 0 {
		ps.add(fmt.Errorf("%w: registry.max_voters: %d: must be at least 1 (0 for the default, 5)", ErrInvalid, r.MaxVoters))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"heartbeat_timeout", r.HeartbeatTimeout}, {"election_timeout", r.ElectionTimeout},
		{"leader_lease_timeout", r.LeaderLeaseTimeout}, {"commit_timeout", r.CommitTimeout},
		{"dead_server_timeout", r.DeadServerTimeout}, {"snapshot_interval", r.SnapshotInterval},
		{"divergence_check_interval", r.DivergenceCheckInterval},
		{"raft_handshake_timeout", r.RaftHandshakeTimeout},
	} {
		if d.v < 0 {
			ps.add(fmt.Errorf("%w: registry.%s: %s: must not be negative", ErrInvalid, d.name, d.v))
		}
	}
}
