// Package registryraft runs one registry server's node of the registry's
// Raft group: hashicorp/raft over the mutual-TLS transport of
// federation/raftnet, with the log and stable store in one raft-boltdb file
// (<data_dir>/raft.db) and snapshots in <data_dir>/snapshots, streamed by
// the registry's state machine (federation/registry.FSM).
//
// A Node gives the rest of the node what it needs from the registry:
//
//   - Apply proposes a command. On the leader the node stamps the command's
//     time with the leader's clock and appends it to the Raft log; on a
//     follower it forwards the command to the leader over gRPC, in a batch
//     with the other commands in flight on the node
//     (accord.v1.RegistryService/SubmitBatch, a result per command; Submit,
//     one command per call, to a leader of an earlier build; batch.go).
//     While there is no leader it holds
//     the command through the election, bounded by the caller's context,
//     and it retries a command whose outcome is unknown (a leader lost its
//     leadership, a forwarded call broke) with the same request id, which
//     the state machine applies at most once.
//   - Read runs a read against the local state machine, linearizable by
//     default: the leader takes its commit index and confirms its leadership
//     with a round of heartbeats (raft.VerifyLeader); a follower asks the
//     leader for that read index (RegistryService/ReadIndex); either then
//     waits until its own state machine has applied the index. A stale read
//     reads the local state machine at once.
//   - Status and GroupStatus (every server's own applied index and lag),
//     and membership: AddServer (as a voter while there are fewer than
//     MaxVoters voters and its member has none, otherwise as a non-voter),
//     RemoveServer (which promotes a non-voter of a member without a vote
//     when a voter leaves), TransferLeadership, and
//     Join, with which a node of an admitted member asks the leader
//     (RegistryService/Join) to register it and add it to the group (a
//     server that comes back at a new address joins again to move there;
//     when it has meanwhile become the leader, it makes the change itself).
//   - With Config.ManageMembership the leader keeps the Raft configuration
//     in step with the registry once a second: registered registry servers
//     are added, removed ones (or those of suspended members) removed, an
//     address change followed, and one vote per member kept (votes.go): a
//     voter that has not answered heartbeats for DeadServerTimeout hands
//     its vote only to a server of the same member, never to another
//     member's.
//   - RaftAddresses is the transport's ServerAddressProvider: a server is
//     dialled where the registry or the node's configuration says it is,
//     not only where raft's stored configuration last saw it.
//   - ServerPolicy is the transport's Allow: registered registry servers of
//     admitted members once the registry is founded, the configured seeds
//     before.
//
// After winning an election the node proposes a registry.CmdNoop command:
// Raft's own no-op entry never reaches the state machine, so without it a
// fresh leader's reads would wait for the next write, and a read index is
// only safe once the new leader has committed an entry of its own term.
//
// Service is the server side of accord.v1.RegistryService. It answers only
// registry servers (nodes in the Raft configuration; Unavailable while the
// node has not loaded a configuration yet), and takes a submitted
// command's member and acting node from the caller's verified certificate,
// never from the request.
//
// Before Raft reads its data, New and Start check it (integrity.go): a
// raft.db that bbolt cannot read without panicking, a log entry that does
// not match the CRC-32C it was written with (logsum.go), an entry missing
// after the newest snapshot, or a snapshot that fails its checksum stops
// the node with ErrCorrupt, naming the file and what to do; snapshots that
// a crash left unfinished are removed.
//
// A forwarded command (or read-index request) is abandoned and tried again
// when the node learns of a new leader: a leader cut off from the group
// may never answer.
//
// The package does not decide who is a registry server (the registry does),
// load certificates (federation/mtls), nor build the gRPC server
// (node/grpcserver): callers pass those in.
//
// Shutdown order (Close): a leader first hands its leadership to another
// voter, so that the group does not wait an election timeout; then Raft
// shuts down (which closes the transport and stops the state machine);
// then the gRPC connections to the leader close; the log store closes last,
// once nothing can write to it.
package registryraft
