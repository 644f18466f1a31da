package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// CommandVersion is the version of the command envelope this package
// writes by default: version 3 carries the payload as a typed protobuf
// message (registry_command.proto). The state machine also applies
// version 2 (LegacyCommandVersion), whose payload is JSON: the log and
// snapshots of the previous build replay to the same state, and a node
// writes version 2 until every registry server applies version 3
// (registryraft; docs/operations.md).
//
// Version 2 and 3 commands are signed by the acting node (signature.go);
// the unsigned version 1 is no longer applied.
const CommandVersion = 3

// LegacyCommandVersion is the previous build's command version: the
// payload is the command's JSON.
const LegacyCommandVersion = 2

// CommandType names an operation on the registry.
type CommandType string

// The command types, one per payload type.
const (
	// CmdNoop changes nothing and needs no actor; the Raft wiring proposes it
	// so that the FSM's applied index passes Raft's own no-op entries (see
	// FSM.WaitApplied).
	CmdNoop CommandType = "noop"

	CmdBootstrap     CommandType = "federation.bootstrap"
	CmdProposeMember CommandType = "member.propose"
	CmdVoteAdmission CommandType = "member.vote_admission"
	CmdSuspendMember CommandType = "member.suspend"
	CmdUpdateMember  CommandType = "member.update"
	CmdRegisterNode  CommandType = "node.register"
	CmdRemoveNode    CommandType = "node.remove"
	CmdCreateJIT     CommandType = "jit.create"
	CmdInviteToJIT   CommandType = "jit.invite"
	CmdRespondToJIT  CommandType = "jit.respond"
	CmdLeaveJIT      CommandType = "jit.leave"
	CmdLinkCase      CommandType = "jit.link_case"
	CmdUnlinkCase    CommandType = "jit.unlink_case"
	CmdSetJITLead    CommandType = "jit.set_lead"
	CmdCloseJIT      CommandType = "jit.close"
	CmdConsentJIT    CommandType = "jit.consent"
	CmdWrapJITKey    CommandType = "jit.wrap_key"
	CmdRotateJITKey  CommandType = "jit.rotate_key"
	CmdProposeLead   CommandType = "lead.propose"
	CmdConsentLead   CommandType = "lead.consent"
	CmdCreateEntry   CommandType = "strategy.create"
	CmdUpdateEntry   CommandType = "strategy.update"
	CmdDeleteEntry   CommandType = "strategy.delete"
	CmdProposeMatch  CommandType = "match.propose"
	CmdDecideMatch   CommandType = "match.decide"
	CmdCreateKey     CommandType = "key.create"
	CmdRotateKey     CommandType = "key.rotate"
	CmdDestroyKey    CommandType = "key.destroy"
)

// Actor is who sent a command: the certificate identity of the node
// (spiffe://<federation>/member/<MEMBER>/node/<name>) and, where a person
// acted through it, the user's certificate identity
// (spiffe://<federation>/member/<MEMBER>/user/<name>). The server fills it in
// from the verified connection, never from the request.
type Actor struct {
	Node string `json:"node"`
	User string `json:"user,omitempty"`
}

// Command is the envelope of every entry of the registry's Raft log.
type Command struct {
	// Version is CommandVersion, or LegacyCommandVersion.
	Version int         `json:"version"`
	Type    CommandType `json:"type"`
	// RequestID is the client's id for the request, the same on every retry.
	// A command whose (Member, RequestID) was applied before is answered with
	// the first result and not applied again.
	RequestID string `json:"request_id"`
	Actor     Actor  `json:"actor"`
	// Member is the acting member, taken by the server from the caller's
	// certificate. It must be the member of Actor.Node.
	Member string `json:"member"`
	// Time is set by the leader before proposing; the state machine never
	// reads a clock.
	Time time.Time `json:"time"`
	// Payload is the command's payload: a value (or a pointer to one) of
	// the type's payload type, e.g. CreateJIT for CmdCreateJIT. It is what
	// the state machine applies, in either version. DecodeCommand sets it,
	// once, from the envelope's typed message (version 3) or from the JSON
	// (version 2; nil when that JSON does not decode: the command is then
	// refused as it applies, as the previous build refused it).
	Payload Payload `json:"-"`
	// PayloadJSON is, for a version 2 command, its payload's JSON as the
	// log entry carries it: the bytes its signature and the exactly-once
	// digest cover. Encode writes it when set, else the JSON of Payload.
	// Unused in version 3.
	PayloadJSON json.RawMessage `json:"payload,omitempty"`

	// SignerCert, SignedAt, SeenIndex and Signature are the acting node's
	// signature over the command (Sign; verified by every replica as it
	// applies the command, see signature.go).
	SignerCert []byte    `json:"-"`
	SignedAt   time.Time `json:"-"`
	SeenIndex  uint64    `json:"-"`
	Signature  []byte    `json:"-"`
	// Batch is set when the node signed the command as one of a batch
	// (SignBatch): Signature then covers the batch's root, and Batch is
	// this command's audit path to it (batchsig.go).
	Batch *BatchPath `json:"-"`

	// signedPayload is, for a decoded command, the payload's bytes as
	// signed (payloadBytes), computed once by DecodeCommand.
	signedPayload []byte
	// payloadErr is why a version 2 payload did not decode: the refusal
	// the state machine answers when the command applies.
	payloadErr error
}

