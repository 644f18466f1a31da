package registryraft

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/registry"
)

// Command versions in a mixed-version group.
//
// This build applies registry commands of version 2 (JSON payloads, the
// previous build's) and 3 (typed payloads); the previous build applies
// version 2 only, and refuses version 3 as undecodable. So a node writes
// version 3 only once every server of the group's latest configuration has
// said that it applies version 3: in its answer to ServerStatus (asked by
// GroupStatus, in the background every Config.DivergenceCheckInterval) or
// in its JoinRequest. Until then, and again whenever a server has not
// answered yet (a new configuration, a server restarted), it writes
// version 2, which every build applies. A node's registration when it
// joins is always version 2, so that a leader of either build takes it.
// The leader of a group that writes version 3 refuses a joining node of
// the previous build (its JoinRequest names no version), which could not
// apply the log.

// noteCommandVersion records the highest command version a server said it
// applies.
func (n *Node) noteCommandVersion(id raft.ServerID, version int) {
	noteServer(n, &n.versions, id, version, "registry server's command version")
}

// noteServer records in *m, under n.mu, what server id said, and logs
// what once it changes.
func noteServer(n *Node, m *map[raft.ServerID]int, id raft.ServerID, version int, what string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if *m == nil {
		*m = map[raft.ServerID]int{}
	}
	if (*m)[id] != version {
		n.logger.Info(what, "server", string(id), "version", version)
	}
	(*m)[id] = version
}

// writeVersion returns the command version this node writes: the current
// one when every server of the latest configuration applies it, else the
// previous build's.
func (n *Node) writeVersion() int {
	if ids, known := n.behind(); !known || len(ids) > 0 {
		return registry.LegacyCommandVersion
	}
	return registry.CommandVersion
}

// behind returns the servers of the latest configuration (this one aside)
// that have not said that they apply the current command version, sorted;
// known is false while this node knows no configuration yet.
func (n *Node) behind() (ids []string, known bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.servers) == 0 {
		return nil, false
	}
	for id := range n.servers {
		if id != n.id && n.versions[id] < registry.CommandVersion {
			ids = append(ids, string(id))
		}
	}
	slices.Sort(ids)
	return ids, true
}

// versionRefusal is in the refusal of a command in a version the group
// does not write yet: a node that made its command in that version on its
// own opinion of the group (ahead of the leader's) recognises it and tries
// again in the previous version.
var versionRefusal = fmt.Sprintf("command version %d is not yet written by this group", registry.CommandVersion)

// checkWriteVersion refuses a command of the current version while this
// server's switch says that the group writes the previous one: some server
// (of the previous build, or one that has not answered yet) cannot apply
// it, and would silently keep a state without it. Every path that appends
// a command to the log on this leader (applyLocal) calls it first, so that
// an honest leader never appends a version 3 entry early, whoever sent it.
func (n *Node) checkWriteVersion(c *registry.Command) error {
	// Match answers v2 whatever the command's version: a version 2 answer
	// that changes an earlier one is refused by an earlier build too.
	if need := n.matchAnswersNeeded(c); need > 0 {
		if ids := n.MatchAnswersBehindFor(need); len(ids) > 0 {
			return fmt.Errorf("%w: %s: %s", registry.ErrFailedPrecondition, matchAnswersRefusal, strings.Join(ids, ", "))
		}
	}
	if c.Version != registry.CommandVersion {
		return nil
	}
	ids, known := n.behind()
	if !known {
		ids = []string{"the registry servers (the configuration is not loaded yet)"}
	}
	if len(ids) > 0 {
		return fmt.Errorf("%w: %s: %s still report version %d", registry.ErrFailedPrecondition, versionRefusal,
			strings.Join(ids, ", "), registry.LegacyCommandVersion)
	}
	if c.Batch != nil {
		if ids := n.withoutBatchSignatures(); len(ids) > 0 {
			return fmt.Errorf("%w: %s: %s do not check them", registry.ErrFailedPrecondition, batchRefusal, strings.Join(ids, ", "))
		}
	}
	return nil
}

// isVersionRefusal says whether err is checkWriteVersion's refusal, here or
// from the leader over gRPC.
func isVersionRefusal(err error) bool {
	return errors.Is(err, registry.ErrFailedPrecondition) && strings.Contains(err.Error(), versionRefusal)
}

// Batch signatures.
//
// A follower signs the commands it forwards in one SubmitBatch call at
// once (registry.SignBatch): one signature per batch instead of one per
// command, and one verification per batch on every replica. A build that
// does not know batch paths refuses such an entry as undecodable, so a node
// signs in batches only once every server of the latest configuration has
// said that it checks them (ServerStatusResponse.batch_signatures, or its
// JoinRequest), and writes version 3; until then it signs each command
// alone. The leader refuses a batch-signed command while its own view says
// otherwise (checkWriteVersion), and the follower signs it again alone.

// noteBatchSignatures records whether a server said it checks batch
// signatures.
func (n *Node) noteBatchSignatures(id raft.ServerID, checks bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.batchSigners == nil {
		n.batchSigners = map[raft.ServerID]bool{}
	}
	if n.batchSigners[id] != checks {
		n.logger.Info("registry server's batch signatures", "server", string(id), "checks", checks)
	}
	n.batchSigners[id] = checks
}

