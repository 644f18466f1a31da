package registry

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/accordfed/accord/federation/teamkey"
)

// JIT content encryption: what the state machine checks.
//
// The sending node seals a team's free text (federation/teamkey) before it
// signs the command; the state machine cannot read it and checks only the
// form: a sealed field of the team's current epoch within the bounds of
// the plaintext (checkSealed), and wraps of team keys only for accepted
// members' registered keys, by members that hold the key (checkWraps). No
// randomness: keys, nonces and wraps come in the payload.

// maxKeyWraps bounds the wraps a team keeps (epochs times members times
// keys).
const maxKeyWraps = 5000

// checkEncryptionKeys checks a member's X25519 encryption keys.
func checkEncryptionKeys(field string, keys []EncryptionKey) error {
	return checkKeyList(field, "encryption", len(keys), func(i int) string { return keys[i].ID }, func(f string, i int) error {
		if _, err := teamkey.ParsePublicKey(keys[i].PublicKey); err != nil {
			return invalid("%s.public_key: must be the standard base64 of a 32-byte X25519 public key", f)
		}
		return nil
	})
}

// checkSealed checks a field of an encrypted team: sealed with the team key
// of epoch, its plaintext at most maxPlain bytes.
func checkSealed(field, s string, epoch, maxPlain int, required bool) error {
	if s == "" {
		if required {
			return invalid("%s: is required", field)
		}
		return nil
	}
	e, n, err := teamkey.Parse(s)
	if err != nil {
		return invalid("%s: the team's content is encrypted: must be sealed with its team key (%v)", field, err)
	}
	if e != epoch {
		return precondition("%s: sealed with the team key of epoch %d; the team's key is at epoch %d (seal it again)", field, e, epoch)
	}
	if n > maxPlain {
		return invalid("%s: must be at most %d bytes before sealing (got %d)", field, maxPlain, n)
	}
	return nil
}

// checkWraps checks wraps for team j sent by ch.Member and returns them as
// the team keeps them. epochOK checks each wrap's epoch.
func (s *state) checkWraps(field string, j *JIT, wraps []WrapSpec, ch Change, epochOK func(f string, epoch int) error) ([]KeyWrap, error) {
	if len(wraps) == 0 {
		return nil, invalid("%s: at least one wrap is required", field)
	}
	if len(wraps) > maxListLen {
		return nil, invalid("%s: at most %d wraps (got %d)", field, maxListLen, len(wraps))
	}
	if len(j.KeyWraps)+len(wraps) > maxKeyWraps {
		return nil, precondition("joint investigation team %s already keeps %d key wraps", j.ID, len(j.KeyWraps))
	}
	type key struct {
		epoch       int
		member, kid string
	}
	seen := map[key]bool{}
	out := make([]KeyWrap, 0, len(wraps))
	for i, w := range wraps {
		f := field + "[" + strconv.Itoa(i) + "]"
		if err := epochOK(f+".epoch", w.Epoch); err != nil {
			return nil, err
		}
		if err := checkMemberCode(f+".member", w.Member); err != nil {
			return nil, err
		}
		if !j.accepted(w.Member) {
			return nil, precondition("%s.member: member %s is not an accepted member of the team; team keys are wrapped only for accepted members", f, w.Member)
		}
		m, ok := s.admitted(w.Member)
		if !ok {
			return nil, precondition("%s.member: member %s is not admitted", f, w.Member)
		}
		if !slices.ContainsFunc(m.EncryptionKeys, func(k EncryptionKey) bool { return k.ID == w.KeyID }) {
			return nil, precondition("%s.key_id: member %s has no registered encryption key %q", f, w.Member, w.KeyID)
		}
		if err := teamkey.ParseWrapped(w.Wrapped); err != nil {
			return nil, invalid("%s.wrapped: %v", f, err)
		}
		k := key{w.Epoch, w.Member, w.KeyID}
		if seen[k] {
			return nil, invalid("%s: the key of epoch %d for %s key %s is listed twice", f, w.Epoch, w.Member, w.KeyID)
		}
		seen[k] = true
		if j.Wrap(w.Epoch, w.Member, w.KeyID) != nil {
			return nil, exists("the key of epoch %d of joint investigation team %s wrapped for member %s key %s", w.Epoch, j.ID, w.Member, w.KeyID)
		}
		out = append(out, KeyWrap{Epoch: w.Epoch, Member: w.Member, KeyID: w.KeyID, Wrapped: w.Wrapped, Change: ch})
	}
	return out, nil
}

// addWraps returns the team's wraps with ws added, ordered by epoch,
// member and key id.
func addWraps(have []KeyWrap, ws []KeyWrap) []KeyWrap {
	out := append(slices.Clone(have), ws...)
	slices.SortFunc(out, func(a, b KeyWrap) int {
		return cmp.Or(cmp.Compare(a.Epoch, b.Epoch), compareStrings(a.Member, b.Member), compareStrings(a.KeyID, b.KeyID))
	})
	return out
}

