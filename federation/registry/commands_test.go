package registry

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// sameState compares two snapshots but for their log chains: the logs
// differ (the entries' encodings and signatures), the states must not.
func sameState(t *testing.T, what string, got, want []byte) {
	t.Helper()
	re := regexp.MustCompile(`"log_chain":"[0-9a-f]*"`)
	sameSnapshot(t, what, re.ReplaceAll(got, nil), re.ReplaceAll(want, nil))
}

func always(v int) func(uint64) int { return func(uint64) int { return v } }

// TestVersion3SameState: the scenario of the legacy fixtures (every
// command type, refusals, retries) written in version 3 reaches the very
// snapshot bytes it reaches in version 2, and so does a log that switches
// from version 2 to version 3 half-way (a federation upgraded meanwhile).
func TestVersion3SameState(t *testing.T) {
	r, _, _, final := legacyHistory(t, LegacyCommandVersion)
	sameState(t, "version 2 replayed", replaySteps(t, r.steps, always(LegacyCommandVersion)), final)
	sameState(t, "version 3", replaySteps(t, r.steps, always(CommandVersion)), final)
	for _, at := range []uint64{10, 32, 60} {
		mixed := replaySteps(t, r.steps, func(i uint64) int {
			if i > at {
				return CommandVersion
			}
			return LegacyCommandVersion
		})
		sameState(t, "version 2, then 3", mixed, final)
	}
	// And the other way round, entry by entry: any mix applies alike.
	sameState(t, "alternating", replaySteps(t, r.steps, func(i uint64) int { return LegacyCommandVersion + int(i%2) }), final)
}

// TestVersion3AfterLegacyLog: a state machine restored from the previous
// build's snapshot, or replaying its log, goes on with version 3 entries.
func TestVersion3AfterLegacyLog(t *testing.T) {
	entries, man, _, _ := readLegacy(t)
	f := NewFSM()
	replay(t, f, entries)
	// The fixture's nodes' keys are gone with the build that wrote them:
	// an unsigned no-op (which needs none) applies, and a signed command
	// of a node of this process is refused as a stranger's, in version 3
	// as in version 2.
	noop, err := (&Command{Version: CommandVersion, Type: CmdNoop}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if res := f.Apply(rlog(man.FinalIndex+1, noop)).(Result); res.Err != nil {
		t.Fatal(res.Err)
	}
	for i, v := range []int{LegacyCommandVersion, CommandVersion} {
		c, _ := NewCommand("after-upgrade", CreateEntry{Kind: KindTheme, Title: "After the upgrade"})
		c.Version, c.Member, c.Time = v, "UA", testTime()
		c.Actor = Actor{Node: nodeURI("UA")}
		if err := c.Sign(nodeCert(t, nodeURI("UA")), man.FinalIndex, c.Time); err != nil {
			t.Fatal(err)
		}
		data, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		res := f.Apply(rlog(man.FinalIndex+2+uint64(i), data)).(Result)
		if !errors.Is(res.Err, ErrPermissionDenied) || !strings.Contains(res.Err.Error(), "signer_cert") {
			t.Fatalf("version %d: %v, want a refused certificate", v, res.Err)
		}
	}
}

// TestRetryAcrossVersions: a request applied as version 2 and retried as
// version 3 (the group finished its upgrade between the two attempts), or
// the other way round, is answered from the exactly-once table.
func TestRetryAcrossVersions(t *testing.T) {
	for _, first := range []int{LegacyCommandVersion, CommandVersion} {
		h := bootstrapped(t, Policy{}, "UA", "PL")
		c := h.command("UA", ProposeMatch{Cases: []CaseRef{cref("UA", "1"), cref("PL", "1")}, Score: 0.75,
			Reasons: []string{"same day"}, Versions: map[string]int64{"UA/UA-1": 2, "PL/PL-1": 1}})
		c.Version = first
		r1 := h.applyCommand(c)
		if r1.Err != nil {
			t.Fatal(r1.Err)
		}
		before := h.dump(true)
		retry := *c
		retry.Version = LegacyCommandVersion + CommandVersion - first
		retry.Time, retry.Signature = h.now, nil
		if r2 := h.applyCommand(&retry); r2.Err != nil || r2.Value != r1.Value {
			t.Fatalf("first in version %d: retry answered %+v, first %+v", first, r2, r1)
		}
		if after := h.dump(true); after != before {
			t.Fatalf("first in version %d: the retry changed the state:\n%s", first, firstDiff(before, after))
		}
		// The same request id with another payload is still refused.
		other := *c
		other.Version, other.Time, other.Signature = retry.Version, h.now, nil
		other.Payload = ProposeMatch{Cases: []CaseRef{cref("UA", "1"), cref("PL", "1")}, Score: 0.5}
		h.refuseCommand(&other, ErrInvalidArgument, true)
	}
}

// TestDecodeVersion3Strictly: the typed envelope is decoded strictly, and
// its errors name the field.
func TestDecodeVersion3Strictly(t *testing.T) {
	base := func() *accordv1.RegistryCommand {
		return &accordv1.RegistryCommand{Version: CommandVersion, RequestId: "r-1", Member: "UA", ActorNode: nodeURI("UA"),
			Command: &accordv1.RegistryCommand_CreateEntry{CreateEntry: &accordv1.CreateEntryCommand{
				Kind: accordv1.CommandEntryKind_COMMAND_ENTRY_KIND_TARGET, Title: "t",
				Targets: []*accordv1.CommandTarget{{Type: accordv1.CommandTargetType_COMMAND_TARGET_TYPE_UNIT, Ref: "Unit 1"}}}}}
	}
	enc := func(m *accordv1.RegistryCommand) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	c, err := DecodeCommand(enc(base()))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := c.Payload.(*CreateEntry); !ok || c.Type != CmdCreateEntry || p.Kind != KindTarget || p.Targets[0].Type != TargetUnit {
		t.Fatalf("decoded %s %#v", c.Type, c.Payload)
	}
	for _, tc := range []struct {
		name, want string
		data       func() []byte
	}{
		{"type beside the typed command", "type:", func() []byte { m := base(); m.Type = "jit.create"; return enc(m) }},
		{"JSON beside the typed command", "payload:", func() []byte { m := base(); m.Payload = []byte(`{}`); return enc(m) }},
		{"no command", "command: required", func() []byte { m := base(); m.Command = nil; return enc(m) }},
		{"typed command in version 2", "command.create_entry:", func() []byte { m := base(); m.Version = LegacyCommandVersion; return enc(m) }},
		{"unknown enum value", "payload.create_entry.kind: unknown enum value 9", func() []byte {
			m := base()
			m.GetCreateEntry().Kind = 9
			return enc(m)
		}},
		{"unknown enum value in a list", "payload.create_entry.targets[0].type: unknown enum value 7", func() []byte {
			m := base()
			m.GetCreateEntry().Targets[0].Type = 7
			return enc(m)
		}},
		{"unknown field in the typed command", "command.create_entry.targets[0]: unknown fields", func() []byte {
			m := base()
			tg := m.GetCreateEntry().Targets[0]
			tg.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 99, protowire.VarintType), 1))
			return enc(m)
		}},
		{"unknown field in the envelope", "command: unknown fields", func() []byte {
			return protowire.AppendVarint(protowire.AppendTag(enc(base()), 999, protowire.VarintType), 1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeCommand(tc.data())
			if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want InvalidArgument naming %q", err, tc.want)
			}
		})
	}
	// What the typed form cannot carry is refused by Encode, naming the field.
	for _, p := range []Payload{
		CreateEntry{Kind: "wish", Title: "x"},
		UpdateEntry{Entry: "entry-000001", ExpectedVersion: 1 << 40, Kind: KindTheme, Title: "x"},
		CreateJIT{Name: "x", LegalBasis: "y", Policy: "majority"},
		CreateEntry{Kind: KindTarget, Title: "x", Targets: []TargetRef{{Type: "ship", Ref: "x"}}},
	} {
		c, _ := NewCommand("r", p)
		if _, err := c.Encode(); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "payload.") {
			t.Errorf("%T: Encode: %v, want InvalidArgument naming the field", p, err)
		}
	}
}

