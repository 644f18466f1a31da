package daemon

import (
	"context"
	"slices"
	"strings"

	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/trust"
)

// trustAdmittedMembers keeps the node's TLS trust in step with the
// registry: the CA certificates of every admitted member (checked by the
// registry: CA:true, naming the member; admitted by the members' vote) are
// trusted beside the trust bundle file's (mtls.Source.SetLearned), so that
// a member admitted by vote is trusted by every node at once, without its
// CA added by hand to each node's bundle, and a suspended member is
// trusted no longer. The bundle file stays authoritative for the members
// it lists. It looks again each time the registry applies an entry, until
// ctx ends.
func (d *Daemon) trustAdmittedMembers(ctx context.Context) {
	fsm := d.registry.fsm
	fed := d.src.Identity().Federation
	last := "\x00none"
	for {
		idx := fsm.AppliedIndex()
		var ms []trust.MemberBundle
		fsm.Read(func(v registry.View) {
			if v.Federation() != fed {
				return
			}
			for _, m := range v.ListMembers() {
				if m.Status == registry.MemberAdmitted {
					ms = append(ms, trust.MemberBundle{Member: m.Code, Name: m.Name, CACertificates: slices.Clone(m.CACerts)})
				}
			}
		})
		if key := learnedKey(ms); key != last {
			if changed, err := d.src.SetLearned(ms); err != nil {
				d.logger.Warn("trusting the registry's admitted members failed; the trust in force stays", "err", err)
			} else {
				last = key
				if changed {
					d.logger.Info("trusting the registry's admitted members", "learned", strings.Join(d.src.Learned(), ","), "members_trusted", len(d.src.Verifier().Members()))
				}
			}
		}
		if err := fsm.WaitApplied(ctx, idx+1); err != nil {
			return
		}
	}
}

// learnedKey identifies a list of members' CAs.
func learnedKey(ms []trust.MemberBundle) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(m.Member)
		for _, c := range m.CACertificates {
			b.WriteString("\x00" + c)
		}
		b.WriteString("\x01")
	}
	return b.String()
}