// encryptedJITOf returns an active encrypted team actor has accepted.
func (s *state) encryptedJITOf(field, id, actor string) (*JIT, error) {
	j, err := s.activeJITOf(field, id, actor)
	if err != nil {
		return nil, err
	}
	if j.KeyEpoch == 0 {
		return nil, precondition("joint investigation team %s was created in the clear and has no team key", id)
	}
	return j, nil
}

func (s *state) wrapJITKey(ch Change, p *WrapJITKey) (Outcome, error) {
	j, err := s.encryptedJITOf("jit", p.JIT, ch.Member)
	if err != nil {
		return Outcome{}, err
	}
	ws, err := s.checkWraps("wraps", j, p.Wraps, ch, func(f string, e int) error {
		if e < 1 || e > j.KeyEpoch {
			return invalid("%s: must be 1-%d, an epoch of the team's key (got %d)", f, j.KeyEpoch, e)
		}
		if !j.hasWrap(e, ch.Member) {
			return denied("%s: member %s holds no wrap of the team key of epoch %d; only a member that holds a key wraps it", f, ch.Member, e)
		}
		return nil
	})
	if err != nil {
		return Outcome{}, err
	}
	n := j.clone()
	n.KeyWraps = addWraps(n.KeyWraps, ws)
	n.Updated = ch
	s.putJIT(n)
	return Outcome{ID: n.ID, Version: n.KeyEpoch, Status: "wrapped"}, nil
}

func (s *state) rotateJITKey(ch Change, p *RotateJITKey) (Outcome, error) {
	j, err := s.encryptedJITOf("jit", p.JIT, ch.Member)
	if err != nil {
		return Outcome{}, err
	}
	if p.Epoch != j.KeyEpoch+1 {
		return Outcome{}, precondition("epoch: the team's key is at epoch %d; a rotation makes epoch %d (got %d)", j.KeyEpoch, j.KeyEpoch+1, p.Epoch)
	}
	ws, err := s.checkWraps("wraps", j, p.Wraps, ch, func(f string, e int) error {
		if e != p.Epoch {
			return invalid("%s: must be %d, the new epoch (got %d)", f, p.Epoch, e)
		}
		return nil
	})
	if err != nil {
		return Outcome{}, err
	}
	if !slices.ContainsFunc(ws, func(w KeyWrap) bool { return w.Member == ch.Member }) {
		return Outcome{}, invalid("wraps: must hold the new key wrapped for the acting member %s", ch.Member)
	}
	n := j.clone()
	n.KeyEpoch = p.Epoch
	n.KeyWraps = addWraps(n.KeyWraps, ws)
	n.Updated = ch
	s.putJIT(n)
	return Outcome{ID: n.ID, Version: n.KeyEpoch, Status: "rotated"}, nil
}

// scopeEpoch returns the key epoch of the team an entry of actor is scoped
// to: 0 for a federation-wide entry, a team in the clear, or one actor has
// not accepted or that does not exist (checkScope then refuses it, and the
// refusal must not tell whether that team is encrypted).
func (s *state) scopeEpoch(jit, actor string) int {
	if jit == "" {
		return 0
	}
	if j, ok := s.jits.get(jit); ok && j.accepted(actor) {
		return j.KeyEpoch
	}
	return 0
}

// sealedRef is the record part of the associated data of content a change
// sealed.
func sealedRef(ch Change) string { return ch.Member + "/" + ch.RequestID }

// CheckPlain checks the fields an encrypted team seals as the state
// machine checks them in a clear team. The sending node calls it before
// sealing (the state machine sees only ciphertext).
func (p *CreateJIT) CheckPlain() error {
	if err := checkLine("name", p.Name, maxNameLen, true); err != nil {
		return err
	}
	if err := checkLine("legal_basis", p.LegalBasis, maxRefLen, true); err != nil {
		return err
	}
	return checkLine("agreement_ref", p.AgreementRef, maxRefLen, false)
}

// CheckPlain checks the title and text before sealing (CreateJIT.CheckPlain).
func (p *CreateEntry) CheckPlain() error { return checkPlainEntry(p.Title, p.Text) }

// CheckPlain checks the title and text before sealing (CreateJIT.CheckPlain).
func (p *UpdateEntry) CheckPlain() error { return checkPlainEntry(p.Title, p.Text) }

// CheckPlain checks the reason before sealing (CreateJIT.CheckPlain).
func (p *DeleteEntry) CheckPlain() error { return checkProse("reason", p.Reason, maxReasonLen, false) }

func checkPlainEntry(title, text string) error {
	if err := checkLine("title", title, maxNameLen, true); err != nil {
		return err
	}
	return checkProse("text", text, maxTextLen, false)
}

// EntryAD returns the associated data of a sealed field of a strategy
// version: the team's scope, the sealing change and the field.
func EntryAD(scope, sealed, field string) []byte {
	return teamkey.FieldAD(scope, "entry:"+sealed, field)
}

// JITAD returns the associated data of a sealed field of the team record
// itself (name, legal_basis, agreement_ref).
func JITAD(scope, field string) []byte { return teamkey.FieldAD(scope, "jit", field) }