// Payload is implemented by every payload type.
type Payload interface {
	// CommandType returns the type of the commands that carry the payload.
	CommandType() CommandType
}

// NewCommand returns a command of the current version carrying p. The
// node sets Actor and Member and signs it; the leader sets Time.
func NewCommand(requestID string, p Payload) (*Command, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: payload: required", ErrInvalidArgument)
	}
	if _, ok := commands.byType[p.CommandType()]; !ok {
		return nil, fmt.Errorf("%w: payload: %T is not a registry payload", ErrInvalidArgument, p)
	}
	return &Command{Version: CommandVersion, Type: p.CommandType(), RequestID: requestID, Payload: p}, nil
}

// NewCommandJSON returns a command of the current version of type typ
// whose payload is given as JSON (the local API's Execute), decoded
// strictly: an unknown field, or a value of the wrong type, is refused
// naming the field.
func NewCommandJSON(typ CommandType, requestID string, payload []byte) (*Command, error) {
	spec, ok := commands.byType[typ]
	if !ok {
		return nil, invalid("type: unknown command type %q", typ)
	}
	if len(payload) == 0 {
		return nil, invalid("payload: is required")
	}
	// JSON decoding would replace invalid UTF-8 with U+FFFD and store the
	// damaged text; refused instead.
	if !utf8.Valid(payload) {
		return nil, invalid("payload: not valid UTF-8")
	}
	p, err := spec.fromJSON(payload)
	if err != nil {
		return nil, invalid("payload: %v", err)
	}
	return &Command{Version: CommandVersion, Type: typ, RequestID: requestID, Payload: p}, nil
}

