package registryraft

import (
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

func sid(member, node string) raft.ServerID {
	return raft.ServerID("spiffe://accord.test/member/" + member + "/node/" + node)
}

// TestPlanVotersOneVotePerMember checks the voter rules of votes.go case by
// case. Servers are written "UA/ua-1:V" (voter) or ":N" (non-voter), with
// "!" for a server the leader does not reach and "!!" for a lost voter
// (unreachable beyond the dead-server timeout). The leader is the first
// server.
func TestPlanVotersOneVotePerMember(t *testing.T) {
	cases := []struct {
		name      string
		servers   []string
		maxVoters int
		// want is "" (no change), or "demote X", "promote Y", "replace X by Y"
		// with X and Y node names.
		want string
	}{
		{"review: PL's spare must not take LT's vote (odd: LT keeps it)",
			[]string{"UA/ua-1:V", "PL/pl-1:V", "DE/de-1:V", "LT/lt-1:V!!", "NL/nl-1:V", "PL/pl-2:N"}, 5, ""},
		{"an even number of voters: the lost voter is demoted, PL's spare stays",
			[]string{"UA/ua-1:V", "PL/pl-1:V", "DE/de-1:V", "LT/lt-1:V!!", "PL/pl-2:N"}, 4, "demote lt-1"},
		{"after that, LT's claim holds its vote while it is lost",
			[]string{"UA/ua-1:V", "PL/pl-1:V", "DE/de-1:V", "LT/lt-1:N!", "NL/nl-1:N"}, 4, ""},
		{"LT answers again and gets its vote back",
			[]string{"UA/ua-1:V", "PL/pl-1:V", "DE/de-1:V", "LT/lt-1:N", "PL/pl-2:N"}, 4, "promote lt-1"},
		{"a server of the lost voter's own member takes its vote",
			[]string{"UA/ua-1:V", "PL/pl-1:V", "DE/de-1:V", "LT/lt-1:V!!", "NL/nl-1:V", "PL/pl-2:N", "LT/lt-2:N"}, 5, "replace lt-1 by lt-2"},
		{"a same-member server that does not answer does not",
			[]string{"UA/ua-1:V", "PL/pl-1:V", "DE/de-1:V", "LT/lt-1:V!!", "NL/nl-1:V", "LT/lt-2:N!"}, 5, ""},
		{"a member with two voters loses the unreachable one",
			[]string{"UA/ua-1:V", "PL/pl-1:V!", "PL/pl-2:V", "DE/de-1:V"}, 5, "demote pl-1"},
		{"the leader keeps its own vote",
			[]string{"UA/ua-1:V", "UA/ua-2:V", "PL/pl-1:V"}, 5, "demote ua-2"},
		{"a free vote goes to a member without one, not to a second server",
			[]string{"UA/ua-1:V", "PL/pl-1:V", "PL/pl-2:N", "DE/de-1:N"}, 5, "promote de-1"},
		{"no member without a vote: the vote stays free",
			[]string{"UA/ua-1:V", "PL/pl-1:V", "PL/pl-2:N", "UA/ua-2:N"}, 5, ""},
		{"voters full",
			[]string{"UA/ua-1:V", "PL/pl-1:V", "DE/de-1:V", "LT/lt-1:N"}, 3, ""},
		{"a lost voter in a group of three keeps its vote",
			[]string{"UA/ua-1:V", "PL/pl-1:V!!", "DE/de-1:V", "LT/lt-1:N"}, 3, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var servers []raft.Server
			reach := map[raft.ServerID]bool{}
			lost := map[raft.ServerID]bool{}
			names := map[raft.ServerID]string{}
			for _, spec := range tc.servers {
				who, flags, _ := strings.Cut(spec, ":")
				member, node, _ := strings.Cut(who, "/")
				id := sid(member, node)
				names[id] = node
				s := raft.Server{ID: id, Address: raft.ServerAddress(node + ":7501"), Suffrage: raft.Nonvoter}
				if strings.HasPrefix(flags, "V") {
					s.Suffrage = raft.Voter
				}
				reach[id] = !strings.Contains(flags, "!")
				lost[id] = strings.Contains(flags, "!!")
				servers = append(servers, s)
			}
			ch, ok := planVoters(servers, servers[0].ID, tc.maxVoters, voterHealth{
				reachable: func(id raft.ServerID) bool { return reach[id] },
				lost:      func(id raft.ServerID) bool { return lost[id] },
			})
			got := ""
			switch {
			case !ok:
			case ch.demote != "" && ch.promote != "":
				got = "replace " + names[ch.demote] + " by " + names[ch.promote]
			case ch.demote != "":
				got = "demote " + names[ch.demote]
			default:
				got = "promote " + names[ch.promote]
			}
			if got != tc.want {
				t.Errorf("got %q (%s), want %q", got, ch.why, tc.want)
			}
			if ch.promote != "" && ch.promoteAddr != raft.ServerAddress(names[ch.promote]+":7501") {
				t.Errorf("promote address %q", ch.promoteAddr)
			}
		})
	}
}
