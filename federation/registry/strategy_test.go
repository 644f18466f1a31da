package registry

import (
	"errors"
	"strings"
	"testing"
)

func entryIDs(t *testing.T, h *harness, viewer string, f StrategyFilter) []string {
	t.Helper()
	var ids []string
	h.read(func(v View) {
		es, err := v.ListStrategy(viewer, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			ids = append(ids, e.ID)
		}
	})
	return ids
}

func TestStrategyEntries(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL")
	h.ok("UA", CreateKey{Name: "person-encoding", Purpose: "keyed person encodings", Material: []byte(strings.Repeat("k", 32))})

	out := h.ok("UA", CreateEntry{Kind: KindTarget, Title: "Unit 3719", Text: "Shelling of residential areas.\nPriority 1.",
		Targets: []TargetRef{{Type: TargetUnit, Ref: "military unit 3719"}, {Type: TargetPerson, Ref: personRef(1), Key: "person-encoding", KeyVersion: 1}}})
	id := out.ID
	if id != "entry-000001" || out.Version != 1 {
		t.Fatalf("outcome %+v", out)
	}
	if out := h.ok("UA", UpdateEntry{Entry: id, ExpectedVersion: 1, Kind: KindPriority, Title: "Unit 3719 first"}); out.Version != 2 {
		t.Fatalf("update %+v", out)
	}
	h.ok("UA", UpdateEntry{Entry: id, Kind: KindPriority, Title: "Unit 3719 first (no expected version)"})
	if out := h.ok("UA", DeleteEntry{Entry: id, ExpectedVersion: 3, Reason: "merged into entry 2"}); out.Version != 4 {
		t.Fatalf("delete %+v", out)
	}
	var hist []StrategyVersion
	var err error
	h.read(func(v View) { hist, err = v.History(id, "PL") })
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 4 || hist[0].Kind != KindTarget || len(hist[0].Targets) != 2 || hist[1].Title != "Unit 3719 first" ||
		!hist[3].Deleted || hist[3].Title != hist[2].Title || hist[3].Reason == "" {
		t.Fatalf("history %+v", hist)
	}
	for i, v := range hist {
		if v.Version != i+1 || v.Change.Member != "UA" || v.Change.RequestID == "" || v.Change.Index == 0 {
			t.Errorf("version %d: %+v", i, v)
		}
	}
	if got := entryIDs(t, h, "PL", StrategyFilter{}); len(got) != 0 {
		t.Errorf("deleted entry listed: %v", got)
	}
	if got := entryIDs(t, h, "PL", StrategyFilter{IncludeDeleted: true}); len(got) != 1 {
		t.Errorf("deleted entry not listed with IncludeDeleted: %v", got)
	}
	h.refuse("UA", UpdateEntry{Entry: id, Kind: KindTheme, Title: "again"}, ErrFailedPrecondition)
	h.refuse("UA", DeleteEntry{Entry: id}, ErrFailedPrecondition)
}

