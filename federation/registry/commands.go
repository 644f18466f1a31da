package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// The command table.
//
// commandTable holds, for every command type, everything the registry
// knows about it: its payload type (the Go value, the internal model), how
// that converts to and from its protobuf message (the log's format from
// command version 3; commandproto.go), how its version 2 JSON decodes
// (strictly), the handler that applies it to the state, and who may send
// it through a node's local API. The state machine's dispatch
// (state.apply), the envelope's decoding (DecodeCommand), the known types
// and the local API's access check (SenderOf) are all derived from it:
// adding a command is one entry here, its payload type, its handler and
// its message in registry_command.proto (with a field in RegistryCommand's
// oneof).

// Sender says who may send a command type through a node's local API
// (node/coordination).
type Sender int

const (
	// SenderNode means only the node itself sends it (the bootstrap, the
	// leader's no-op, team key wraps and rotations); a user may not.
	SenderNode Sender = iota
	// SenderAnalyst means any user of the node's member.
	SenderAnalyst
	// SenderAdmin means a user of the node's member with the admin role.
	SenderAdmin
)

// String names the sender as the local API's errors do.
func (s Sender) String() string {
	switch s {
	case SenderAnalyst:
		return "analyst"
	case SenderAdmin:
		return "admin"
	}
	return "node"
}

// commandSpec is one command type's entry of the table.
type commandSpec struct {
	typ    CommandType
	sender Sender
	// founding: the command applies to a registry not yet bootstrapped,
	// by an actor not yet admitted (the bootstrap).
	founding bool
	// fromJSON decodes a version 2 payload strictly.
	fromJSON func(raw []byte) (Payload, error)
	// message is the type's message in the envelope's oneof.
	message protoreflect.MessageDescriptor
	// toProto and fromProto convert the payload (a value or a pointer of
	// the payload type) to its message and back.
	toProto   func(Payload) (proto.Message, error)
	fromProto func(proto.Message) (Payload, error)
	// apply runs the handler with the command's payload. Nil for the
	// no-op, which the state machine answers before any check.
	apply func(s *state, ch Change, p Payload) (Outcome, error)
}

// command returns the table entry of a payload type P, whose message is M.
func command[P any, M proto.Message](typ CommandType, sender Sender,
	handle func(*state, Change, *P) (Outcome, error),
	to func(*P) (M, error), from func(M) (*P, error),
) commandSpec {
	var m M
	spec := commandSpec{
		typ: typ, sender: sender, message: m.ProtoReflect().Descriptor(),
		fromJSON: func(raw []byte) (Payload, error) {
			p := new(P)
			if err := strictUnmarshal(raw, p); err != nil {
				return nil, err
			}
			return any(p).(Payload), nil
		},
		toProto: func(p Payload) (proto.Message, error) {
			v, ok := payloadOf[P](p)
			if !ok {
				return nil, invalid("payload: a %T is not the payload of %s", p, typ)
			}
			return to(v)
		},
		fromProto: func(m proto.Message) (Payload, error) {
			p, err := from(m.(M))
			if err != nil {
				return nil, err
			}
			return any(p).(Payload), nil
		},
	}
	if handle != nil {
		spec.apply = func(s *state, ch Change, p Payload) (Outcome, error) {
			v, ok := payloadOf[P](p)
			if !ok {
				return Outcome{}, invalid("payload: is required")
			}
			return handle(s, ch, v)
		}
	}
	return spec
}

// payloadOf returns p as a *P, whether it holds a P or a *P.
func payloadOf[P any](p Payload) (*P, bool) {
	switch v := any(p).(type) {
	case *P:
		return v, v != nil
	case P:
		return &v, true
	}
	return nil, false
}

var commandTable = []commandSpec{
	command(CmdNoop, SenderNode, nil, noopToProto, noopFromProto),
	withFounding(command(CmdBootstrap, SenderNode, (*state).bootstrap, bootstrapToProto, bootstrapFromProto)),

	command(CmdProposeMember, SenderAdmin, (*state).proposeMember, proposeMemberToProto, proposeMemberFromProto),
	command(CmdVoteAdmission, SenderAdmin, (*state).voteAdmission, voteAdmissionToProto, voteAdmissionFromProto),
	command(CmdSuspendMember, SenderAdmin, (*state).suspendMember, suspendMemberToProto, suspendMemberFromProto),
	command(CmdUpdateMember, SenderAdmin, (*state).updateMember, updateMemberToProto, updateMemberFromProto),
	command(CmdRegisterNode, SenderAdmin, (*state).registerNode, registerNodeToProto, registerNodeFromProto),
	command(CmdRemoveNode, SenderAdmin, (*state).removeNode, removeNodeToProto, removeNodeFromProto),

	command(CmdCreateJIT, SenderAnalyst, (*state).createJIT, createJITToProto, createJITFromProto),
	command(CmdInviteToJIT, SenderAnalyst, (*state).inviteToJIT, inviteToJITToProto, inviteToJITFromProto),
	command(CmdRespondToJIT, SenderAnalyst, (*state).respondToJIT, respondToJITToProto, respondToJITFromProto),
	command(CmdLeaveJIT, SenderAnalyst, (*state).leaveJIT, leaveJITToProto, leaveJITFromProto),
	command(CmdLinkCase, SenderAnalyst, (*state).linkCase, linkCaseToProto, linkCaseFromProto),
	command(CmdUnlinkCase, SenderAnalyst, (*state).unlinkCase, unlinkCaseToProto, unlinkCaseFromProto),
	command(CmdSetJITLead, SenderAnalyst, (*state).setJITLead, setJITLeadToProto, setJITLeadFromProto),
	command(CmdCloseJIT, SenderAnalyst, (*state).closeJIT, closeJITToProto, closeJITFromProto),
	command(CmdConsentJIT, SenderAnalyst, (*state).consentJIT, consentJITToProto, consentJITFromProto),
	command(CmdWrapJITKey, SenderNode, (*state).wrapJITKey, wrapJITKeyToProto, wrapJITKeyFromProto),
	command(CmdRotateJITKey, SenderNode, (*state).rotateJITKey, rotateJITKeyToProto, rotateJITKeyFromProto),

	command(CmdProposeLead, SenderAnalyst, (*state).proposeLead, proposeLeadToProto, proposeLeadFromProto),
	command(CmdConsentLead, SenderAnalyst, (*state).consentLead, consentLeadToProto, consentLeadFromProto),

	command(CmdCreateEntry, SenderAnalyst, (*state).createEntry, createEntryToProto, createEntryFromProto),
	command(CmdUpdateEntry, SenderAnalyst, (*state).updateEntry, updateEntryToProto, updateEntryFromProto),
	command(CmdDeleteEntry, SenderAnalyst, (*state).deleteEntry, deleteEntryToProto, deleteEntryFromProto),

	command(CmdProposeMatch, SenderAnalyst, (*state).proposeMatch, proposeMatchToProto, proposeMatchFromProto),
	command(CmdDecideMatch, SenderAnalyst, (*state).decideMatch, decideMatchToProto, decideMatchFromProto),

	command(CmdCreateKey, SenderAdmin, (*state).createKey, createKeyToProto, createKeyFromProto),
	command(CmdRotateKey, SenderAdmin, (*state).rotateKey, rotateKeyToProto, rotateKeyFromProto),
	command(CmdDestroyKey, SenderAdmin, (*state).destroyKey, destroyKeyToProto, destroyKeyFromProto),
}

