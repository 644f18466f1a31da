// Package registry is the replicated state machine of Accord's shared
// prosecution-strategy registry: the federation's only shared mutable
// state, kept consistent across member nodes by a Raft group.
//
// The registry holds the members (their status, CA certificates,
// record-signing keys and nodes, and the votes that admitted or suspended
// them), joint investigation teams (members and their answers, lead, linked
// cases, the team's agreement rule and its proposals to invite, change the
// lead or close, each with every accepted member's answer), lead-jurisdiction assignments for groups of matched cases with
// each involved member's consent, strategy entries (priorities, targets,
// themes; federation-wide or scoped to one team) with their full history,
// match decisions, and the federation keys members need in common, with
// rotation.
//
// Every change is a Command: a versioned JSON envelope naming the acting
// node, user and member (taken by the server from the caller's verified
// certificate, never from the request), the time the leader stamped, the
// client's request id, and one payload per operation (ProposeMember,
// CreateJIT, CreateEntry, ...). FSM.Apply enforces every rule: a member acts
// only for itself and edits only what it owns, only a team's members see and
// change the team's cases and entries, a team is widened, handed to another
// lead or closed only with every accepted member's consent (proposals.go),
// admission takes the configured majority of admitted members, and a record
// the caller may not see is NotFound to its writes as to its reads. A
// refused command changes nothing and is
// answered with an error wrapping ErrInvalidArgument, ErrNotFound,
// ErrAlreadyExists, ErrPermissionDenied or ErrFailedPrecondition, which the
// gRPC layer maps to the codes of the same names. Each command applies
// exactly once: a retry with the same request id gets the first result
// (see dedupe.go). Every record says who changed it, when and under which
// request (Change).
//
// FSM implements raft.FSM. It is deterministic (no clock, no randomness, no
// map order leaks into state or results), tracks the applied index for
// read-index reads (AppliedIndex, WaitApplied), snapshots in constant time
// with copy-on-write tables, and streams snapshots as JSON lines (see
// snapshot.go). Reads go through FSM.Read and a View that filters by viewer.
//
// The package does no networking and no Raft wiring: it does not start Raft,
// choose voters, forward writes to the leader, verify certificates or serve
// gRPC. Those belong to the packages built on top of it.
package registry
