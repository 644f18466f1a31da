package registryraft

import (
	"crypto/tls"
	"fmt"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/raftnet"
)

// The defaults, for registry servers on one local network. For wide-area
// links between capitals set ElectionTimeout (and HeartbeatTimeout) to at
// least ten times the round trip between the farthest two servers, and
// LeaderLeaseTimeout to at least a few round trips: with 100 ms round trips,
// 1 s or more. Timeouts that are too short for the links cause needless
// elections, during which writes wait.
const (
	DefaultHeartbeatTimeout   = time.Second
	DefaultElectionTimeout    = time.Second
	DefaultLeaderLeaseTimeout = 500 * time.Millisecond
	DefaultCommitTimeout      = 50 * time.Millisecond
	DefaultSnapshotThreshold  = 8192
	DefaultSnapshotInterval   = 2 * time.Minute
	DefaultTrailingLogs       = 10240
	DefaultRetainSnapshots    = 2
	DefaultMaxVoters          = 5
	DefaultApplyTimeout       = 10 * time.Second
	DefaultDeadServerTimeout  = 30 * time.Second
)

// Config is what a Node needs besides its transport and state machine.
type Config struct {
	// DataDir holds raft.db (the Raft log and stable store) and snapshots/.
	// Required; made absolute by Validate.
	DataDir string

	// HeartbeatTimeout is how long a follower waits without hearing from the
	// leader before it stands for election (default 1s).
	HeartbeatTimeout time.Duration
	// ElectionTimeout is how long a candidate waits for votes (default 1s).
	// On wide-area links make it at least ten times the round trip.
	ElectionTimeout time.Duration
	// LeaderLeaseTimeout is how long a leader stays leader without hearing
	// from a quorum (default 500ms); at most HeartbeatTimeout.
	LeaderLeaseTimeout time.Duration
	// CommitTimeout bounds how long a follower may wait to learn of a
	// commit when there is no traffic (default 50ms).
	CommitTimeout time.Duration

	// SnapshotThreshold is how many new log entries trigger a snapshot
	// (default 8192); SnapshotInterval how often that is checked (default
	// 2m).
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	// TrailingLogs is how many entries stay in the log after a snapshot
	// (default 10240), so that a briefly lagging follower catches up from
	// the log rather than by snapshot.
	TrailingLogs uint64
	// RetainSnapshots is how many snapshots are kept on disk (default 2).
	RetainSnapshots int

	// MaxVoters is how many servers vote (default 5), one per member at
	// most (votes.go); further servers join as non-voters and one is
	// promoted when a voter is removed.
	MaxVoters int

	// ManageMembership makes the leader keep the Raft configuration in step
	// with the registry (see Node.Start): registered registry servers are
	// added, removed ones removed, non-voters of members without a vote
	// promoted while there are fewer than MaxVoters voters, and a voter
	// unreachable for DeadServerTimeout replaced by a reachable server of
	// its own member (or demoted, votes.go).
	ManageMembership bool
	// DeadServerTimeout is how long a voter may not answer the leader before
	// a non-voter of its member takes its vote (default 30s, at least 10
	// election timeouts).
	DeadServerTimeout time.Duration

	// DivergenceCheckInterval is how often the node compares its registry
	// log chain with the other servers' in the background (default 30s;
	// divergence.go).
	DivergenceCheckInterval time.Duration

	// VersionProbeInterval is how often the background comparison runs
	// instead while some server of the group has never answered it
	// (default 1s; versions.go): a new group switches to the current
	// command version and to batch signatures within about this long.
	VersionProbeInterval time.Duration

	// ApplyTimeout bounds one attempt to enqueue a command on the leader
	// (default 10s); the caller's context bounds the whole of Apply.
	ApplyTimeout time.Duration

	// GRPCAddress returns the gRPC address of a registry server, for
	// forwarding writes and read-index requests to the leader. Required.
	GRPCAddress func(raft.ServerID) (string, bool)
	// GRPCAddressFailed, when set, is told that a call to a server at an
	// address failed (unreachable), so that GRPCAddress may answer another
	// one next (FederationAddresses).
	GRPCAddressFailed func(raft.ServerID, string)
	// ClientCredentials returns the mutual-TLS credentials for dialling a
	// server that must prove the given identity (for example
	// mtls.Source.ClientCredentials with a check that the peer is exactly
	// that node). Required.
	ClientCredentials func(server identity.Identity) credentials.TransportCredentials
	// DialOptions are added to every dial of another server's gRPC service
	// (after the transport credentials), e.g. a context dialer.
	DialOptions []grpc.DialOption
	// AddressBook, when set, is kept in step with the Raft configuration
	// (the identity expected at each Raft address, raftnet.Config.Expect).
	AddressBook *raftnet.AddressBook

	// Certificate returns the node's current certificate and key
	// (mtls.Source.Certificate), with which it signs every command it sends:
	// each replica verifies the signature against the member's authorities
	// in the registry. Required.
	Certificate func() *tls.Certificate

	// Clock stamps commands on the leader and signs them (default time.Now).
	Clock func() time.Time

	// WrapStore, when set, wraps the log and stable store (raft.db) before
	// Raft uses it, e.g. to inject storage faults in tests. The node still
	// closes the underlying store itself.
	WrapStore func(Store) Store
}