// payloadJSON returns a version 2 command's payload JSON: PayloadJSON, or
// the JSON of Payload.
func (c *Command) payloadJSON() ([]byte, error) {
	if len(c.PayloadJSON) > 0 || c.Payload == nil {
		return c.PayloadJSON, nil
	}
	// The checks of the typed form first (invalid UTF-8, which JSON would
	// silently replace; values the registry does not know), so that what a
	// node refuses to send does not depend on the version it writes.
	if _, err := c.typedBytes(); err != nil {
		return nil, err
	}
	if r, ok := c.Payload.(interface{ legacyRefusal() error }); ok {
		if err := r.legacyRefusal(); err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(legacyPayload(c.Payload))
	if err != nil {
		return nil, invalid("payload: %v", err)
	}
	return b, nil
}

// typedPayload returns a version 3 command's payload as its message of the
// envelope's oneof, and the field that carries it.
func (c *Command) typedPayload() (proto.Message, protoreflect.FieldDescriptor, error) {
	spec, ok := commands.byType[c.Type]
	if !ok {
		return nil, nil, invalid("type: unknown command type %q", c.Type)
	}
	p := c.Payload
	if p == nil {
		if c.Type != CmdNoop {
			return nil, nil, invalid("payload: is required")
		}
		p = Noop{}
	}
	if p.CommandType() != c.Type {
		return nil, nil, invalid("type: %s, but the payload is a %s", c.Type, p.CommandType())
	}
	m, err := spec.toProto(p)
	if err != nil {
		return nil, nil, err
	}
	return m, commands.field[c.Type], nil
}

// canonical is how a version 3 payload's message is encoded for its
// signature: deterministic (map entries sorted).
var canonicalProto = proto.MarshalOptions{Deterministic: true}

// payloadBytes returns the payload's bytes as the signature covers them:
// the JSON of a version 2 command, the deterministic protobuf encoding of
// a version 3 command's message.
func (c *Command) payloadBytes() ([]byte, error) {
	if c.signedPayload != nil {
		return c.signedPayload, nil
	}
	if c.Version != CommandVersion {
		return c.payloadJSON()
	}
	return c.typedBytes()
}

// typedBytes returns the deterministic encoding of the payload's message.
func (c *Command) typedBytes() ([]byte, error) {
	m, fd, err := c.typedPayload()
	if err != nil {
		return nil, err
	}
	b, err := canonicalProto.Marshal(m)
	if err != nil {
		if path := invalidUTF8(m.ProtoReflect(), "payload."+string(fd.Name())); path != "" {
			return nil, invalid("%s: not valid UTF-8", path)
		}
		return nil, invalid("payload: %v", err)
	}
	return b, nil
}

// invalidUTF8 returns the path of the first string field, at any depth,
// that is not valid UTF-8, or "".
func invalidUTF8(m protoreflect.Message, path string) string {
	found := ""
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := path + "." + string(fd.Name())
		switch {
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
				if !utf8.ValidString(k.String()) {
					found = name
				}
				return found == ""
			})
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && found == ""; i++ {
				switch {
				case fd.Message() != nil:
					found = invalidUTF8(l.Get(i).Message(), fmt.Sprintf("%s[%d]", name, i))
				case fd.Kind() == protoreflect.StringKind && !utf8.ValidString(l.Get(i).String()):
					found = fmt.Sprintf("%s[%d]", name, i)
				}
			}
		case fd.Message() != nil:
			found = invalidUTF8(v.Message(), name)
		case fd.Kind() == protoreflect.StringKind && !utf8.ValidString(v.String()):
			found = name
		}
		return found == ""
	})
	return found
}

// Encode returns the command as it goes into the Raft log: an
// accordv1.RegistryCommand (protobuf) of the command's version, with the
// payload typed (version 3) or as JSON (version 2). A payload the typed
// form cannot carry is refused, naming the field.
func (c *Command) Encode() ([]byte, error) {
	m := &accordv1.RegistryCommand{
		Version: int32(c.Version), RequestId: c.RequestID,
		ActorNode: c.Actor.Node, ActorUser: c.Actor.User, Member: c.Member,
		SignerCert: c.SignerCert, SeenIndex: c.SeenIndex, Signature: c.Signature,
	}
	if c.Batch != nil {
		m.BatchPath = &accordv1.CommandBatchPath{LeafIndex: c.Batch.LeafIndex, Leaves: c.Batch.Leaves, Siblings: c.Batch.Siblings}
	}
	if c.Version == CommandVersion {
		typed, fd, err := c.typedPayload()
		if err != nil {
			return nil, err
		}
		m.ProtoReflect().Set(fd, protoreflect.ValueOfMessage(typed.ProtoReflect()))
	} else {
		raw, err := c.payloadJSON()
		if err != nil {
			return nil, err
		}
		m.Type, m.Payload = string(c.Type), raw
	}
	if !c.Time.IsZero() {
		m.Time = timestamppb.New(c.Time)
	}
	if !c.SignedAt.IsZero() {
		m.SignedAt = timestamppb.New(c.SignedAt)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, invalid("command: %v", err)
	}
	return b, nil
}

