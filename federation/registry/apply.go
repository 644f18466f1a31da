package registry

import (
	"github.com/accordfed/accord/federation/identity"
)

// execute applies a decoded command at a log index: it checks the envelope,
// answers a retry from the dedupe table, runs the command and remembers its
// result. On error the registry's records are unchanged (the refusal itself
// is remembered, so that a retry gets the same answer).
func (s *state) execute(index uint64, cmd *Command, sig signatureCheck) (Outcome, error) {
	if cmd.Version != CommandVersion && cmd.Version != LegacyCommandVersion {
		return Outcome{}, invalid("version: %d is not supported; this registry applies versions %d and %d", cmd.Version, LegacyCommandVersion, CommandVersion)
	}
	if cmd.Type == CmdNoop {
		return Outcome{}, nil
	}
	ch, err := s.checkEnvelope(index, cmd, sig)
	if err != nil {
		return Outcome{}, err
	}
	digest := commandDigest(cmd)
	if rec, ok := s.dedupe.get(dedupeKey(cmd.Member, cmd.RequestID)); ok {
		if rec.Digest != digest {
			return Outcome{}, invalid("request_id: %q was already used by member %s for a different command", cmd.RequestID, cmd.Member)
		}
		return rec.result()
	}
	out, err := s.apply(cmd, ch)
	if err != nil {
		r := canonical(err)
		s.remember(cmd, index, digest, Outcome{}, r)
		return Outcome{}, r
	}
	s.remember(cmd, index, digest, out, nil)
	return out, nil
}

// checkEnvelope checks the parts of a command every type shares and returns
// the change it would make.
func (s *state) checkEnvelope(index uint64, cmd *Command, sig signatureCheck) (Change, error) {
	if !knownType(cmd.Type) {
		return Change{}, invalid("type: unknown command type %q", cmd.Type)
	}
	if err := checkRequestID(cmd.RequestID); err != nil {
		return Change{}, err
	}
	if cmd.Time.IsZero() {
		return Change{}, invalid("time: is required (the leader sets it)")
	}
	if err := checkMemberCode("member", cmd.Member); err != nil {
		return Change{}, err
	}
	node, err := identity.Parse(cmd.Actor.Node)
	if err != nil || node.Kind != identity.KindNode {
		return Change{}, invalid("actor.node: %q is not a node identity, spiffe://<federation>/member/<MEMBER>/node/<name>", cmd.Actor.Node)
	}
	if node.Member != cmd.Member {
		return Change{}, invalid("actor.node: node %s belongs to member %s, not to the acting member %s", cmd.Actor.Node, node.Member, cmd.Member)
	}
	if s.meta.Bootstrapped && node.Federation != s.meta.Federation {
		return Change{}, denied("actor.node: node %s is not in federation %s", cmd.Actor.Node, s.meta.Federation)
	}
	if cmd.Actor.User != "" {
		user, err := identity.Parse(cmd.Actor.User)
		if err != nil || user.Kind != identity.KindUser {
			return Change{}, invalid("actor.user: %q is not a user identity, spiffe://<federation>/member/<MEMBER>/user/<name>", cmd.Actor.User)
		}
		if user.Member != cmd.Member || user.Federation != node.Federation {
			return Change{}, invalid("actor.user: user %s is not of member %s in federation %s", cmd.Actor.User, cmd.Member, node.Federation)
		}
	}
	if err := s.checkSigned(index, cmd, sig); err != nil {
		return Change{}, err
	}
	return Change{
		Index: index, Time: cmd.Time.UTC(), RequestID: cmd.RequestID,
		Member: cmd.Member, Node: cmd.Actor.Node, User: cmd.Actor.User,
	}, nil
}

// CheckRequestID checks a request id as the registry does (1 to 128
// printable ASCII characters without spaces): a node checks a client's
// before deriving ids of its own from it.
func CheckRequestID(id string) error { return checkRequestID(id) }

func checkRequestID(id string) error {
	if id == "" {
		return invalid("request_id: is required")
	}
	if len(id) > maxRequestIDLen {
		return invalid("request_id: must be at most %d characters (got %d)", maxRequestIDLen, len(id))
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return invalid("request_id: may contain only printable ASCII characters without spaces")
		}
	}
	return nil
}

// checkSigned verifies that the acting node signed the command (see
// signature.go): with the founders' authorities for the bootstrap, with the
// acting member's registered authorities for everything else.
func (s *state) checkSigned(index uint64, cmd *Command, sig signatureCheck) error {
	var cas []string
	if !s.meta.Bootstrapped && cmd.Type != CmdBootstrap {
		return precondition("the registry is not bootstrapped yet")
	}
	if cmd.Type == CmdBootstrap && !s.meta.Bootstrapped {
		b, err := cmd.bootstrapPayload()
		if err != nil {
			return err
		}
		for _, f := range b.Founders {
			if f.Code == cmd.Member {
				cas = f.CACerts
			}
		}
		if cas == nil {
			// Not a founder: the bootstrap refuses it (with the reason its
			// payload gives first), and nothing can be signed for it.
			return nil
		}
	} else {
		m, ok := s.members.get(cmd.Member)
		if !ok {
			return denied("member: %s is not a member of the federation", cmd.Member)
		}
		cas = m.CACerts
	}
	if err := s.verifyChain(cmd, sig, cas); err != nil {
		return err
	}
	return s.checkFreshness(index, cmd)
}

// bootstrapPayload returns a bootstrap's payload for its signature check,
// or the refusal of a payload that does not decode: for version 2, in the
// previous build's words (which decoded the JSON again here).
func (c *Command) bootstrapPayload() (*Bootstrap, error) {
	if c.Version == LegacyCommandVersion {
		var b Bootstrap
		if err := strictUnmarshal(c.PayloadJSON, &b); err != nil {
			return nil, invalid("payload: %v", err)
		}
		return &b, nil
	}
	b, ok := payloadOf[Bootstrap](c.Payload)
	if !ok {
		return nil, invalid("payload: is required")
	}
	return b, nil
}
