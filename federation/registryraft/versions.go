package registryraft

import (
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
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.versions == nil {
		n.versions = map[raft.ServerID]int{}
	}
	if n.versions[id] != version {
		n.logger.Info("registry server's command version", "server", string(id), "version", version)
	}
	n.versions[id] = version
}

// writeVersion returns the command version this node writes: the current
// one when every server of the latest configuration applies it, else the
// previous build's.
func (n *Node) writeVersion() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.servers) == 0 {
		return registry.LegacyCommandVersion
	}
	for id := range n.servers {
		if id != n.id && n.versions[id] < registry.CommandVersion {
			return registry.LegacyCommandVersion
		}
	}
	return registry.CommandVersion
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