// DecodeCommand reads a command from a Raft log entry, strictly: unknown
// fields are refused, at any depth. The payload is decoded here, once:
// from the typed message of a version 3 command (a value the registry
// does not know, such as an enum number, is refused naming the field), or
// from the JSON of a version 2 command (where a payload that does not
// decode is not refused here but when the command applies, after the
// envelope's checks, as the previous build did: its refusal is remembered
// by the exactly-once table and is part of the state).
func DecodeCommand(data []byte) (*Command, error) {
	var m accordv1.RegistryCommand
	if err := proto.Unmarshal(data, &m); err != nil {
		return nil, invalid("command: %v", err)
	}
	if path := unknownFields(m.ProtoReflect(), "command"); path != "" {
		return nil, invalid("%s: unknown fields", path)
	}
	c := &Command{
		Version: int(m.GetVersion()), Type: CommandType(m.GetType()), RequestID: m.GetRequestId(),
		Actor: Actor{Node: m.GetActorNode(), User: m.GetActorUser()}, Member: m.GetMember(),
		SignerCert: m.GetSignerCert(), SeenIndex: m.GetSeenIndex(), Signature: m.GetSignature(),
	}
	if m.Time != nil {
		if err := m.Time.CheckValid(); err != nil {
			return nil, invalid("time: %v", err)
		}
		c.Time = m.Time.AsTime()
	}
	if m.SignedAt != nil {
		if err := m.SignedAt.CheckValid(); err != nil {
			return nil, invalid("signed_at: %v", err)
		}
		c.SignedAt = m.SignedAt.AsTime()
	}
	if bp := m.GetBatchPath(); bp != nil {
		if c.Version != CommandVersion {
			return nil, invalid("batch_path: only a version %d command is signed in a batch", CommandVersion)
		}
		c.Batch = &BatchPath{LeafIndex: bp.GetLeafIndex(), Leaves: bp.GetLeaves(), Siblings: bp.GetSiblings()}
		if err := c.Batch.check(); err != nil {
			return nil, err
		}
	}
	od := m.ProtoReflect().Descriptor().Oneofs().ByName("command")
	fd := m.ProtoReflect().WhichOneof(od)
	if c.Version != CommandVersion {
		if fd != nil {
			return nil, invalid("command.%s: a version %d command carries its payload as JSON, not typed", fd.Name(), c.Version)
		}
		c.PayloadJSON = m.GetPayload()
		c.decodeJSON()
		return c, nil
	}
	switch {
	case m.GetType() != "":
		return nil, invalid("type: must be empty in a version %d command (the typed command names it); got %q", CommandVersion, m.GetType())
	case len(m.GetPayload()) > 0:
		return nil, invalid("payload: must be empty in a version %d command (the command is typed)", CommandVersion)
	case fd == nil:
		return nil, invalid("command: required in a version %d command", CommandVersion)
	}
	spec := commands.byField[fd.Number()]
	msg := m.ProtoReflect().Get(fd).Message().Interface()
	p, err := spec.fromProto(msg)
	if err != nil {
		return nil, err
	}
	b, err := canonicalProto.Marshal(msg)
	if err != nil {
		return nil, invalid("command.%s: %v", fd.Name(), err)
	}
	c.Type, c.Payload, c.signedPayload = spec.typ, p, b
	return c, nil
}

// decodeJSON decodes a version 2 payload, keeping the refusal for when
// the command applies (exactly the previous build's words).
func (c *Command) decodeJSON() {
	spec, ok := commands.byType[c.Type]
	switch {
	case !ok:
		// Refused by the envelope's checks.
	case c.Type == CmdNoop:
		// Never decoded: the no-op changes nothing.
	case len(c.PayloadJSON) == 0:
		c.payloadErr = invalid("payload: is required")
	default:
		p, err := spec.fromJSON(c.PayloadJSON)
		if err == nil {
			err = onlyLegacyFields(c.PayloadJSON, p)
		}
		if err != nil {
			c.payloadErr = invalid("payload: %v", err)
			return
		}
		c.Payload = p
	}
	c.signedPayload = c.PayloadJSON
	if c.signedPayload == nil {
		c.signedPayload = []byte{}
	}
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the JSON value")
	}
	return nil
}

// unknownFields returns the path of the first message, at any depth, that
// holds fields this build does not know, or "".
func unknownFields(m protoreflect.Message, path string) string {
	if len(m.GetUnknown()) > 0 {
		return path
	}
	found := ""
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil || fd.IsMap() {
			return true
		}
		name := path + "." + string(fd.Name())
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len() && found == ""; i++ {
				found = unknownFields(l.Get(i).Message(), fmt.Sprintf("%s[%d]", name, i))
			}
		} else {
			found = unknownFields(v.Message(), name)
		}
		return found == ""
	})
	return found
}

// Bootstrap founds the registry: the federation's name, its policy and its
// founding members, admitted at once with their nodes. It applies only to an
// empty registry, and only a founder may send it.
type Bootstrap struct {
	Federation string        `json:"federation"`
	Policy     Policy        `json:"policy"`
	Founders   []FounderSpec `json:"founders"`
}