func TestStrategyRules(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL", "LT")
	h.ok("UA", CreateKey{Name: "person-encoding", Material: []byte(strings.Repeat("a", 32))})
	fed := h.ok("UA", CreateEntry{Kind: KindTheme, Title: "Filtration camps"}).ID
	jit := h.teamOf("UA", "PL")
	h.agree("UA", InviteToJIT{JIT: jit, Member: "LT"}, "PL")
	scoped := h.ok("PL", CreateEntry{Kind: KindPriority, Title: "Deportation of children", JIT: jit}).ID

	// Content.
	h.refuse("UA", CreateEntry{Kind: "wish", Title: "x"}, ErrInvalidArgument)
	h.refuse("UA", CreateEntry{Kind: KindTheme}, ErrInvalidArgument)
	h.refuse("UA", CreateEntry{Kind: KindTheme, Title: strings.Repeat("x", 201)}, ErrInvalidArgument)
	h.refuse("UA", CreateEntry{Kind: KindTarget, Title: "no targets"}, ErrInvalidArgument)
	h.refuse("UA", CreateEntry{Kind: KindTarget, Title: "x", Targets: []TargetRef{{Type: "ship", Ref: "x"}}}, ErrInvalidArgument)
	h.refuse("UA", CreateEntry{Kind: KindTarget, Title: "x", Targets: []TargetRef{{Type: TargetUnit, Ref: "u", Key: "person-encoding"}}}, ErrInvalidArgument)
	h.refuse("UA", CreateEntry{Kind: KindTarget, Title: "x", Targets: []TargetRef{{Type: TargetUnit, Ref: "u"}, {Type: TargetUnit, Ref: "u"}}}, ErrInvalidArgument)
	// Persons only by keyed reference, never a name.
	h.refuse("UA", CreateEntry{Kind: KindTarget, Title: "x", Targets: []TargetRef{{Type: TargetPerson, Ref: "Ivan Petrov", Key: "person-encoding", KeyVersion: 1}}}, ErrInvalidArgument)
	h.refuse("UA", CreateEntry{Kind: KindTarget, Title: "x", Targets: []TargetRef{{Type: TargetPerson, Ref: strings.ToUpper(personRef(0xabcdef)), Key: "person-encoding", KeyVersion: 1}}}, ErrInvalidArgument)
	h.refuse("UA", CreateEntry{Kind: KindTarget, Title: "x", Targets: []TargetRef{{Type: TargetPerson, Ref: personRef(7)}}}, ErrInvalidArgument)
	h.refuse("UA", CreateEntry{Kind: KindTarget, Title: "x", Targets: []TargetRef{{Type: TargetPerson, Ref: personRef(7), Key: "other", KeyVersion: 1}}}, ErrNotFound)
	h.refuse("UA", CreateEntry{Kind: KindTarget, Title: "x", Targets: []TargetRef{{Type: TargetPerson, Ref: personRef(7), Key: "person-encoding", KeyVersion: 2}}}, ErrNotFound)

	// Scope: only JIT members write a team's entries.
	h.refuse("LT", CreateEntry{Kind: KindTheme, Title: "x", JIT: jit}, ErrPermissionDenied) // invited only
	h.refuse("UA", CreateEntry{Kind: KindTheme, Title: "x", JIT: "jit-000404"}, ErrNotFound)

	// Ownership: only the owner changes an entry.
	h.refuse("PL", UpdateEntry{Entry: fed, Kind: KindTheme, Title: "mine now"}, ErrPermissionDenied)
	h.refuse("PL", DeleteEntry{Entry: fed}, ErrPermissionDenied)
	h.refuse("UA", UpdateEntry{Entry: scoped, Kind: KindTheme, Title: "x"}, ErrPermissionDenied)
	h.refuse("UA", UpdateEntry{Entry: "entry-000404", Kind: KindTheme, Title: "x"}, ErrNotFound)
	h.refuse("UA", UpdateEntry{Entry: "", Kind: KindTheme, Title: "x"}, ErrInvalidArgument)
	h.refuse("UA", UpdateEntry{Entry: fed, ExpectedVersion: 2, Kind: KindTheme, Title: "x"}, ErrFailedPrecondition)
	h.refuse("UA", UpdateEntry{Entry: fed, Kind: KindTheme, Title: ""}, ErrInvalidArgument)

	// An owner that left the team can no longer see or change its entries
	// there.
	h.ok("PL", LeaveJIT{JIT: jit})
	h.refuse("PL", UpdateEntry{Entry: scoped, Kind: KindTheme, Title: "x"}, ErrNotFound)

	// A retired key version no longer makes new references.
	h.ok("UA", RotateKey{Name: "person-encoding", Material: []byte(strings.Repeat("b", 32))})
	h.ok("UA", RotateKey{Name: "person-encoding", Material: []byte(strings.Repeat("c", 32))})
	h.refuse("UA", CreateEntry{Kind: KindTarget, Title: "x", Targets: []TargetRef{{Type: TargetPerson, Ref: personRef(7), Key: "person-encoding", KeyVersion: 1}}}, ErrFailedPrecondition)
	h.ok("UA", CreateEntry{Kind: KindTarget, Title: "x", Targets: []TargetRef{{Type: TargetPerson, Ref: personRef(7), Key: "person-encoding", KeyVersion: 2}}})
}

