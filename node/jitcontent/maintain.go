package jitcontent

import (
	"context"
	"errors"
	"time"

	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/teamkey"
)

// Registry is what Maintain needs of the node's registry server
// (*registryraft.Node).
type Registry interface {
	Read(ctx context.Context, linearizable bool, fn func(registry.View)) (uint64, error)
	Apply(ctx context.Context, cmd *registry.Command) (registry.Outcome, error)
}

// maxWrapsPerCommand bounds one jit.wrap_key or jit.rotate_key (the
// registry takes at most 100).
const maxWrapsPerCommand = 100

// Maintain keeps the team keys of this member's encrypted teams where they
// belong, every interval until ctx ends:
//
//   - when a member that holds the team's current key is no longer an
//     accepted member of the team (it left) or no longer admitted, the
//     accepted member with the smallest code rotates the key: a new epoch,
//     wrapped for the accepted members' registered keys only;
//   - for every epoch, the accepted member with the smallest code among
//     those that hold its key wraps it for accepted members' keys that have
//     no wrap (a member that accepted, a node that registered its key).
//
// One member acts for each, so that nodes of different members do not race;
// when two nodes of one member do, the registry refuses the second.
func (k *Keyring) Maintain(ctx context.Context, reg Registry, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, cmd := range k.plan(ctx, reg) {
			actx, cancel := context.WithTimeout(ctx, 15*time.Second)
			out, err := reg.Apply(actx, cmd)
			cancel()
			switch {
			case err == nil:
				k.logger.Info("team key "+out.Status, "type", string(cmd.Type), "jit", out.ID, "epoch", out.Version)
			case errors.Is(err, registry.ErrFailedPrecondition), errors.Is(err, registry.ErrAlreadyExists):
				k.logger.Debug("team key command overtaken", "type", string(cmd.Type), "err", err)
			case ctx.Err() == nil:
				k.logger.Warn("team key command failed; trying again", "type", string(cmd.Type), "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// plan reads the local state and returns the commands this node should
// send.
func (k *Keyring) plan(ctx context.Context, reg Registry) []*registry.Command {
	var cmds []*registry.Command
	_, _ = reg.Read(ctx, false, func(v registry.View) {
		me, err := v.GetMember(k.member)
		if err != nil || me.Status != registry.MemberAdmitted || !k.registered(me) {
			return
		}
		jits, err := v.ListJITs(k.member)
		if err != nil {
			return
		}
		for i := range jits {
			if cmd := k.planTeam(v, &jits[i]); cmd != nil {
				cmds = append(cmds, cmd)
			}
		}
	})
	return cmds
}

// keyHolders returns the team's accepted members that are admitted, by
// code, with their records.
func keyHolders(v registry.View, j *registry.JIT) []registry.Member {
	var out []registry.Member
	for _, jm := range j.Members {
		if jm.State != registry.MembershipAccepted {
			continue
		}
		if m, err := v.GetMember(jm.Member); err == nil && m.Status == registry.MemberAdmitted {
			out = append(out, m)
		}
	}
	return out
}

func (k *Keyring) planTeam(v registry.View, j *registry.JIT) *registry.Command {
	if j.KeyEpoch == 0 || j.Status != registry.JITActive {
		return nil
	}
	members := keyHolders(v, j)
	entitled := map[string]bool{}
	for _, m := range members {
		entitled[m.Code] = true
	}
	if !entitled[k.member] {
		return nil
	}
	scope := j.Scope()
	for _, w := range j.KeyWraps {
		if w.Epoch == j.KeyEpoch && !entitled[w.Member] {
			// Someone holds the current key who should not read what comes
			// next: rotate.
			if members[0].Code != k.member {
				return nil
			}
			return k.rotate(j, scope, members)
		}
	}
	var wraps []registry.WrapSpec
	for e := 1; e <= j.KeyEpoch && len(wraps) < maxWrapsPerCommand; e++ {
		key, ok := k.TeamKey(j, e)
		if !ok {
			continue
		}
		first := ""
		for _, m := range members {
			if hasEpoch(j, e, m.Code) {
				first = m.Code
				break
			}
		}
		if first != k.member {
			continue
		}
		for _, m := range members {
			for _, ek := range m.EncryptionKeys {
				if j.Wrap(e, m.Code, ek.ID) != nil || len(wraps) >= maxWrapsPerCommand {
					continue
				}
				pub, err := teamkey.ParsePublicKey(ek.PublicKey)
				if err != nil {
					continue
				}
				w, err := teamkey.Wrap(pub, key, teamkey.WrapAD(scope, e, m.Code, ek.ID))
				if err != nil {
					continue
				}
				wraps = append(wraps, registry.WrapSpec{Epoch: e, Member: m.Code, KeyID: ek.ID, Wrapped: w})
			}
		}
	}
	if len(wraps) == 0 {
		return nil
	}
	cmd, err := registry.NewCommand(randomID("jit-key-wrap."), registry.WrapJITKey{JIT: j.ID, Wraps: wraps})
	if err != nil {
		return nil
	}
	return cmd
}

func hasEpoch(j *registry.JIT, epoch int, member string) bool {
	for _, w := range j.KeyWraps {
		if w.Epoch == epoch && w.Member == member {
			return true
		}
	}
	return false
}

// rotate returns the command that starts the team's next epoch, wrapped for
// members.
func (k *Keyring) rotate(j *registry.JIT, scope string, members []registry.Member) *registry.Command {
	key, err := teamkey.NewTeamKey()
	if err != nil {
		return nil
	}
	epoch := j.KeyEpoch + 1
	var wraps []registry.WrapSpec
	for _, m := range members {
		ws, err := wrapsFor(scope, epoch, m, key)
		if err != nil {
			return nil
		}
		wraps = append(wraps, ws...)
	}
	if len(wraps) > maxWrapsPerCommand {
		wraps = wraps[:maxWrapsPerCommand] // the rest are wrapped next (WrapJITKey)
	}
	cmd, err := registry.NewCommand(randomID("jit-key-rotate."), registry.RotateJITKey{JIT: j.ID, Epoch: epoch, Wraps: wraps})
	if err != nil {
		return nil
	}
	return cmd
}