// FounderSpec describes a founding member.
type FounderSpec struct {
	Code        string       `json:"code"`
	Name        string       `json:"name"`
	CACerts     []string     `json:"ca_certs"`
	SigningKeys []SigningKey `json:"signing_keys,omitempty"`
	// EncryptionKeys are the nodes' X25519 keys for JIT team keys.
	EncryptionKeys []EncryptionKey `json:"encryption_keys,omitempty"`
	Nodes          []NodeSpec      `json:"nodes,omitempty"`
}

// NodeSpec describes a node to register.
type NodeSpec struct {
	URI            string `json:"uri"`
	RegistryServer bool   `json:"registry_server"`
	// Address is the node's Raft address; required for a registry server.
	Address string `json:"address,omitempty"`
	// FederationAddress is the node's federation gRPC address.
	FederationAddress string `json:"federation_address,omitempty"`
}

// ProposeMember proposes a new member. Only an admitted member may propose;
// the proposal itself is not a vote.
type ProposeMember struct {
	Code           string          `json:"code"`
	Name           string          `json:"name"`
	CACerts        []string        `json:"ca_certs"`
	SigningKeys    []SigningKey    `json:"signing_keys,omitempty"`
	EncryptionKeys []EncryptionKey `json:"encryption_keys,omitempty"`
}

// VoteAdmission is the acting member's vote on admitting a proposed member.
// A later vote replaces the earlier one. The candidate is admitted when the
// approvals of currently admitted members reach Policy.Required of their
// number.
//
// CAFingerprint is the fingerprint of the candidate's CA certificates the
// voter checked with the candidate out of band (trust.CASetFingerprint:
// lower-case hex SHA-256 over the sorted SHA-256 digests of each CA's
// DER). An approval whose fingerprint is not that of the candidate's
// registered CAs is refused, so that a dishonest proposer cannot get its
// own CA admitted in the candidate's name. A version 3 approval must carry
// it; a version 2 entry of the previous build, which has none, applies as
// it did.
type VoteAdmission struct {
	Candidate     string `json:"candidate"`
	Approve       bool   `json:"approve"`
	CAFingerprint string `json:"ca_fingerprint,omitempty"`
}

// SuspendMember suspends the acting member itself at once, or records the
// acting member's vote to suspend another admitted member; that member is
// suspended when the votes reach Policy.Required of the other admitted
// members.
type SuspendMember struct {
	Code   string `json:"code"`
	Reason string `json:"reason,omitempty"`
}

// UpdateMember replaces the acting member's own name, CA certificates,
// signing keys, encryption keys and person-token keys (certificate and key
// rotation).
//
// An update replaces whole lists, so a writer reads the record, changes it
// and writes it back: with ExpectedVersion (the Updated.Index of the record
// it read) the update applies only if no other change came between, and is
// refused as a failed precondition naming expected_version otherwise (the
// writer reads again and retries). 0 is no check, as before the field
// existed: version 2 entries never carry it (legacyPayload).
type UpdateMember struct {
	Code            string          `json:"code"`
	Name            string          `json:"name"`
	CACerts         []string        `json:"ca_certs"`
	SigningKeys     []SigningKey    `json:"signing_keys,omitempty"`
	EncryptionKeys  []EncryptionKey `json:"encryption_keys,omitempty"`
	PersonKeys      []PersonKey     `json:"person_keys,omitempty"`
	ExpectedVersion uint64          `json:"expected_version,omitempty"`
}

// legacyPayload returns the update as the previous build knows it, without
// ExpectedVersion: that build decodes a version 2 payload strictly and
// would refuse the field that this build applies, splitting the group's
// state. In a group that still writes version 2 the update is unchecked.
func (p UpdateMember) legacyPayload() Payload {
	p.ExpectedVersion = 0
	return p
}

// legacyPayload leaves the CA fingerprint out of a version 2 vote: the
// previous build refuses a field it does not know, and a group that split
// on it would diverge. The node that sends the vote has compared the
// fingerprint with the candidate's CA set itself (coordination
// VoteMember); the registry checks it once the group writes version 3.
func (p VoteAdmission) legacyPayload() Payload {
	p.CAFingerprint = ""
	return p
}

// legacyPayload leaves the explanation out of a version 2 proposal: the
// previous build refuses a field it does not know. A node sends it only
// once every server applies match answers v2 (which also write version 3).
func (p ProposeMatch) legacyPayload() Payload {
	p.Explanation = nil
	return p
}

