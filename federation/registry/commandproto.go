package registry

import (
	"fmt"
	"maps"
	"math"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// The payloads' protobuf form (command version 3).
//
// Each payload type converts to its message of proto/accord/v1
// registry_command.proto and back, field for field. The conversion is
// lossless for every value Encode accepts (an empty list and no list are
// the same, in both forms), so that a command decoded and encoded again
// (the leader stamping its time on a forwarded command) carries the bytes
// its signer signed. Values the protobuf form cannot carry (an entry kind
// the registry does not know, a number out of range) are refused by
// Encode, naming the field; an enum number this build does not know is
// refused by DecodeCommand.

// convErr builds the error of a field that does not convert.
func convErr(field, format string, args ...any) error {
	return invalid("payload.%s: %s", field, fmt.Sprintf(format, args...))
}

func toInt32(field string, v int) (int32, error) {
	if v < math.MinInt32 || v > math.MaxInt32 {
		return 0, convErr(field, "%d is out of range", v)
	}
	return int32(v), nil
}

var (
	entryKinds = map[EntryKind]accordv1.CommandEntryKind{
		"": accordv1.CommandEntryKind_COMMAND_ENTRY_KIND_UNSPECIFIED, KindPriority: accordv1.CommandEntryKind_COMMAND_ENTRY_KIND_PRIORITY,
		KindTarget: accordv1.CommandEntryKind_COMMAND_ENTRY_KIND_TARGET, KindTheme: accordv1.CommandEntryKind_COMMAND_ENTRY_KIND_THEME,
	}
	targetTypes = map[TargetType]accordv1.CommandTargetType{
		"": accordv1.CommandTargetType_COMMAND_TARGET_TYPE_UNSPECIFIED, TargetUnit: accordv1.CommandTargetType_COMMAND_TARGET_TYPE_UNIT,
		TargetPerson: accordv1.CommandTargetType_COMMAND_TARGET_TYPE_PERSON,
	}
	jitPolicies = map[JITPolicy]accordv1.CommandJitPolicy{
		"": accordv1.CommandJitPolicy_COMMAND_JIT_POLICY_UNSPECIFIED, JITUnanimous: accordv1.CommandJitPolicy_COMMAND_JIT_POLICY_UNANIMOUS,
	}
	entryKindsBack  = invert(entryKinds)
	targetTypesBack = invert(targetTypes)
	jitPoliciesBack = invert(jitPolicies)
)

func invert[K, V comparable](m map[K]V) map[V]K {
	r := make(map[V]K, len(m))
	for k, v := range m {
		r[v] = k
	}
	return r
}

func enumTo[K ~string, V any](field string, m map[K]V, k K) (V, error) {
	v, ok := m[k]
	if !ok {
		var zero V
		known := make([]string, 0, len(m))
		for k := range m {
			if k != "" {
				known = append(known, fmt.Sprintf("%q", string(k)))
			}
		}
		return zero, convErr(field, "%q is not one of %v", string(k), sortedStrings(known))
	}
	return v, nil
}

func enumFrom[V ~int32, K any](field string, m map[V]K, v V) (K, error) {
	k, ok := m[v]
	if !ok {
		var zero K
		return zero, convErr(field, "unknown enum value %d", int32(v))
	}
	return k, nil
}

func sortedStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

func listTo[G, P any](field string, gs []G, f func(string, *G) (P, error)) ([]P, error) {
	if len(gs) == 0 {
		return nil, nil
	}
	ps := make([]P, len(gs))
	for i := range gs {
		p, err := f(fmt.Sprintf("%s[%d]", field, i), &gs[i])
		if err != nil {
			return nil, err
		}
		ps[i] = p
	}
	return ps, nil
}

func listFrom[P, G any](field string, ps []P, f func(string, P) (G, error)) ([]G, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	gs := make([]G, len(ps))
	for i, p := range ps {
		g, err := f(fmt.Sprintf("%s[%d]", field, i), p)
		if err != nil {
			return nil, err
		}
		gs[i] = g
	}
	return gs, nil
}

// plain lifts a conversion that cannot fail.
func plain[A, B any](f func(A) B) func(string, A) (B, error) {
	return func(_ string, a A) (B, error) { return f(a), nil }
}

func signingKeyTo(k *SigningKey) *accordv1.CommandSigningKey {
	return &accordv1.CommandSigningKey{Id: k.ID, PublicKeyPem: k.PublicKeyPEM}
}

func signingKeyFrom(k *accordv1.CommandSigningKey) SigningKey {
	return SigningKey{ID: k.GetId(), PublicKeyPEM: k.GetPublicKeyPem()}
}

func encryptionKeyTo(k *EncryptionKey) *accordv1.CommandEncryptionKey {
	return &accordv1.CommandEncryptionKey{Id: k.ID, PublicKey: k.PublicKey}
}

func encryptionKeyFrom(k *accordv1.CommandEncryptionKey) EncryptionKey {
	return EncryptionKey{ID: k.GetId(), PublicKey: k.GetPublicKey()}
}

func personKeyTo(field string, k *PersonKey) (*accordv1.CommandPersonKey, error) {
	v, err := toInt32(field+".version", k.Version)
	return &accordv1.CommandPersonKey{Node: k.Node, Version: v, PublicKey: k.PublicKey}, err
}

func personKeyFrom(k *accordv1.CommandPersonKey) PersonKey {
	return PersonKey{Node: k.GetNode(), Version: int(k.GetVersion()), PublicKey: k.GetPublicKey()}
}

// nodeTo returns nil for the zero node: no message and an empty one decode
// alike.
func nodeTo(n *NodeSpec) *accordv1.CommandNode {
	if *n == (NodeSpec{}) {
		return nil
	}
	return &accordv1.CommandNode{Uri: n.URI, RegistryServer: n.RegistryServer, Address: n.Address, FederationAddress: n.FederationAddress}
}

func nodeFrom(n *accordv1.CommandNode) NodeSpec {
	return NodeSpec{URI: n.GetUri(), RegistryServer: n.GetRegistryServer(), Address: n.GetAddress(), FederationAddress: n.GetFederationAddress()}
}

func caseTo(c *CaseRef) *accordv1.CommandCaseRef {
	if *c == (CaseRef{}) {
		return nil
	}
	return &accordv1.CommandCaseRef{Member: c.Member, CaseId: c.CaseID}
}

func caseFrom(c *accordv1.CommandCaseRef) CaseRef {
	return CaseRef{Member: c.GetMember(), CaseID: c.GetCaseId()}
}

func wrapTo(field string, w *WrapSpec) (*accordv1.CommandWrap, error) {
	e, err := toInt32(field+".epoch", w.Epoch)
	return &accordv1.CommandWrap{Epoch: e, Member: w.Member, KeyId: w.KeyID, Wrapped: w.Wrapped}, err
}

func wrapFrom(w *accordv1.CommandWrap) WrapSpec {
	return WrapSpec{Epoch: int(w.GetEpoch()), Member: w.GetMember(), KeyID: w.GetKeyId(), Wrapped: w.GetWrapped()}
}

func targetTo(field string, t *TargetRef) (*accordv1.CommandTarget, error) {
	typ, err := enumTo(field+".type", targetTypes, t.Type)
	if err != nil {
		return nil, err
	}
	kv, err := toInt32(field+".key_version", t.KeyVersion)
	return &accordv1.CommandTarget{Type: typ, Ref: t.Ref, Key: t.Key, KeyVersion: kv}, err
}

func targetFrom(field string, t *accordv1.CommandTarget) (TargetRef, error) {
	typ, err := enumFrom(field+".type", targetTypesBack, t.GetType())
	return TargetRef{Type: typ, Ref: t.GetRef(), Key: t.GetKey(), KeyVersion: int(t.GetKeyVersion())}, err
}

func founderTo(field string, f *FounderSpec) (*accordv1.CommandFounder, error) {
	sk, _ := listTo(field, f.SigningKeys, func(_ string, k *SigningKey) (*accordv1.CommandSigningKey, error) { return signingKeyTo(k), nil })
	ek, _ := listTo(field, f.EncryptionKeys, func(_ string, k *EncryptionKey) (*accordv1.CommandEncryptionKey, error) {
		return encryptionKeyTo(k), nil
	})
	nodes, _ := listTo(field, f.Nodes, func(_ string, n *NodeSpec) (*accordv1.CommandNode, error) {
		// An empty node in a list stays a (empty) message: its place counts.
		return &accordv1.CommandNode{Uri: n.URI, RegistryServer: n.RegistryServer, Address: n.Address, FederationAddress: n.FederationAddress}, nil
	})
	return &accordv1.CommandFounder{Code: f.Code, Name: f.Name, CaCerts: f.CACerts, SigningKeys: sk, EncryptionKeys: ek, Nodes: nodes}, nil
}

func founderFrom(_ string, f *accordv1.CommandFounder) (FounderSpec, error) {
	sk, _ := listFrom("", f.GetSigningKeys(), plain(signingKeyFrom))
	ek, _ := listFrom("", f.GetEncryptionKeys(), plain(encryptionKeyFrom))
	nodes, _ := listFrom("", f.GetNodes(), plain(nodeFrom))
	return FounderSpec{Code: f.GetCode(), Name: f.GetName(), CACerts: f.GetCaCerts(), SigningKeys: sk, EncryptionKeys: ek, Nodes: nodes}, nil
}

func casesTo(cs []CaseRef) []*accordv1.CommandCaseRef {
	out, _ := listTo("", cs, func(_ string, c *CaseRef) (*accordv1.CommandCaseRef, error) {
		return &accordv1.CommandCaseRef{Member: c.Member, CaseId: c.CaseID}, nil
	})
	return out
}

func casesFrom(cs []*accordv1.CommandCaseRef) []CaseRef {
	out, _ := listFrom("", cs, plain(caseFrom))
	return out
}

func wrapsFrom(ws []*accordv1.CommandWrap) []WrapSpec {
	out, _ := listFrom("", ws, plain(wrapFrom))
	return out
}

func signingKeysTo(ks []SigningKey) []*accordv1.CommandSigningKey {
	out, _ := listTo("", ks, func(_ string, k *SigningKey) (*accordv1.CommandSigningKey, error) { return signingKeyTo(k), nil })
	return out
}

func encryptionKeysTo(ks []EncryptionKey) []*accordv1.CommandEncryptionKey {
	out, _ := listTo("", ks, func(_ string, k *EncryptionKey) (*accordv1.CommandEncryptionKey, error) {
		return encryptionKeyTo(k), nil
	})
	return out
}

func signingKeysFrom(ks []*accordv1.CommandSigningKey) []SigningKey {
	out, _ := listFrom("", ks, plain(signingKeyFrom))
	return out
}

func encryptionKeysFrom(ks []*accordv1.CommandEncryptionKey) []EncryptionKey {
	out, _ := listFrom("", ks, plain(encryptionKeyFrom))
	return out
}

func cloneVersions(m map[string]int64) map[string]int64 {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

// The conversions of each payload, named by the payload type.

func noopToProto(*Noop) (*accordv1.NoopCommand, error)   { return &accordv1.NoopCommand{}, nil }
func noopFromProto(*accordv1.NoopCommand) (*Noop, error) { return &Noop{}, nil }

func bootstrapToProto(p *Bootstrap) (*accordv1.BootstrapCommand, error) {
	tp, err := toInt32("bootstrap.policy.admission_threshold_percent", p.Policy.AdmissionThresholdPercent)
	if err != nil {
		return nil, err
	}
	dw, err := toInt32("bootstrap.policy.dedupe_window", p.Policy.DedupeWindow)
	if err != nil {
		return nil, err
	}
	founders, err := listTo("bootstrap.founders", p.Founders, founderTo)
	if err != nil {
		return nil, err
	}
	m := &accordv1.BootstrapCommand{Federation: p.Federation, Founders: founders}
	if p.Policy != (Policy{}) {
		m.Policy = &accordv1.CommandPolicy{AdmissionThresholdPercent: tp, DedupeWindow: dw}
	}
	return m, nil
}

func bootstrapFromProto(m *accordv1.BootstrapCommand) (*Bootstrap, error) {
	founders, err := listFrom("bootstrap.founders", m.GetFounders(), founderFrom)
	return &Bootstrap{Federation: m.GetFederation(), Founders: founders, Policy: Policy{
		AdmissionThresholdPercent: int(m.GetPolicy().GetAdmissionThresholdPercent()), DedupeWindow: int(m.GetPolicy().GetDedupeWindow()),
	}}, err
}

func proposeMemberToProto(p *ProposeMember) (*accordv1.ProposeMemberCommand, error) {
	return &accordv1.ProposeMemberCommand{Code: p.Code, Name: p.Name, CaCerts: p.CACerts,
		SigningKeys: signingKeysTo(p.SigningKeys), EncryptionKeys: encryptionKeysTo(p.EncryptionKeys)}, nil
}

func proposeMemberFromProto(m *accordv1.ProposeMemberCommand) (*ProposeMember, error) {
	return &ProposeMember{Code: m.GetCode(), Name: m.GetName(), CACerts: m.GetCaCerts(),
		SigningKeys: signingKeysFrom(m.GetSigningKeys()), EncryptionKeys: encryptionKeysFrom(m.GetEncryptionKeys())}, nil
}

func voteAdmissionToProto(p *VoteAdmission) (*accordv1.VoteAdmissionCommand, error) {
	return &accordv1.VoteAdmissionCommand{Candidate: p.Candidate, Approve: p.Approve, CaFingerprint: p.CAFingerprint}, nil
}

func voteAdmissionFromProto(m *accordv1.VoteAdmissionCommand) (*VoteAdmission, error) {
	return &VoteAdmission{Candidate: m.GetCandidate(), Approve: m.GetApprove(), CAFingerprint: m.GetCaFingerprint()}, nil
}

func suspendMemberToProto(p *SuspendMember) (*accordv1.SuspendMemberCommand, error) {
	return &accordv1.SuspendMemberCommand{Code: p.Code, Reason: p.Reason}, nil
}

func suspendMemberFromProto(m *accordv1.SuspendMemberCommand) (*SuspendMember, error) {
	return &SuspendMember{Code: m.GetCode(), Reason: m.GetReason()}, nil
}

func updateMemberToProto(p *UpdateMember) (*accordv1.UpdateMemberCommand, error) {
	pks, err := listTo("update_member.person_keys", p.PersonKeys, personKeyTo)
	if err != nil {
		return nil, err
	}
	return &accordv1.UpdateMemberCommand{Code: p.Code, Name: p.Name, CaCerts: p.CACerts, SigningKeys: signingKeysTo(p.SigningKeys),
		EncryptionKeys: encryptionKeysTo(p.EncryptionKeys), PersonKeys: pks, ExpectedVersion: p.ExpectedVersion}, nil
}

func updateMemberFromProto(m *accordv1.UpdateMemberCommand) (*UpdateMember, error) {
	pks, _ := listFrom("", m.GetPersonKeys(), plain(personKeyFrom))
	return &UpdateMember{Code: m.GetCode(), Name: m.GetName(), CACerts: m.GetCaCerts(), SigningKeys: signingKeysFrom(m.GetSigningKeys()),
		EncryptionKeys: encryptionKeysFrom(m.GetEncryptionKeys()), PersonKeys: pks, ExpectedVersion: m.GetExpectedVersion()}, nil
}

func registerNodeToProto(p *RegisterNode) (*accordv1.RegisterNodeCommand, error) {
	return &accordv1.RegisterNodeCommand{Node: nodeTo(&p.Node)}, nil
}

func registerNodeFromProto(m *accordv1.RegisterNodeCommand) (*RegisterNode, error) {
	return &RegisterNode{Node: nodeFrom(m.GetNode())}, nil
}

func removeNodeToProto(p *RemoveNode) (*accordv1.RemoveNodeCommand, error) {
	return &accordv1.RemoveNodeCommand{Uri: p.URI}, nil
}

func removeNodeFromProto(m *accordv1.RemoveNodeCommand) (*RemoveNode, error) {
	return &RemoveNode{URI: m.GetUri()}, nil
}

func createJITToProto(p *CreateJIT) (*accordv1.CreateJitCommand, error) {
	pol, err := enumTo("create_jit.policy", jitPolicies, p.Policy)
	if err != nil {
		return nil, err
	}
	wraps, err := listTo("create_jit.wraps", p.Wraps, wrapTo)
	if err != nil {
		return nil, err
	}
	return &accordv1.CreateJitCommand{Name: p.Name, LegalBasis: p.LegalBasis, AgreementRef: p.AgreementRef, Invite: p.Invite, Policy: pol, Wraps: wraps}, nil
}

func createJITFromProto(m *accordv1.CreateJitCommand) (*CreateJIT, error) {
	pol, err := enumFrom("create_jit.policy", jitPoliciesBack, m.GetPolicy())
	return &CreateJIT{Name: m.GetName(), LegalBasis: m.GetLegalBasis(), AgreementRef: m.GetAgreementRef(), Invite: m.GetInvite(),
		Policy: pol, Wraps: wrapsFrom(m.GetWraps())}, err
}

func inviteToJITToProto(p *InviteToJIT) (*accordv1.InviteToJitCommand, error) {
	return &accordv1.InviteToJitCommand{Jit: p.JIT, Member: p.Member}, nil
}

func inviteToJITFromProto(m *accordv1.InviteToJitCommand) (*InviteToJIT, error) {
	return &InviteToJIT{JIT: m.GetJit(), Member: m.GetMember()}, nil
}

func respondToJITToProto(p *RespondToJIT) (*accordv1.RespondToJitCommand, error) {
	return &accordv1.RespondToJitCommand{Jit: p.JIT, Member: p.Member, Accept: p.Accept}, nil
}

func respondToJITFromProto(m *accordv1.RespondToJitCommand) (*RespondToJIT, error) {
	return &RespondToJIT{JIT: m.GetJit(), Member: m.GetMember(), Accept: m.GetAccept()}, nil
}

func leaveJITToProto(p *LeaveJIT) (*accordv1.LeaveJitCommand, error) {
	return &accordv1.LeaveJitCommand{Jit: p.JIT, Member: p.Member}, nil
}

func leaveJITFromProto(m *accordv1.LeaveJitCommand) (*LeaveJIT, error) {
	return &LeaveJIT{JIT: m.GetJit(), Member: m.GetMember()}, nil
}

func linkCaseToProto(p *LinkCase) (*accordv1.LinkCaseCommand, error) {
	return &accordv1.LinkCaseCommand{Jit: p.JIT, Case: caseTo(&p.Case)}, nil
}

func linkCaseFromProto(m *accordv1.LinkCaseCommand) (*LinkCase, error) {
	return &LinkCase{JIT: m.GetJit(), Case: caseFrom(m.GetCase())}, nil
}

func unlinkCaseToProto(p *UnlinkCase) (*accordv1.UnlinkCaseCommand, error) {
	return &accordv1.UnlinkCaseCommand{Jit: p.JIT, Case: caseTo(&p.Case)}, nil
}

func unlinkCaseFromProto(m *accordv1.UnlinkCaseCommand) (*UnlinkCase, error) {
	return &UnlinkCase{JIT: m.GetJit(), Case: caseFrom(m.GetCase())}, nil
}

func setJITLeadToProto(p *SetJITLead) (*accordv1.SetJitLeadCommand, error) {
	return &accordv1.SetJitLeadCommand{Jit: p.JIT, Lead: p.Lead}, nil
}

func setJITLeadFromProto(m *accordv1.SetJitLeadCommand) (*SetJITLead, error) {
	return &SetJITLead{JIT: m.GetJit(), Lead: m.GetLead()}, nil
}

func closeJITToProto(p *CloseJIT) (*accordv1.CloseJitCommand, error) {
	return &accordv1.CloseJitCommand{Jit: p.JIT}, nil
}

func closeJITFromProto(m *accordv1.CloseJitCommand) (*CloseJIT, error) {
	return &CloseJIT{JIT: m.GetJit()}, nil
}

func consentJITToProto(p *ConsentJIT) (*accordv1.ConsentJitCommand, error) {
	return &accordv1.ConsentJitCommand{Proposal: p.Proposal, Member: p.Member, Consent: p.Consent}, nil
}

func consentJITFromProto(m *accordv1.ConsentJitCommand) (*ConsentJIT, error) {
	return &ConsentJIT{Proposal: m.GetProposal(), Member: m.GetMember(), Consent: m.GetConsent()}, nil
}

func wrapJITKeyToProto(p *WrapJITKey) (*accordv1.WrapJitKeyCommand, error) {
	wraps, err := listTo("wrap_jit_key.wraps", p.Wraps, wrapTo)
	return &accordv1.WrapJitKeyCommand{Jit: p.JIT, Wraps: wraps}, err
}

func wrapJITKeyFromProto(m *accordv1.WrapJitKeyCommand) (*WrapJITKey, error) {
	return &WrapJITKey{JIT: m.GetJit(), Wraps: wrapsFrom(m.GetWraps())}, nil
}

func rotateJITKeyToProto(p *RotateJITKey) (*accordv1.RotateJitKeyCommand, error) {
	e, err := toInt32("rotate_jit_key.epoch", p.Epoch)
	if err != nil {
		return nil, err
	}
	wraps, err := listTo("rotate_jit_key.wraps", p.Wraps, wrapTo)
	return &accordv1.RotateJitKeyCommand{Jit: p.JIT, Epoch: e, Wraps: wraps}, err
}

func rotateJITKeyFromProto(m *accordv1.RotateJitKeyCommand) (*RotateJITKey, error) {
	return &RotateJITKey{JIT: m.GetJit(), Epoch: int(m.GetEpoch()), Wraps: wrapsFrom(m.GetWraps())}, nil
}

func proposeLeadToProto(p *ProposeLead) (*accordv1.ProposeLeadCommand, error) {
	return &accordv1.ProposeLeadCommand{Cases: casesTo(p.Cases), Match: p.Match, Lead: p.Lead, Note: p.Note}, nil
}

func proposeLeadFromProto(m *accordv1.ProposeLeadCommand) (*ProposeLead, error) {
	return &ProposeLead{Cases: casesFrom(m.GetCases()), Match: m.GetMatch(), Lead: m.GetLead(), Note: m.GetNote()}, nil
}

func consentLeadToProto(p *ConsentLead) (*accordv1.ConsentLeadCommand, error) {
	return &accordv1.ConsentLeadCommand{Assignment: p.Assignment, Member: p.Member, Consent: p.Consent}, nil
}

func consentLeadFromProto(m *accordv1.ConsentLeadCommand) (*ConsentLead, error) {
	return &ConsentLead{Assignment: m.GetAssignment(), Member: m.GetMember(), Consent: m.GetConsent()}, nil
}

func createEntryToProto(p *CreateEntry) (*accordv1.CreateEntryCommand, error) {
	kind, err := enumTo("create_entry.kind", entryKinds, p.Kind)
	if err != nil {
		return nil, err
	}
	targets, err := listTo("create_entry.targets", p.Targets, targetTo)
	return &accordv1.CreateEntryCommand{Kind: kind, Title: p.Title, Text: p.Text, Targets: targets, Jit: p.JIT}, err
}

func createEntryFromProto(m *accordv1.CreateEntryCommand) (*CreateEntry, error) {
	kind, err := enumFrom("create_entry.kind", entryKindsBack, m.GetKind())
	if err != nil {
		return nil, err
	}
	targets, err := listFrom("create_entry.targets", m.GetTargets(), targetFrom)
	return &CreateEntry{Kind: kind, Title: m.GetTitle(), Text: m.GetText(), Targets: targets, JIT: m.GetJit()}, err
}

func updateEntryToProto(p *UpdateEntry) (*accordv1.UpdateEntryCommand, error) {
	ev, err := toInt32("update_entry.expected_version", p.ExpectedVersion)
	if err != nil {
		return nil, err
	}
	kind, err := enumTo("update_entry.kind", entryKinds, p.Kind)
	if err != nil {
		return nil, err
	}
	targets, err := listTo("update_entry.targets", p.Targets, targetTo)
	return &accordv1.UpdateEntryCommand{Entry: p.Entry, ExpectedVersion: ev, Kind: kind, Title: p.Title, Text: p.Text, Targets: targets}, err
}

func updateEntryFromProto(m *accordv1.UpdateEntryCommand) (*UpdateEntry, error) {
	kind, err := enumFrom("update_entry.kind", entryKindsBack, m.GetKind())
	if err != nil {
		return nil, err
	}
	targets, err := listFrom("update_entry.targets", m.GetTargets(), targetFrom)
	return &UpdateEntry{Entry: m.GetEntry(), ExpectedVersion: int(m.GetExpectedVersion()), Kind: kind, Title: m.GetTitle(), Text: m.GetText(), Targets: targets}, err
}

func deleteEntryToProto(p *DeleteEntry) (*accordv1.DeleteEntryCommand, error) {
	ev, err := toInt32("delete_entry.expected_version", p.ExpectedVersion)
	return &accordv1.DeleteEntryCommand{Entry: p.Entry, ExpectedVersion: ev, Reason: p.Reason}, err
}

func deleteEntryFromProto(m *accordv1.DeleteEntryCommand) (*DeleteEntry, error) {
	return &DeleteEntry{Entry: m.GetEntry(), ExpectedVersion: int(m.GetExpectedVersion()), Reason: m.GetReason()}, nil
}

func proposeMatchToProto(p *ProposeMatch) (*accordv1.ProposeMatchCommand, error) {
	return &accordv1.ProposeMatchCommand{Cases: casesTo(p.Cases), Score: p.Score, Reasons: p.Reasons, Versions: cloneVersions(p.Versions),
		Explanation: explanationTo(p.Explanation)}, nil
}

func proposeMatchFromProto(m *accordv1.ProposeMatchCommand) (*ProposeMatch, error) {
	return &ProposeMatch{Cases: casesFrom(m.GetCases()), Score: m.GetScore(), Reasons: m.GetReasons(), Versions: cloneVersions(m.GetVersions()),
		Explanation: explanationFrom(m.GetExplanation())}, nil
}

func decideMatchToProto(p *DecideMatch) (*accordv1.DecideMatchCommand, error) {
	return &accordv1.DecideMatchCommand{Match: p.Match, Member: p.Member, Confirm: p.Confirm, Reason: p.Reason, FirstOnly: p.FirstOnly}, nil
}

func decideMatchFromProto(m *accordv1.DecideMatchCommand) (*DecideMatch, error) {
	return &DecideMatch{Match: m.GetMatch(), Member: m.GetMember(), Confirm: m.GetConfirm(), Reason: m.GetReason(), FirstOnly: m.GetFirstOnly()}, nil
}

func explanationTo(e *Explanation) *accordv1.CommandMatchExplanation {
	if e == nil {
		return nil
	}
	out := &accordv1.CommandMatchExplanation{Prior: e.Prior, PriorWeight: e.PriorWeight, Weight: e.Weight, Probability: e.Probability}
	for _, c := range e.Comparisons {
		out.Comparisons = append(out.Comparisons, &accordv1.CommandComparisonWeight{Name: c.Name, Level: int32(c.Level), Label: c.Label, Weight: c.Weight})
	}
	return out
}

func explanationFrom(m *accordv1.CommandMatchExplanation) *Explanation {
	if m == nil {
		return nil
	}
	e := &Explanation{Prior: m.GetPrior(), PriorWeight: m.GetPriorWeight(), Weight: m.GetWeight(), Probability: m.GetProbability(),
		Comparisons: []ComparisonWeight{}}
	for _, c := range m.GetComparisons() {
		e.Comparisons = append(e.Comparisons, ComparisonWeight{Name: c.GetName(), Level: int(c.GetLevel()), Label: c.GetLabel(), Weight: c.GetWeight()})
	}
	return e
}

func createKeyToProto(p *CreateKey) (*accordv1.CreateKeyCommand, error) {
	return &accordv1.CreateKeyCommand{Name: p.Name, Purpose: p.Purpose, Material: p.Material}, nil
}

func createKeyFromProto(m *accordv1.CreateKeyCommand) (*CreateKey, error) {
	return &CreateKey{Name: m.GetName(), Purpose: m.GetPurpose(), Material: m.GetMaterial()}, nil
}

func rotateKeyToProto(p *RotateKey) (*accordv1.RotateKeyCommand, error) {
	return &accordv1.RotateKeyCommand{Name: p.Name, Material: p.Material}, nil
}

func rotateKeyFromProto(m *accordv1.RotateKeyCommand) (*RotateKey, error) {
	return &RotateKey{Name: m.GetName(), Material: m.GetMaterial()}, nil
}

func destroyKeyToProto(p *DestroyKey) (*accordv1.DestroyKeyCommand, error) {
	return &accordv1.DestroyKeyCommand{Name: p.Name}, nil
}

func destroyKeyFromProto(m *accordv1.DestroyKeyCommand) (*DestroyKey, error) {
	return &DestroyKey{Name: m.GetName()}, nil
}