func withFounding(s commandSpec) commandSpec {
	s.founding = true
	return s
}

// commandIndex is the table's indexes, built once and never changed.
type commandIndex struct {
	byType  map[CommandType]*commandSpec
	byField map[protoreflect.FieldNumber]*commandSpec
	// field is each type's field of RegistryCommand's oneof.
	field map[CommandType]protoreflect.FieldDescriptor
}

var commands = indexCommands(commandTable)

// indexCommands indexes the table and checks it against the envelope's
// oneof: every command has its field, and every field its command.
func indexCommands(table []commandSpec) commandIndex {
	ix := commandIndex{
		byType:  make(map[CommandType]*commandSpec, len(table)),
		byField: make(map[protoreflect.FieldNumber]*commandSpec, len(table)),
		field:   make(map[CommandType]protoreflect.FieldDescriptor, len(table)),
	}
	od := (&accordv1.RegistryCommand{}).ProtoReflect().Descriptor().Oneofs().ByName("command")
	byMessage := map[protoreflect.FullName]protoreflect.FieldDescriptor{}
	for i := 0; i < od.Fields().Len(); i++ {
		fd := od.Fields().Get(i)
		byMessage[fd.Message().FullName()] = fd
	}
	for i := range table {
		s := &table[i]
		fd, ok := byMessage[s.message.FullName()]
		if !ok {
			panic(fmt.Sprintf("registry: command %s: its message %s is not in RegistryCommand's oneof", s.typ, s.message.FullName()))
		}
		if _, dup := ix.byType[s.typ]; dup {
			panic(fmt.Sprintf("registry: command %s is twice in the table", s.typ))
		}
		ix.byType[s.typ] = s
		ix.byField[fd.Number()] = s
		ix.field[s.typ] = fd
	}
	if len(ix.byField) != od.Fields().Len() {
		panic("registry: RegistryCommand's oneof has a message no command of the table uses")
	}
	return ix
}

// SenderOf says who may send a command type through a node's local API;
// false for a type the registry does not know.
func SenderOf(t CommandType) (Sender, bool) {
	s, ok := commands.byType[t]
	if !ok {
		return SenderNode, false
	}
	return s.sender, true
}

// CommandTypes returns every command type the registry applies, sorted.
func CommandTypes() []CommandType {
	ts := make([]CommandType, 0, len(commandTable))
	for _, s := range commandTable {
		ts = append(ts, s.typ)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	return ts
}

// knownType reports whether t is a command type this version applies.
func knownType(t CommandType) bool {
	_, ok := commands.byType[t]
	return ok
}

// onlyLegacyFields refuses, in a version 2 payload, a field that only
// version 3 knows (legacyPayload leaves it out): the previous build decodes
// version 2 strictly and refuses it, with this very error, and a replica of
// this build that applied it would hold another state than a replica of
// the previous build. No honest node writes one: a version 2 entry is
// always written without them.
func onlyLegacyFields(raw []byte, p Payload) error {
	l, ok := p.(interface{ legacyPayload() Payload })
	if !ok {
		return nil
	}
	legacy := l.legacyPayload()
	if reflect.DeepEqual(legacy, reflect.ValueOf(p).Elem().Interface()) {
		return nil
	}
	full, err1 := json.Marshal(p)
	old, err2 := json.Marshal(legacy)
	var fullKeys, oldKeys map[string]json.RawMessage
	if err1 != nil || err2 != nil || json.Unmarshal(full, &fullKeys) != nil || json.Unmarshal(old, &oldKeys) != nil {
		return errors.New("json: a field the previous command version does not know")
	}
	// The first such field in the document, as encoding/json reports it.
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err == nil {
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				break
			}
			key, _ := tok.(string)
			if _, known := oldKeys[key]; !known {
				if _, isNew := fullKeys[key]; isNew {
					return fmt.Errorf("json: unknown field %q", key)
				}
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				break
			}
		}
	}
	return errors.New("json: a field the previous command version does not know")
}