// legacyPayload leaves the reason and first_only out of a version 2 answer,
// as above: a version 2 entry that carries first_only is refused, here as
// by the previous build, as a field it does not know (onlyLegacyFields),
// and the exactly-once digest does not depend on it, so that a run retried
// across the switch to match answers v3 is still recognised.
func (p DecideMatch) legacyPayload() Payload {
	p.Reason = ""
	p.FirstOnly = false
	return p
}

// legacyRefusal refuses to write a first answer only as a version 2 entry,
// whose JSON cannot carry it: dropped, it would become an answer that may
// change one.
func (p DecideMatch) legacyRefusal() error {
	if p.FirstOnly {
		return fmt.Errorf("%w: first_only: %w (this group still writes version 2)", ErrFailedPrecondition, ErrNeedsVersion3)
	}
	return nil
}

// legacyPayload returns p without the fields the previous build (version
// 2) does not know, for the JSON of a version 2 entry and for the
// exactly-once digest (so that a request retried across the switch to
// version 3 is still recognised).
func legacyPayload(p Payload) Payload {
	if l, ok := p.(interface{ legacyPayload() Payload }); ok {
		return l.legacyPayload()
	}
	return p
}

// RegisterNode registers, or updates, one of the acting member's own nodes.
type RegisterNode struct {
	Node NodeSpec `json:"node"`
}

// RemoveNode removes one of the acting member's own nodes.
type RemoveNode struct {
	URI string `json:"uri"`
}

// CreateJIT creates a joint investigation team. The acting member is its
// first accepted member and its lead; Invite lists members invited at once.
// Policy is the team's agreement rule (empty: JITUnanimous).
//
// With Wraps the team is encrypted: Name, LegalBasis and AgreementRef are
// sealed with the team key of epoch 1 (teamkey.FieldAD(scope, "jit",
// field), where scope is "<acting member>/<request id>"), and Wraps hold
// that key wrapped for the acting member's keys (the only accepted member;
// the others get theirs when they accept, WrapJITKey). The sending node
// seals; the state machine checks the form, the epoch and the bounds.
type CreateJIT struct {
	Name         string     `json:"name"`
	LegalBasis   string     `json:"legal_basis"`
	AgreementRef string     `json:"agreement_ref,omitempty"`
	Invite       []string   `json:"invite,omitempty"`
	Policy       JITPolicy  `json:"policy,omitempty"`
	Wraps        []WrapSpec `json:"wraps,omitempty"`
}

// WrapSpec is a team key wrapped for one registered key of a member.
type WrapSpec struct {
	Epoch   int    `json:"epoch"`
	Member  string `json:"member"`
	KeyID   string `json:"key_id"`
	Wrapped string `json:"wrapped"`
}

// WrapJITKey adds wraps of team keys the acting member holds for accepted
// members' registered keys that have none yet: nodes send it when a member
// accepts, or registers a new key. Only an accepted member that holds a
// wrap of an epoch wraps that epoch's key.
type WrapJITKey struct {
	JIT   string     `json:"jit"`
	Wraps []WrapSpec `json:"wraps"`
}

// RotateJITKey starts a new epoch of an encrypted team's key (Epoch is the
// current one plus one), wrapped for accepted members' keys; the acting
// member must be among them. Nodes send it when a member that held the key
// is no longer accepted (it left), so that it cannot read what is written
// next. New content must use the newest epoch.
type RotateJITKey struct {
	JIT   string     `json:"jit"`
	Epoch int        `json:"epoch"`
	Wraps []WrapSpec `json:"wraps"`
}

// InviteToJIT proposes inviting an admitted member to a team. Only accepted
// members propose; the member is invited once the team's policy is met
// (every accepted member consents, see ConsentJIT). The outcome is the
// proposal: its id and status (agreed at once when the proposer is the
// only accepted member).
type InviteToJIT struct {
	JIT    string `json:"jit"`
	Member string `json:"member"`
}

// RespondToJIT accepts or declines an invitation. Member, when set, must be
// the acting member: a member answers only for itself.
type RespondToJIT struct {
	JIT    string `json:"jit"`
	Member string `json:"member,omitempty"`
	Accept bool   `json:"accept"`
}

