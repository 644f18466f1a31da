package registry

import (
	"slices"
	"strconv"
)

// checkContent checks the content of a strategy entry version; with epoch
// set (an entry of an encrypted team) the title and text must be sealed
// with the team key of that epoch.
func (s *state) checkContent(kind EntryKind, title, text string, targets []TargetRef, epoch int) error {
	switch kind {
	case KindPriority, KindTarget, KindTheme:
	case "":
		return invalid("kind: is required")
	default:
		return invalid("kind: %q must be %q, %q or %q", kind, KindPriority, KindTarget, KindTheme)
	}
	if epoch > 0 {
		if err := checkSealed("title", title, epoch, maxNameLen, true); err != nil {
			return err
		}
		if err := checkSealed("text", text, epoch, maxTextLen, false); err != nil {
			return err
		}
	} else if err := checkPlainEntry(title, text); err != nil {
		return err
	}
	if len(targets) > maxListLen {
		return invalid("targets: at most %d (got %d)", maxListLen, len(targets))
	}
	if kind == KindTarget && len(targets) == 0 {
		return invalid("targets: an entry of kind %q needs at least one target", KindTarget)
	}
	seen := map[TargetRef]bool{}
	for i, t := range targets {
		field := "targets[" + strconv.Itoa(i) + "]"
		if err := s.checkTarget(field, t); err != nil {
			return err
		}
		if seen[t] {
			return invalid("%s: is listed twice", field)
		}
		seen[t] = true
	}
	return nil
}

// checkTarget checks a target reference. A person is named only by a keyed
// encoding made with the current or previous version of a federation key.
func (s *state) checkTarget(field string, t TargetRef) error {
	switch t.Type {
	case TargetUnit:
		if t.Key != "" || t.KeyVersion != 0 {
			return invalid("%s: a unit is named by its designation; key and key_version are for persons", field)
		}
		return checkLine(field+".ref", t.Ref, maxRefLen, true)
	case TargetPerson:
		if len(t.Ref) < minPersonRefLen || len(t.Ref) > maxPersonRefLen || len(t.Ref)%2 != 0 || !hexRE.MatchString(t.Ref) {
			return invalid("%s.ref: a person is named only by a keyed encoding: %d-%d lower-case hex digits, never a name",
				field, minPersonRefLen, maxPersonRefLen)
		}
		if err := checkKeyName(field+".key", t.Key); err != nil {
			return err
		}
		k, ok := s.keys.get(t.Key)
		if !ok {
			return notFound("%s.key: federation key %q", field, t.Key)
		}
		v := k.version(t.KeyVersion)
		if v == nil {
			return notFound("%s.key_version: federation key %s has no version %d", field, t.Key, t.KeyVersion)
		}
		if v.State == KeyRetired {
			return precondition("%s.key_version: version %d of federation key %s is retired", field, t.KeyVersion, t.Key)
		}
		return nil
	case "":
		return invalid("%s.type: is required", field)
	}
	return invalid("%s.type: %q must be %q or %q", field, t.Type, TargetUnit, TargetPerson)
}

// checkScope checks that actor may write entries scoped to the team jit
// (federation-wide when empty).
func (s *state) checkScope(jit, actor string) error {
	if jit == "" {
		return nil
	}
	_, err := s.activeJITOf("jit", jit, actor)
	return err
}

func (s *state) createEntry(ch Change, p *CreateEntry) (Outcome, error) {
	epoch := s.scopeEpoch(p.JIT, ch.Member)
	if err := s.checkContent(p.Kind, p.Title, p.Text, p.Targets, epoch); err != nil {
		return Outcome{}, err
	}
	if err := s.checkScope(p.JIT, ch.Member); err != nil {
		return Outcome{}, err
	}
	v := StrategyVersion{Version: 1, Kind: p.Kind, Title: p.Title, Text: p.Text, Targets: slices.Clone(p.Targets), Change: ch}
	if epoch > 0 {
		v.Sealed = sealedRef(ch)
	}
	r := &strategyRecord{
		ID:    nextID(&s.meta.LastEntry, "entry"),
		Owner: ch.Member, JIT: p.JIT, Created: ch,
		Versions: []StrategyVersion{v},
	}
	s.putEntry(r)
	return Outcome{ID: r.ID, Version: 1}, nil
}

// entryVisible reports whether member may see a strategy entry: every
// federation-wide entry, and the entries of the teams it has accepted (the
// rule of View.GetEntry).
func (s *state) entryVisible(r *strategyRecord, member string) bool {
	return View{s: s}.entryVisible(r, member)
}

// ownedEntry returns the entry if actor owns it, may still write in its
// scope, and it is live at the expected version.
func (s *state) ownedEntry(id string, expected int, actor string) (*strategyRecord, error) {
	if id == "" {
		return nil, invalid("entry: is required")
	}
	if expected < 0 {
		return nil, invalid("expected_version: must not be negative")
	}
	r, ok := s.entries.get(id)
	if !ok || !s.entryVisible(r, actor) {
		// An entry actor may not see is refused as one that does not
		// exist, as a read would (View.GetEntry).
		return nil, notFound("strategy entry %q", id)
	}
	if r.Owner != actor {
		return nil, denied("strategy entry %s is owned by %s; member %s may change only its own entries", id, r.Owner, actor)
	}
	if err := s.checkScope(r.JIT, actor); err != nil {
		return nil, err
	}
	cur := r.current()
	if cur.Deleted {
		return nil, precondition("strategy entry %s was deleted", id)
	}
	if expected != 0 && expected != cur.Version {
		return nil, precondition("expected_version: strategy entry %s is at version %d, not %d", id, cur.Version, expected)
	}
	return r, nil
}

func (s *state) updateEntry(ch Change, p *UpdateEntry) (Outcome, error) {
	r, err := s.ownedEntry(p.Entry, p.ExpectedVersion, ch.Member)
	if err != nil {
		return Outcome{}, err
	}
	epoch := s.scopeEpoch(r.JIT, ch.Member)
	if err := s.checkContent(p.Kind, p.Title, p.Text, p.Targets, epoch); err != nil {
		return Outcome{}, err
	}
	n := r.clone()
	v := StrategyVersion{Version: r.current().Version + 1, Kind: p.Kind, Title: p.Title, Text: p.Text,
		Targets: slices.Clone(p.Targets), Change: ch}
	if epoch > 0 {
		v.Sealed = sealedRef(ch)
	}
	n.Versions = append(n.Versions, v)
	s.putEntry(n)
	return Outcome{ID: n.ID, Version: v.Version}, nil
}

func (s *state) deleteEntry(ch Change, p *DeleteEntry) (Outcome, error) {
	r, err := s.ownedEntry(p.Entry, p.ExpectedVersion, ch.Member)
	if err != nil {
		return Outcome{}, err
	}
	if epoch := s.scopeEpoch(r.JIT, ch.Member); epoch > 0 {
		if err := checkSealed("reason", p.Reason, epoch, maxReasonLen, false); err != nil {
			return Outcome{}, err
		}
	} else if err := p.CheckPlain(); err != nil {
		return Outcome{}, err
	}
	n := r.clone()
	v := r.current().clone()
	v.Version++
	v.Deleted = true
	v.Reason = p.Reason
	v.Change = ch
	n.Versions = append(n.Versions, v)
	s.putEntry(n)
	return Outcome{ID: n.ID, Version: v.Version, Status: "deleted"}, nil
}