func TestStrategyVisibility(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL", "LT", "DE")
	h.ok("UA", ProposeMember{Code: "FR", Name: "France", CACerts: []string{validCA(t, "FR")}})
	fedUA := h.ok("UA", CreateEntry{Kind: KindTheme, Title: "Attacks on energy infrastructure"}).ID
	fedPL := h.ok("PL", CreateEntry{Kind: KindPriority, Title: "Torture in detention"}).ID
	jit := h.teamOf("UA", "PL")
	h.agree("UA", InviteToJIT{JIT: jit, Member: "LT"}, "PL")
	inJIT := h.ok("PL", CreateEntry{Kind: KindPriority, Title: "Bucha", JIT: jit}).ID
	other := h.teamOf("DE")
	inOther := h.ok("DE", CreateEntry{Kind: KindTheme, Title: "DE only", JIT: other}).ID

	eq := func(got []string, want ...string) bool { return strings.Join(got, ",") == strings.Join(want, ",") }
	if got := entryIDs(t, h, "UA", StrategyFilter{}); !eq(got, fedUA, fedPL, inJIT) {
		t.Errorf("UA sees %v", got)
	}
	if got := entryIDs(t, h, "LT", StrategyFilter{}); !eq(got, fedUA, fedPL) {
		t.Errorf("LT (invited) sees %v", got)
	}
	if got := entryIDs(t, h, "DE", StrategyFilter{}); !eq(got, fedUA, fedPL, inOther) {
		t.Errorf("DE sees %v", got)
	}
	if got := entryIDs(t, h, "UA", StrategyFilter{JIT: jit}); !eq(got, inJIT) {
		t.Errorf("UA in team sees %v", got)
	}
	if got := entryIDs(t, h, "UA", StrategyFilter{FederationWide: true}); !eq(got, fedUA, fedPL) {
		t.Errorf("UA federation-wide sees %v", got)
	}
	if got := entryIDs(t, h, "UA", StrategyFilter{Owner: "PL"}); !eq(got, fedPL, inJIT) {
		t.Errorf("UA PL's sees %v", got)
	}
	if got := entryIDs(t, h, "UA", StrategyFilter{Kind: KindTheme}); !eq(got, fedUA) {
		t.Errorf("UA themes %v", got)
	}
	if got := entryIDs(t, h, "UA", StrategyFilter{JIT: other}); !eq(got) {
		t.Errorf("UA sees another team's entries: %v", got)
	}
	h.read(func(v View) {
		if _, err := v.ListStrategy("UA", StrategyFilter{JIT: jit, FederationWide: true}); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("contradictory filter: %v", err)
		}
		if _, err := v.ListStrategy("FR", StrategyFilter{}); !errors.Is(err, ErrPermissionDenied) {
			t.Errorf("proposed member lists: %v", err)
		}
		if _, err := v.GetEntry(inJIT, "LT"); !errors.Is(err, ErrNotFound) {
			t.Errorf("invited member reads a team entry: %v", err)
		}
		if _, err := v.History(inJIT, "DE"); !errors.Is(err, ErrNotFound) {
			t.Errorf("outsider reads a team entry's history: %v", err)
		}
		if e, err := v.GetEntry(inJIT, "UA"); err != nil || e.Current.Title != "Bucha" || e.JIT != jit || e.Owner != "PL" {
			t.Errorf("member reads a team entry: %+v %v", e, err)
		}
		if _, err := v.GetEntry("entry-000404", "UA"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown entry: %v", err)
		}
	})
	// Accepting makes the team's entries visible; leaving hides them.
	h.ok("LT", RespondToJIT{JIT: jit, Accept: true})
	if got := entryIDs(t, h, "LT", StrategyFilter{}); !eq(got, fedUA, fedPL, inJIT) {
		t.Errorf("LT after accepting sees %v", got)
	}
	h.ok("LT", LeaveJIT{JIT: jit})
	if got := entryIDs(t, h, "LT", StrategyFilter{}); !eq(got, fedUA, fedPL) {
		t.Errorf("LT after leaving sees %v", got)
	}
}