// LeaveJIT leaves a team. Member, when set, must be the acting member. The
// member's linked cases leave with it; the lead cannot leave while others
// remain; the team closes when its last member leaves.
type LeaveJIT struct {
	JIT    string `json:"jit"`
	Member string `json:"member,omitempty"`
}

// LinkCase links one of the acting member's own cases to a team it is a
// member of.
type LinkCase struct {
	JIT  string  `json:"jit"`
	Case CaseRef `json:"case"`
}

// UnlinkCase unlinks one of the acting member's own cases from a team.
type UnlinkCase struct {
	JIT  string  `json:"jit"`
	Case CaseRef `json:"case"`
}

// SetJITLead proposes making an accepted member the team's lead. Only
// accepted members propose; the lead changes once the team's policy is met
// (ConsentJIT).
type SetJITLead struct {
	JIT  string `json:"jit"`
	Lead string `json:"lead"`
}

// CloseJIT proposes closing a team. Only accepted members propose; the team
// closes once the team's policy is met (ConsentJIT).
type CloseJIT struct {
	JIT string `json:"jit"`
}

// ConsentJIT is an accepted member's consent to, or refusal of, an open
// proposal of its team (InviteToJIT, SetJITLead, CloseJIT). Member, when
// set, must be the acting member.
type ConsentJIT struct {
	Proposal string `json:"proposal"`
	Member   string `json:"member,omitempty"`
	Consent  bool   `json:"consent"`
}

// ProposeLead proposes which member leads a group of matched cases. The
// group is either Cases (two or more, of two or more members) or, when
// Match is set, the cases of that confirmed match decision. The proposer and
// the lead must be involved members.
type ProposeLead struct {
	Cases []CaseRef `json:"cases,omitempty"`
	Match string    `json:"match,omitempty"`
	Lead  string    `json:"lead"`
	Note  string    `json:"note,omitempty"`
}

// ConsentLead is an involved member's consent to, or refusal of, a lead
// assignment. Member, when set, must be the acting member.
type ConsentLead struct {
	Assignment string `json:"assignment"`
	Member     string `json:"member,omitempty"`
	Consent    bool   `json:"consent"`
}

// CreateEntry creates a strategy entry owned by the acting member,
// federation-wide or, with JIT set, scoped to a team the acting member is a
// member of.
type CreateEntry struct {
	Kind    EntryKind   `json:"kind"`
	Title   string      `json:"title"`
	Text    string      `json:"text,omitempty"`
	Targets []TargetRef `json:"targets,omitempty"`
	JIT     string      `json:"jit,omitempty"`
}

// UpdateEntry writes a new version of a strategy entry the acting member
// owns. With ExpectedVersion set, the update applies only if that is still
// the current version.
type UpdateEntry struct {
	Entry           string      `json:"entry"`
	ExpectedVersion int         `json:"expected_version,omitempty"`
	Kind            EntryKind   `json:"kind"`
	Title           string      `json:"title"`
	Text            string      `json:"text,omitempty"`
	Targets         []TargetRef `json:"targets,omitempty"`
}

// DeleteEntry withdraws a strategy entry the acting member owns; its
// history stays.
type DeleteEntry struct {
	Entry           string `json:"entry"`
	ExpectedVersion int    `json:"expected_version,omitempty"`
	Reason          string `json:"reason,omitempty"`
}

// ProposeMatch proposes that two or more cases of two or more members
// concern the same incident. The proposer must hold one of them.
type ProposeMatch struct {
	Cases   []CaseRef `json:"cases"`
	Score   float64   `json:"score"`
	Reasons []string  `json:"reasons,omitempty"`
	// Versions are, when known, the versions of the cases the match was
	// found on, keyed by "MEMBER/CASE_ID". A group that was rejected may be
	// proposed again only with versions that differ (a case changed).
	Versions map[string]int64 `json:"versions,omitempty"`
	// Explanation is, when given, how the score came about; it must add
	// up to Score. It needs match answers v2 (MatchAnswersV2).
	Explanation *Explanation `json:"explanation,omitempty"`
}

