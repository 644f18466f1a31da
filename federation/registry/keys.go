package registry

import (
	"bytes"
	"slices"
)

func checkMaterial(m []byte) error {
	if len(m) < minKeyMaterial || len(m) > maxKeyMaterial {
		return invalid("material: must be %d-%d bytes (got %d)", minKeyMaterial, maxKeyMaterial, len(m))
	}
	return nil
}

func (s *state) createKey(ch Change, p *CreateKey) (Outcome, error) {
	if err := checkKeyName("name", p.Name); err != nil {
		return Outcome{}, err
	}
	if _, ok := s.keys.get(p.Name); ok {
		return Outcome{}, exists("federation key %s", p.Name)
	}
	if err := checkLine("purpose", p.Purpose, maxNameLen, false); err != nil {
		return Outcome{}, err
	}
	if err := checkMaterial(p.Material); err != nil {
		return Outcome{}, err
	}
	k := &FederationKey{
		Name: p.Name, Purpose: p.Purpose, Owner: ch.Member,
		Versions: []KeyVersion{{Version: 1, State: KeyCurrent, Material: slices.Clone(p.Material), Created: ch}},
		Created:  ch, Updated: ch,
	}
	s.putKey(k)
	return Outcome{ID: k.Name, Version: 1}, nil
}

// ownKey returns the key named name, which the acting member must own to
// verb it.
func (s *state) ownKey(ch Change, name, verb string) (*FederationKey, error) {
	if err := checkKeyName("name", name); err != nil {
		return nil, err
	}
	cur, ok := s.keys.get(name)
	if !ok {
		return nil, notFound("federation key %s", name)
	}
	if cur.Owner != ch.Member {
		return nil, denied("federation key %s is owned by %s; member %s may %s only its own keys", name, cur.Owner, ch.Member, verb)
	}
	return cur, nil
}

func (s *state) rotateKey(ch Change, p *RotateKey) (Outcome, error) {
	cur, err := s.ownKey(ch, p.Name, "rotate")
	if err != nil {
		return Outcome{}, err
	}
	if err := checkMaterial(p.Material); err != nil {
		return Outcome{}, err
	}
	for _, v := range cur.Versions {
		if bytes.Equal(v.Material, p.Material) {
			return Outcome{}, invalid("material: must differ from version %d", v.Version)
		}
	}
	k := cur.clone()
	for i := range k.Versions {
		v := &k.Versions[i]
		switch v.State {
		case KeyCurrent:
			v.State = KeyPrevious
		case KeyPrevious:
			v.State = KeyRetired
			v.Material = nil
			retired := ch
			v.Retired = &retired
		}
	}
	next := KeyVersion{Version: len(k.Versions) + 1, State: KeyCurrent, Material: slices.Clone(p.Material), Created: ch}
	k.Versions = append(k.Versions, next)
	k.Updated = ch
	s.putKey(k)
	return Outcome{ID: k.Name, Version: next.Version}, nil
}

func (s *state) destroyKey(ch Change, p *DestroyKey) (Outcome, error) {
	cur, err := s.ownKey(ch, p.Name, "destroy")
	if err != nil {
		return Outcome{}, err
	}
	k := cur.clone()
	for i := range k.Versions {
		v := &k.Versions[i]
		if v.State != KeyRetired {
			v.State = KeyRetired
			retired := ch
			v.Retired = &retired
		}
		v.Material = nil
	}
	k.Updated = ch
	s.putKey(k)
	return Outcome{ID: k.Name}, nil
}