// TestCommandTable: every command type has its entry, its message in the
// envelope and, for the local API, the sender the registry's policy gives.
func TestCommandTable(t *testing.T) {
	want := map[CommandType]Sender{
		CmdNoop: SenderNode, CmdBootstrap: SenderNode, CmdWrapJITKey: SenderNode, CmdRotateJITKey: SenderNode,
		CmdCreateJIT: SenderAnalyst, CmdInviteToJIT: SenderAnalyst, CmdRespondToJIT: SenderAnalyst,
		CmdLeaveJIT: SenderAnalyst, CmdLinkCase: SenderAnalyst, CmdUnlinkCase: SenderAnalyst,
		CmdSetJITLead: SenderAnalyst, CmdCloseJIT: SenderAnalyst, CmdConsentJIT: SenderAnalyst,
		CmdProposeLead: SenderAnalyst, CmdConsentLead: SenderAnalyst,
		CmdCreateEntry: SenderAnalyst, CmdUpdateEntry: SenderAnalyst, CmdDeleteEntry: SenderAnalyst,
		CmdProposeMatch: SenderAnalyst, CmdDecideMatch: SenderAnalyst,
		CmdProposeMember: SenderAdmin, CmdVoteAdmission: SenderAdmin, CmdSuspendMember: SenderAdmin,
		CmdUpdateMember: SenderAdmin, CmdRegisterNode: SenderAdmin, CmdRemoveNode: SenderAdmin,
		CmdCreateKey: SenderAdmin, CmdRotateKey: SenderAdmin, CmdDestroyKey: SenderAdmin,
	}
	if got := CommandTypes(); len(got) != len(want) {
		t.Fatalf("%d command types, want %d: %v", len(got), len(want), got)
	}
	for typ, sender := range want {
		if got, ok := SenderOf(typ); !ok || got != sender {
			t.Errorf("%s: sender %v %v, want %v", typ, got, ok, sender)
		}
		spec := commands.byType[typ]
		if spec == nil || (spec.apply == nil) != (typ == CmdNoop) {
			t.Errorf("%s: no handler", typ)
		}
	}
	if _, ok := SenderOf("jit.explode"); ok {
		t.Error("an unknown type has a sender")
	}
}

func rlog(index uint64, data []byte) *raft.Log {
	return &raft.Log{Index: index, Term: 3, Type: raft.LogCommand, Data: data}
}

// testTime is a leader's time after the fixtures' history.
func testTime() time.Time { return time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC) }