// DecideMatch is an involved member's confirmation or rejection of a match.
// Member, when set, must be the acting member. Reason is required with a
// rejection. A member that already answered may answer again: the new
// answer replaces its current one, and the decision keeps both. A reason,
// and an answer that is not the member's first or that is given while the
// decision is not proposed, need match answers v2 (MatchAnswersV2).
type DecideMatch struct {
	Match   string `json:"match"`
	Member  string `json:"member,omitempty"`
	Confirm bool   `json:"confirm"`
	Reason  string `json:"reason,omitempty"`
	// FirstOnly makes the answer a first answer only: refused when the
	// member has answered already or the decision is no longer proposed
	// (an answer by rule never changes one a colleague gave meanwhile).
	// It needs match answers v3 (MatchAnswersV3).
	FirstOnly bool `json:"first_only,omitempty"`
}

// CreateKey creates a federation key owned by the acting member.
type CreateKey struct {
	Name     string `json:"name"`
	Purpose  string `json:"purpose,omitempty"`
	Material []byte `json:"material"`
}

// RotateKey makes new material the current version of a key the acting
// member owns; the current version becomes the previous one, and the
// previous one is retired.
type RotateKey struct {
	Name     string `json:"name"`
	Material []byte `json:"material"`
}

// DestroyKey drops the material of every version of a key the acting
// member owns: each version becomes retired, without material, and the key
// stays listed (its history). Snapshots taken after it hold no material;
// the log entries that carried it go with the next compaction.
type DestroyKey struct {
	Name string `json:"name"`
}

// Noop is the payload of CmdNoop.
type Noop struct{}

// CommandType implements Payload.
func (Noop) CommandType() CommandType { return CmdNoop }

// CommandType implements Payload.
func (Bootstrap) CommandType() CommandType { return CmdBootstrap }

// CommandType implements Payload.
func (ProposeMember) CommandType() CommandType { return CmdProposeMember }

// CommandType implements Payload.
func (VoteAdmission) CommandType() CommandType { return CmdVoteAdmission }

// CommandType implements Payload.
func (SuspendMember) CommandType() CommandType { return CmdSuspendMember }

// CommandType implements Payload.
func (UpdateMember) CommandType() CommandType { return CmdUpdateMember }

// CommandType implements Payload.
func (RegisterNode) CommandType() CommandType { return CmdRegisterNode }

// CommandType implements Payload.
func (RemoveNode) CommandType() CommandType { return CmdRemoveNode }

// CommandType implements Payload.
func (CreateJIT) CommandType() CommandType { return CmdCreateJIT }

// CommandType implements Payload.
func (InviteToJIT) CommandType() CommandType { return CmdInviteToJIT }

// CommandType implements Payload.
func (RespondToJIT) CommandType() CommandType { return CmdRespondToJIT }

// CommandType implements Payload.
func (LeaveJIT) CommandType() CommandType { return CmdLeaveJIT }

// CommandType implements Payload.
func (LinkCase) CommandType() CommandType { return CmdLinkCase }

// CommandType implements Payload.
func (ConsentJIT) CommandType() CommandType { return CmdConsentJIT }

// CommandType implements Payload.
func (UnlinkCase) CommandType() CommandType { return CmdUnlinkCase }

// CommandType implements Payload.
func (SetJITLead) CommandType() CommandType { return CmdSetJITLead }

// CommandType implements Payload.
func (CloseJIT) CommandType() CommandType { return CmdCloseJIT }

// CommandType implements Payload.
func (WrapJITKey) CommandType() CommandType { return CmdWrapJITKey }

// CommandType implements Payload.
func (RotateJITKey) CommandType() CommandType { return CmdRotateJITKey }

// CommandType implements Payload.
func (ProposeLead) CommandType() CommandType { return CmdProposeLead }

// CommandType implements Payload.
func (ConsentLead) CommandType() CommandType { return CmdConsentLead }

// CommandType implements Payload.
func (CreateEntry) CommandType() CommandType { return CmdCreateEntry }

// CommandType implements Payload.
func (UpdateEntry) CommandType() CommandType { return CmdUpdateEntry }

// CommandType implements Payload.
func (DeleteEntry) CommandType() CommandType { return CmdDeleteEntry }

// CommandType implements Payload.
func (ProposeMatch) CommandType() CommandType { return CmdProposeMatch }

// CommandType implements Payload.
func (DecideMatch) CommandType() CommandType { return CmdDecideMatch }

// CommandType implements Payload.
func (CreateKey) CommandType() CommandType { return CmdCreateKey }

// CommandType implements Payload.
func (RotateKey) CommandType() CommandType { return CmdRotateKey }

// CommandType implements Payload.
func (DestroyKey) CommandType() CommandType { return CmdDestroyKey }
