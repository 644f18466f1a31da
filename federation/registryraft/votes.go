package registryraft

import (
	"cmp"
	"slices"

	"github.com/hashicorp/raft"

	"github.com/accordfed/accord/federation/raftnet"
)

// One vote per member. The registry's Raft group is shared by sovereign
// members, so a vote belongs to a member, not to whichever server answers:
//
//   - no member ever holds more than one voter: a server becomes a voter
//     only while no other server of its member votes, and a configuration
//     that gives a member two voters (say, founded so) loses the extra one;
//   - a voter that has not answered for DeadServerTimeout hands its vote to
//     a server of the same member that answers, never to another member's;
//   - a lost voter without such a replacement keeps its vote while the
//     group has an odd number of voters (taking it away would not let the
//     group survive one more failure: 5 voters with one lost tolerate one
//     more, and so would 4). With an even number it is demoted, which
//     leaves an odd number with a smaller quorum (4 voters with one lost
//     tolerate no further failure; 3 voters, all answering, tolerate one);
//   - a free vote (fewer than MaxVoters voters) goes to a server that
//     answers of a member without a vote, but the members whose servers are
//     all lost keep a claim on theirs: their servers get it back when they
//     answer again, so a member's outage does not hand its vote to another.
//
// A member that removes its own voter, or is suspended, gives up its vote:
// that slot goes to a member without one.

// memberOf returns the member of a server, "" when its id is not a node
// identity (such a server never votes by these rules).
func memberOf(id raft.ServerID) string {
	ident, err := raftnet.ParseServerID(id)
	if err != nil {
		return ""
	}
	return ident.Member
}

// memberVotes reports whether a member has a voter in servers, skipping
// the server except (when not empty).
func memberVotes(servers []raft.Server, member string, except raft.ServerID) bool {
	for _, s := range servers {
		if s.ID != except && s.Suffrage == raft.Voter && memberOf(s.ID) == member {
			return true
		}
	}
	return false
}

// voterChange is one change of suffrage that planVoters decides.
type voterChange struct {
	// why says what the change is, for the log.
	why string
	// demote, when not empty, loses its vote first; promote, when not
	// empty, then gains one.
	demote, promote raft.ServerID
	// promoteAddr is promote's address.
	promoteAddr raft.ServerAddress
}

// voterHealth says, for planVoters, whether the leader reaches a server
// (reachable) and whether a voter has been unreachable for longer than
// DeadServerTimeout (lost).
type voterHealth struct {
	reachable func(raft.ServerID) bool
	lost      func(raft.ServerID) bool
}

// planVoters decides the first change that the voters of servers need,
// by the rules above, on the leader self; ok is false when they need none.
func planVoters(servers []raft.Server, self raft.ServerID, maxVoters int, h voterHealth) (voterChange, bool) {
	servers = slices.SortedFunc(slices.Values(servers), func(a, b raft.Server) int { return cmp.Compare(a.ID, b.ID) })
	voters := 0
	byMember := map[string][]raft.Server{}
	for _, s := range servers {
		m := memberOf(s.ID)
		byMember[m] = append(byMember[m], s)
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	members := slices.Sorted(func(yield func(string) bool) {
		for m := range byMember {
			if !yield(m) {
				return
			}
		}
	})

	// A member with two voters loses one: not the leader, an unreachable
	// one first.
	for _, m := range members {
		var vs []raft.Server
		for _, s := range byMember[m] {
			if s.Suffrage == raft.Voter {
				vs = append(vs, s)
			}
		}
		if len(vs) < 2 {
			continue
		}
		slices.SortStableFunc(vs, func(a, b raft.Server) int {
			rank := func(s raft.Server) int {
				switch {
				case s.ID == self:
					return 0
				case h.reachable(s.ID):
					return 1
				}
				return 2
			}
			return rank(a) - rank(b)
		})
		d := vs[len(vs)-1]
		return voterChange{why: "member " + m + " holds more than one vote", demote: d.ID}, true
	}

	// A lost voter: a server of its own member that answers takes its
	// vote; without one, it is demoted only if that leaves an odd number
	// of voters.
	for _, d := range servers {
		if d.Suffrage != raft.Voter || d.ID == self || !h.lost(d.ID) {
			continue
		}
		m := memberOf(d.ID)
		for _, s := range byMember[m] {
			if s.Suffrage == raft.Nonvoter && h.reachable(s.ID) {
				return voterChange{why: "a server of the same member takes a lost voter's vote", demote: d.ID, promote: s.ID, promoteAddr: s.Address}, true
			}
		}
		if voters%2 == 0 {
			return voterChange{why: "a lost voter without a server of its member to take its vote is demoted, leaving an odd number of voters", demote: d.ID}, true
		}
	}

	// A free vote goes to a member without one, keeping the claims of
	// members whose servers are all lost.
	claims := 0
	for _, m := range members {
		if m == "" || memberVotes(servers, m, "") {
			continue
		}
		lost := true
		for _, s := range byMember[m] {
			lost = lost && !h.reachable(s.ID)
		}
		if lost {
			claims++
		}
	}
	if voters+claims >= maxVoters {
		return voterChange{}, false
	}
	for _, s := range servers {
		m := memberOf(s.ID)
		if s.Suffrage == raft.Nonvoter && m != "" && h.reachable(s.ID) && !memberVotes(servers, m, "") {
			return voterChange{why: "promote a server of a member without a vote", promote: s.ID, promoteAddr: s.Address}, true
		}
	}
	return voterChange{}, false
}
