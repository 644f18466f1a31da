package registry

import (
	"errors"
	"strings"
	"testing"
)

// TestWritesHideWhatCallerCannotSee: a write naming a record the caller may
// not see (a team it is not in or invited to, a proposal or entry of a team
// it has not accepted, a lead assignment or match decision it is not
// involved in) is refused exactly as a write naming a record that does not
// exist, with the same message a read gives, and changes nothing. A record
// the caller sees but may not change may still answer PermissionDenied.
func TestWritesHideWhatCallerCannotSee(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL", "DE", "LT", "FR", "ES", "IT") // IT: never in the team
	team := h.teamOf("UA", "PL", "ES", "FR")
	h.ok("ES", LeaveJIT{JIT: team})                                 // ES left
	h.agree("UA", InviteToJIT{JIT: team, Member: "LT"}, "PL", "FR") // LT invited
	h.agree("UA", InviteToJIT{JIT: team, Member: "DE"}, "PL", "FR") // DE invited ...
	h.ok("DE", RespondToJIT{JIT: team, Accept: false})              // ... and declined
	h.ok("FR", LeaveJIT{JIT: team})                                 // FR left too
	h.ok("UA", LinkCase{JIT: team, Case: cref("UA", "1")})
	proposal := h.ok("PL", CloseJIT{JIT: team}).ID
	entry := h.ok("PL", CreateEntry{Kind: KindTheme, Title: "Bucha", JIT: team}).ID
	fedEntry := h.ok("UA", CreateEntry{Kind: KindTheme, Title: "Energy"}).ID
	cases := []CaseRef{cref("UA", "1"), cref("PL", "1")}
	match := h.ok("UA", ProposeMatch{Cases: cases, Score: 0.9}).ID
	h.ok("PL", DecideMatch{Match: match, Confirm: true})
	h.ok("UA", DecideMatch{Match: match, Confirm: true})
	lead := h.ok("UA", ProposeLead{Cases: cases, Lead: "UA"}).ID

	const missingJIT, missingEntry, missingLead, missingMatch = "jit-000404", "entry-000404", "lead-000404", "match-000404"
	type row struct {
		name string
		// write builds the command against a record id.
		write func(id string) Payload
		real  string
		gone  string
		// read reads the record as viewer (nil when no read names it).
		read func(v View, id, viewer string) error
		// want is the refusal per viewer: "" skips a viewer for whom the
		// command is legitimate.
		want map[string]error
	}
	readJIT := func(v View, id, viewer string) error { _, err := v.GetJIT(id, viewer); return err }
	readEntry := func(v View, id, viewer string) error { _, err := v.GetEntry(id, viewer); return err }
	readLead := func(v View, id, viewer string) error { _, err := v.GetLeadAssignment(id, viewer); return err }
	readMatch := func(v View, id, viewer string) error { _, err := v.GetMatchDecision(id, viewer); return err }
	hidden := func(except map[string]error) map[string]error {
		w := map[string]error{"IT": ErrNotFound, "DE": ErrNotFound, "FR": ErrNotFound, "ES": ErrNotFound, "LT": ErrNotFound}
		for k, v := range except {
			w[k] = v
		}
		return w
	}
	rows := []row{
		{"jit.invite", func(id string) Payload { return InviteToJIT{JIT: id, Member: "UA"} }, team, missingJIT, readJIT,
			hidden(map[string]error{"LT": ErrPermissionDenied})},
		{"jit.respond", func(id string) Payload { return RespondToJIT{JIT: id, Accept: true} }, team, missingJIT, readJIT,
			hidden(map[string]error{"LT": nil})},
		{"jit.leave", func(id string) Payload { return LeaveJIT{JIT: id} }, team, missingJIT, readJIT,
			hidden(map[string]error{"LT": ErrFailedPrecondition})},
		{"jit.link_case", func(id string) Payload { return LinkCase{JIT: id, Case: cref("DE", "1")} }, team, missingJIT, readJIT,
			hidden(map[string]error{"LT": nil})},
		{"jit.unlink_case", func(id string) Payload { return UnlinkCase{JIT: id, Case: cref("FR", "1")} }, team, missingJIT, readJIT,
			hidden(map[string]error{"LT": nil})},
		{"jit.set_lead", func(id string) Payload { return SetJITLead{JIT: id, Lead: "PL"} }, team, missingJIT, readJIT,
			hidden(map[string]error{"LT": ErrPermissionDenied})},
		{"jit.close", func(id string) Payload { return CloseJIT{JIT: id} }, team, missingJIT, readJIT,
			hidden(map[string]error{"LT": ErrPermissionDenied})},
		{"jit.consent", func(id string) Payload { return ConsentJIT{Proposal: id, Consent: true} }, proposal, missingJIT + "/1", nil,
			hidden(nil)},
		{"strategy.create", func(id string) Payload { return CreateEntry{Kind: KindTheme, Title: "x", JIT: id} }, team, missingJIT, readJIT,
			hidden(map[string]error{"LT": ErrPermissionDenied})},
		{"strategy.update", func(id string) Payload { return UpdateEntry{Entry: id, Kind: KindTheme, Title: "x"} }, entry, missingEntry, readEntry,
			hidden(nil)},
		{"strategy.delete", func(id string) Payload { return DeleteEntry{Entry: id} }, entry, missingEntry, readEntry,
			hidden(nil)},
		{"lead.consent", func(id string) Payload { return ConsentLead{Assignment: id, Consent: true} }, lead, missingLead, readLead,
			hidden(nil)},
		{"lead.propose", func(id string) Payload { return ProposeLead{Match: id, Lead: "UA"} }, match, missingMatch, readMatch,
			hidden(nil)},
		{"match.decide", func(id string) Payload { return DecideMatch{Match: id, Confirm: true} }, match, missingMatch, readMatch,
			hidden(nil)},
	}
	for _, r := range rows {
		for _, viewer := range []string{"IT", "DE", "FR", "ES", "LT"} {
			want := r.want[viewer]
			if want == nil {
				continue
			}
			before := h.dump(false)
			got := h.do(viewer, r.write(r.real)).Err
			if after := h.dump(false); after != before {
				t.Fatalf("%s as %s changed the state:\n%s", r.name, viewer, firstDiff(before, after))
			}
			if !errors.Is(got, want) {
				t.Errorf("%s as %s: %v, want %v", r.name, viewer, got, want)
				continue
			}
			if !errors.Is(want, ErrNotFound) {
				continue
			}
			// Hidden: the same answer as for a record that does not exist,
			// and as a read of it.
			gone := h.do(viewer, r.write(r.gone)).Err
			if !errors.Is(gone, ErrNotFound) || got.Error() != strings.ReplaceAll(gone.Error(), r.gone, r.real) {
				t.Errorf("%s as %s: %q, but for a missing record %q", r.name, viewer, got, gone)
			}
			if r.read != nil {
				var rerr error
				h.read(func(v View) { rerr = r.read(v, r.real, viewer) })
				if rerr == nil || rerr.Error() != got.Error() {
					t.Errorf("%s as %s: write says %q, read says %v", r.name, viewer, got, rerr)
				}
			}
		}
	}

	// What the caller sees but may not change is still PermissionDenied.
	h.refuse("UA", UpdateEntry{Entry: entry, Kind: KindTheme, Title: "x"}, ErrPermissionDenied)
	h.refuse("PL", UpdateEntry{Entry: fedEntry, Kind: KindTheme, Title: "x"}, ErrPermissionDenied)
	h.refuse("IT", DeleteEntry{Entry: fedEntry}, ErrPermissionDenied)
	h.refuse("PL", UnlinkCase{JIT: team, Case: cref("UA", "1")}, ErrPermissionDenied)
}