// Store is the Raft log and stable store of a node (raft-boltdb's).
type Store interface {
	raft.LogStore
	raft.StableStore
}

// Validate checks the configuration, fills in defaults and makes DataDir
// absolute.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("%w: data_dir: required", ErrConfig)
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return fmt.Errorf("%w: data_dir: %q: %w", ErrConfig, c.DataDir, err)
	}
	c.DataDir = abs
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.HeartbeatTimeout, DefaultHeartbeatTimeout)
	def(&c.ElectionTimeout, DefaultElectionTimeout)
	def(&c.LeaderLeaseTimeout, DefaultLeaderLeaseTimeout)
	def(&c.CommitTimeout, DefaultCommitTimeout)
	def(&c.SnapshotInterval, DefaultSnapshotInterval)
	def(&c.ApplyTimeout, DefaultApplyTimeout)
	def(&c.DivergenceCheckInterval, DefaultDivergenceCheckInterval)
	def(&c.VersionProbeInterval, DefaultVersionProbeInterval)
	def(&c.DeadServerTimeout, max(DefaultDeadServerTimeout, 10*c.ElectionTimeout))
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = DefaultTrailingLogs
	}
	if c.RetainSnapshots == 0 {
		c.RetainSnapshots = DefaultRetainSnapshots
	}
	if c.MaxVoters == 0 {
		c.MaxVoters = DefaultMaxVoters
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"heartbeat_timeout", c.HeartbeatTimeout},
		{"election_timeout", c.ElectionTimeout},
		{"leader_lease_timeout", c.LeaderLeaseTimeout},
		{"commit_timeout", c.CommitTimeout},
		{"snapshot_interval", c.SnapshotInterval},
		{"apply_timeout", c.ApplyTimeout},
		{"divergence_check_interval", c.DivergenceCheckInterval},
		{"version_probe_interval", c.VersionProbeInterval},
		{"dead_server_timeout", c.DeadServerTimeout},
	} {
		if d.v < 5*time.Millisecond {
			return fmt.Errorf("%w: %s: %s: must be at least 5ms", ErrConfig, d.name, d.v)
		}
	}
	if c.Certificate == nil {
		return fmt.Errorf("%w: certificate: required (the node signs its registry commands)", ErrConfig)
	}
	switch {
	case c.ElectionTimeout < c.HeartbeatTimeout:
		return fmt.Errorf("%w: election_timeout: %s: must be at least heartbeat_timeout (%s)", ErrConfig, c.ElectionTimeout, c.HeartbeatTimeout)
	case c.LeaderLeaseTimeout > c.HeartbeatTimeout:
		return fmt.Errorf("%w: leader_lease_timeout: %s: must be at most heartbeat_timeout (%s)", ErrConfig, c.LeaderLeaseTimeout, c.HeartbeatTimeout)
	case c.RetainSnapshots < 1:
		return fmt.Errorf("%w: retain_snapshots: %d: must be at least 1", ErrConfig, c.RetainSnapshots)
	case c.MaxVoters < 1:
		return fmt.Errorf("%w: max_voters: %d: must be at least 1", ErrConfig, c.MaxVoters)
	case c.GRPCAddress == nil:
		return fmt.Errorf("%w: grpc_address: required (where to reach the leader's gRPC service)", ErrConfig)
	case c.ClientCredentials == nil:
		return fmt.Errorf("%w: client_credentials: required (how to dial the leader)", ErrConfig)
	}
	return nil
}

// raftConfig is the hashicorp/raft configuration of a node.
func (c *Config) raftConfig(id raft.ServerID) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = id
	rc.HeartbeatTimeout = c.HeartbeatTimeout
	rc.ElectionTimeout = c.ElectionTimeout
	rc.LeaderLeaseTimeout = c.LeaderLeaseTimeout
	rc.CommitTimeout = c.CommitTimeout
	rc.SnapshotThreshold = c.SnapshotThreshold
	rc.SnapshotInterval = c.SnapshotInterval
	rc.TrailingLogs = c.TrailingLogs
	// A server removed from the group keeps running as a follower outside
	// it (it can be added again); the node decides when to stop.
	rc.ShutdownOnRemove = false
	return rc
}