// signsBatches reports whether this node signs forwarded commands in
// batches: it writes the current command version and every server of the
// latest configuration checks batch signatures.
func (n *Node) signsBatches() bool {
	if n.writeVersion() != registry.CommandVersion {
		return false
	}
	return len(n.withoutBatchSignatures()) == 0
}

// withoutBatchSignatures returns the servers of the latest configuration
// (this one aside) that have not said that they check batch signatures,
// sorted (every server, while no configuration is known).
func (n *Node) withoutBatchSignatures() []string {
	return n.serversWithout(func(id raft.ServerID) bool { return n.batchSigners[id] })
}

// serversWithout returns the servers of the latest configuration (this
// one aside) for which has (called under n.mu) is false, sorted; while no
// configuration is known, a placeholder naming them all.
func (n *Node) serversWithout(has func(raft.ServerID) bool) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.servers) == 0 {
		return []string{"the registry servers (the configuration is not loaded yet)"}
	}
	var ids []string
	for id := range n.servers {
		if id != n.id && !has(id) {
			ids = append(ids, string(id))
		}
	}
	slices.Sort(ids)
	return ids
}

// unanswered reports whether some server of the latest configuration (this
// one aside) has not said yet which command version it applies (or no
// configuration is known).
func (n *Node) unanswered() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.servers) == 0 {
		return true
	}
	for id := range n.servers {
		if _, ok := n.versions[id]; !ok && id != n.id {
			return true
		}
	}
	return false
}

// SignsBatches reports whether this node signs the writes it forwards in
// batches now (once every registry server checks batch signatures).
func (n *Node) SignsBatches() bool { return n.signsBatches() }

// batchRefusal is in the refusal of a batch-signed command by a leader
// whose group does not check batch signatures yet: the follower that
// signed it recognises it and signs the command again alone.
const batchRefusal = "batch-signed commands are not yet written by this group"

// isBatchRefusal says whether err is the refusal of a batch-signed
// command, here or from the leader over gRPC.
func isBatchRefusal(err error) bool {
	return errors.Is(err, registry.ErrFailedPrecondition) && strings.Contains(err.Error(), batchRefusal)
}

// WriteVersion reports the registry command version this node writes now
// (2 until every registry server runs a build that applies 3).
func (n *Node) WriteVersion() int { return n.writeVersion() }

// versioned returns c in the version this node writes, when c asks for
// the current version (registry.NewCommand's); a command made in the
// previous version on purpose keeps it.
func (n *Node) versioned(c *registry.Command) {
	if c.Version == registry.CommandVersion {
		c.Version = n.writeVersion()
	}
}

// Match answers v2 (registry.MatchAnswersV2: reasons, changed answers,
// explained scores). A server of an earlier build refuses them, so the
// leader appends such a command only once every server of the latest
// configuration has said that it applies them
// (ServerStatusResponse.match_answers), and nodes do not send them before
// (MatchAnswersBehind).

// matchAnswersRefusal is in the refusal of a command that needs match
// answers v2 (or v3) while some server does not apply them.
const matchAnswersRefusal = "reasons, changed answers, explained scores and first answers only of matches are not yet applied by every registry server; still on an earlier build"

// IsMatchAnswersRefusal says whether err is the leader's refusal of a
// command that needs match answers v2 while some server has not said that
// it applies them (here or from the leader over gRPC). A node whose own
// view of the servers was ahead of the leader's (a server that just
// joined answers this node first) sends the command again without what
// needs them: a proposal without its explanation, an answer without its
// reason.
func IsMatchAnswersRefusal(err error) bool {
	return errors.Is(err, registry.ErrFailedPrecondition) && strings.Contains(err.Error(), matchAnswersRefusal)
}

// noteMatchAnswers records the version of match answers a server said it
// applies.
func (n *Node) noteMatchAnswers(id raft.ServerID, version int) {
	noteServer(n, &n.matchAnswers, id, version, "registry server's match answers")
}

// MatchAnswersBehind returns the servers of the latest configuration (this
// one aside) that have not said that they apply match answers v2, sorted
// (a placeholder naming them all while no configuration is known). Empty:
// reasons, changed answers and explanations may be sent.
func (n *Node) MatchAnswersBehind() []string { return n.MatchAnswersBehindFor(registry.MatchAnswersV2) }

// MatchAnswersBehindFor returns the servers that have not said that they
// apply match answers of this version (MatchAnswersBehind for v2; v3 for
// first answers only).
func (n *Node) MatchAnswersBehindFor(version int) []string {
	return n.serversWithout(func(id raft.ServerID) bool { return n.matchAnswers[id] >= version })
}

// matchAnswersNeeded returns the version of match answers c needs, by its
// payload and this server's state (0: none).
func (n *Node) matchAnswersNeeded(c *registry.Command) int {
	need := 0
	n.fsm.Read(func(v registry.View) { need = registry.MatchAnswersNeeded(v, c) })
	return need
}
