package jitcontent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/federation/teamkey"
)

// Seal returns the payload of a command of this node's member with the
// team's free text sealed: a new team (jit.create) gets a fresh team key;
// an entry of an encrypted team (strategy.create, update, delete) is sealed
// with the team key of the current epoch. Other commands, federation-wide
// entries and teams created in the clear pass unchanged, as do payloads
// that do not decode (the registry refuses those with the reason).
//
// v must be a fresh view of the registry (the current epoch). A retry of
// the same request with the same payload returns the same sealed bytes.
func (k *Keyring) Seal(v registry.View, typ registry.CommandType, requestID string, payload []byte) ([]byte, error) {
	switch typ {
	case registry.CmdCreateJIT, registry.CmdCreateEntry, registry.CmdUpdateEntry, registry.CmdDeleteEntry:
	default:
		return payload, nil
	}
	if requestID == "" {
		return payload, nil
	}
	rk := requestKey(typ, requestID, payload)
	if p, ok := k.remembered(rk); ok {
		return p, nil
	}
	out, err := k.seal(v, typ, requestID, payload)
	if err != nil || bytes.Equal(out, payload) {
		return out, err
	}
	k.remember(rk, out)
	return out, nil
}

// strict decodes a payload as the registry does; ok is false when it does
// not decode (the payload then goes as it is).
func strict(payload []byte, p any) bool {
	if !utf8.Valid(payload) {
		// encoding/json would put U+FFFD in place of the bad bytes; the
		// registry refuses such a payload, so it goes as it is.
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	return dec.Decode(p) == nil && !dec.More()
}

func noKey(format string, args ...any) error {
	return fmt.Errorf("%w: %w: "+format, append([]any{registry.ErrFailedPrecondition, ErrNoKey}, args...)...)
}

func (k *Keyring) seal(v registry.View, typ registry.CommandType, requestID string, payload []byte) ([]byte, error) {
	ref := k.member + "/" + requestID
	switch typ {
	case registry.CmdCreateJIT:
		var p registry.CreateJIT
		if !strict(payload, &p) || len(p.Wraps) > 0 || teamkey.IsSealed(p.Name) {
			return payload, nil
		}
		if err := p.CheckPlain(); err != nil {
			return nil, err
		}
		m, err := v.GetMember(k.member)
		if err != nil {
			return payload, nil
		}
		if !k.registered(m) {
			return nil, noKey("this node's encryption key %s is not registered in member %s's record yet; try again in a few seconds", k.kid, k.member)
		}
		key, err := teamkey.NewTeamKey()
		if err != nil {
			return nil, err
		}
		// The team has no id yet: its scope is this command's member and
		// request id (registry.JIT.Scope).
		scope := ref
		for _, f := range []struct {
			s    *string
			name string
		}{{&p.Name, "name"}, {&p.LegalBasis, "legal_basis"}, {&p.AgreementRef, "agreement_ref"}} {
			if *f.s == "" {
				continue
			}
			if *f.s, err = teamkey.Seal(key, 1, *f.s, registry.JITAD(scope, f.name)); err != nil {
				return nil, err
			}
		}
		if p.Wraps, err = wrapsFor(scope, 1, m, key); err != nil {
			return nil, err
		}
		return json.Marshal(p)
	case registry.CmdCreateEntry:
		var p registry.CreateEntry
		if !strict(payload, &p) || p.JIT == "" {
			return payload, nil
		}
		j, key, epoch, err := k.current(v, p.JIT)
		if j == nil || err != nil {
			return payload, err
		}
		if err := p.CheckPlain(); err != nil {
			return nil, err
		}
		if p.Title, p.Text, err = sealEntry(key, epoch, j.Scope(), ref, p.Title, p.Text); err != nil {
			return nil, err
		}
		return json.Marshal(p)
	case registry.CmdUpdateEntry:
		var p registry.UpdateEntry
		if !strict(payload, &p) {
			return payload, nil
		}
		j, key, epoch, err := k.entryTeam(v, p.Entry)
		if j == nil || err != nil {
			return payload, err
		}
		if err := p.CheckPlain(); err != nil {
			return nil, err
		}
		if p.Title, p.Text, err = sealEntry(key, epoch, j.Scope(), ref, p.Title, p.Text); err != nil {
			return nil, err
		}
		return json.Marshal(p)
	case registry.CmdDeleteEntry:
		var p registry.DeleteEntry
		if !strict(payload, &p) || p.Reason == "" {
			return payload, nil
		}
		j, key, epoch, err := k.entryTeam(v, p.Entry)
		if j == nil || err != nil {
			return payload, err
		}
		if err := p.CheckPlain(); err != nil {
			return nil, err
		}
		if p.Reason, err = teamkey.Seal(key, epoch, p.Reason, registry.EntryAD(j.Scope(), ref, "reason")); err != nil {
			return nil, err
		}
		return json.Marshal(p)
	}
	return payload, nil
}

func sealEntry(key []byte, epoch int, scope, ref, title, text string) (string, string, error) {
	st, err := teamkey.Seal(key, epoch, title, registry.EntryAD(scope, ref, "title"))
	if err != nil || text == "" {
		return st, text, err
	}
	sx, err := teamkey.Seal(key, epoch, text, registry.EntryAD(scope, ref, "text"))
	return st, sx, err
}

// current returns an encrypted team this member sees and its current key;
// a nil team when the team is in the clear or not visible (the payload then
// goes unchanged and the registry answers).
func (k *Keyring) current(v registry.View, id string) (*registry.JIT, []byte, int, error) {
	j, err := v.GetJIT(id, k.member)
	if err != nil || j.KeyEpoch == 0 {
		return nil, nil, 0, nil
	}
	key, ok := k.TeamKey(&j, j.KeyEpoch)
	if !ok {
		return nil, nil, 0, noKey("no member has wrapped the key of epoch %d of joint investigation team %s for this node yet; try again in a few seconds", j.KeyEpoch, id)
	}
	return &j, key, j.KeyEpoch, nil
}

// entryTeam is current for the team of an entry.
func (k *Keyring) entryTeam(v registry.View, entry string) (*registry.JIT, []byte, int, error) {
	e, err := v.GetEntry(entry, k.member)
	if err != nil || e.JIT == "" {
		return nil, nil, 0, nil
	}
	return k.current(v, e.JIT)
}
