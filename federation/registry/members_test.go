package registry

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBootstrap(t *testing.T) {
	h := newHarness(t)

	// Nothing applies before bootstrap.
	h.refuse("UA", CreateJIT{Name: "x", LegalBasis: "y"}, ErrFailedPrecondition)

	ua, pl := founder(t, "UA"), founder(t, "PL")
	h.refuse("DE", Bootstrap{Federation: testFed, Founders: []FounderSpec{ua, pl}}, ErrPermissionDenied)
	h.refuse("UA", Bootstrap{Federation: "Bad_Fed", Founders: []FounderSpec{ua}}, ErrInvalidArgument)
	h.refuse("UA", Bootstrap{Federation: "other.test", Founders: []FounderSpec{ua}}, ErrPermissionDenied)
	h.refuse("UA", Bootstrap{Federation: testFed}, ErrInvalidArgument)
	h.refuse("UA", Bootstrap{Federation: testFed, Founders: []FounderSpec{ua, ua}}, ErrInvalidArgument)
	h.refuse("UA", Bootstrap{Federation: testFed, Policy: Policy{AdmissionThresholdPercent: 100}, Founders: []FounderSpec{ua}}, ErrInvalidArgument)
	h.refuse("UA", Bootstrap{Federation: testFed, Policy: Policy{DedupeWindow: -1}, Founders: []FounderSpec{ua}}, ErrInvalidArgument)

	// A founder's authorities are checked whoever sends the bootstrap (the
	// sender's own must also verify its signature: TestSignedCommands).
	wrongCA := pl
	wrongCA.CACerts = []string{validCA(t, "UA")} // names UA, not PL
	h.refuse("UA", Bootstrap{Federation: testFed, Founders: []FounderSpec{ua, wrongCA}}, ErrInvalidArgument)
	expired := pl
	expired.CACerts = []string{caCert(t, testFed, "PL", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC))}
	h.refuse("UA", Bootstrap{Federation: testFed, Founders: []FounderSpec{ua, expired}}, ErrInvalidArgument)
	notPEM := pl
	notPEM.CACerts = []string{"hello"}
	h.refuse("UA", Bootstrap{Federation: testFed, Founders: []FounderSpec{ua, notPEM}}, ErrInvalidArgument)
	badKey := ua
	badKey.SigningKeys = []SigningKey{{ID: "k1", PublicKeyPEM: ua.CACerts[0]}}
	h.refuse("UA", Bootstrap{Federation: testFed, Founders: []FounderSpec{badKey}}, ErrInvalidArgument)
	foreignNode := ua
	foreignNode.Nodes = []NodeSpec{{URI: nodeURI("PL")}}
	h.refuse("UA", Bootstrap{Federation: testFed, Founders: []FounderSpec{foreignNode}}, ErrPermissionDenied)
	noAddr := ua
	noAddr.Nodes = []NodeSpec{{URI: nodeURI("UA"), RegistryServer: true}}
	h.refuse("UA", Bootstrap{Federation: testFed, Founders: []FounderSpec{noAddr}}, ErrInvalidArgument)

	out := h.ok("PL", Bootstrap{Federation: testFed, Founders: []FounderSpec{ua, pl}})
	if out.ID != testFed {
		t.Errorf("outcome %+v", out)
	}
	for _, code := range []string{"UA", "PL"} {
		m := h.member(code)
		if m.Status != MemberAdmitted || m.Admitted == nil || len(m.Nodes) != 1 || len(m.SigningKeys) != 1 {
			t.Errorf("%s: %+v", code, m)
		}
		if m.Proposed.Member != "PL" || m.Proposed.Node != nodeURI("PL") || m.Proposed.RequestID == "" || m.Proposed.Time.IsZero() {
			t.Errorf("%s: change not recorded: %+v", code, m.Proposed)
		}
	}
	var pol Policy
	h.read(func(v View) { pol = v.Policy() })
	if pol.AdmissionThresholdPercent != DefaultAdmissionThresholdPercent || pol.DedupeWindow != DefaultDedupeWindow {
		t.Errorf("policy %+v", pol)
	}
	h.refuse("UA", Bootstrap{Federation: testFed, Founders: []FounderSpec{ua}}, ErrFailedPrecondition)
}

func TestPolicyRequired(t *testing.T) {
	for _, c := range []struct{ pct, n, want int }{
		{0, 1, 1}, {0, 2, 2}, {0, 3, 2}, {0, 4, 3}, {0, 5, 3}, {0, 10, 6},
		{50, 3, 2}, {66, 3, 2}, {67, 3, 3}, {75, 4, 4}, {1, 10, 1}, {99, 10, 10}, {0, 0, 1},
	} {
		if got := (Policy{AdmissionThresholdPercent: c.pct}).Required(c.n); got != c.want {
			t.Errorf("Required(pct=%d, n=%d) = %d, want %d", c.pct, c.n, got, c.want)
		}
	}
}

func TestAdmissionByMajority(t *testing.T) {
	for _, c := range []struct {
		name     string
		pct      int
		founders []string
		need     int
	}{
		{"majority of 3", 0, []string{"UA", "PL", "DE"}, 2},
		{"majority of 4", 0, []string{"UA", "PL", "DE", "LT"}, 3},
		{"two thirds of 3", 67, []string{"UA", "PL", "DE"}, 3},
		{"one of 1", 0, []string{"UA"}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := bootstrapped(t, Policy{AdmissionThresholdPercent: c.pct}, c.founders...)
			h.ok(c.founders[0], ProposeMember{Code: "ICC", Name: "International Criminal Court", CACerts: []string{validCA(t, "ICC")},
				SigningKeys: []SigningKey{signingKey(t, "k1")}})
			if st := h.member("ICC").Status; st != MemberProposed {
				t.Fatalf("status %s after proposal", st)
			}
			// A proposed member cannot act, not even vote for itself.
			h.refuse("ICC", VoteAdmission{Candidate: "ICC", Approve: true, CAFingerprint: caSetFP(t, "ICC")}, ErrPermissionDenied)
			for i := 0; i < c.need; i++ {
				// A rejection does not count.
				if i == 0 && len(c.founders) > c.need {
					out := h.ok(c.founders[len(c.founders)-1], VoteAdmission{Candidate: "ICC", Approve: false})
					if out.Status != string(MemberProposed) {
						t.Fatalf("rejection admitted: %+v", out)
					}
				}
				out := h.ok(c.founders[i], VoteAdmission{Candidate: "ICC", Approve: true, CAFingerprint: caSetFP(t, "ICC")})
				want := MemberProposed
				if i == c.need-1 {
					want = MemberAdmitted
				}
				if out.Status != string(want) {
					t.Fatalf("after %d approvals: %s, want %s", i+1, out.Status, want)
				}
			}
			m := h.member("ICC")
			if m.Admitted == nil || m.Admitted.Member != c.founders[c.need-1] || len(m.AdmissionVotes) == 0 {
				t.Errorf("admitted member %+v", m)
			}
			h.refuse(c.founders[0], VoteAdmission{Candidate: "ICC", Approve: true, CAFingerprint: caSetFP(t, "ICC")}, ErrFailedPrecondition)
			// Once admitted it acts.
			h.ok("ICC", CreateJIT{Name: "ICC team", LegalBasis: "Rome Statute art. 54"})
		})
	}
}

func TestAdmissionRules(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL", "DE")
	h.refuse("UA", ProposeMember{Code: "PL", Name: "again", CACerts: []string{validCA(t, "PL")}}, ErrAlreadyExists)
	h.refuse("UA", ProposeMember{Code: "x", Name: "bad code", CACerts: []string{validCA(t, "LT")}}, ErrInvalidArgument)
	h.refuse("UA", ProposeMember{Code: "LT", Name: "", CACerts: []string{validCA(t, "LT")}}, ErrInvalidArgument)
	h.refuse("UA", ProposeMember{Code: "LT", Name: "no CA"}, ErrInvalidArgument)
	h.refuse("UA", ProposeMember{Code: "LT", Name: "wrong CA", CACerts: []string{validCA(t, "LV")}}, ErrInvalidArgument)
	h.refuse("UA", ProposeMember{Code: "LT", Name: "bad\x00name", CACerts: []string{validCA(t, "LT")}}, ErrInvalidArgument)
	h.refuse("UA", VoteAdmission{Candidate: "LT", Approve: true, CAFingerprint: caSetFP(t, "LT")}, ErrNotFound)

	h.ok("UA", ProposeMember{Code: "LT", Name: "Lithuania", CACerts: []string{validCA(t, "LT")}})
	// A vote may be changed before the decision; the voter counts once.
	h.ok("UA", VoteAdmission{Candidate: "LT", Approve: true, CAFingerprint: caSetFP(t, "LT")})
	if out := h.ok("UA", VoteAdmission{Candidate: "LT", Approve: true, CAFingerprint: caSetFP(t, "LT")}); out.Status != string(MemberProposed) {
		t.Fatalf("one voter admitted by voting twice: %+v", out)
	}
	// Votes of a member that is suspended later no longer count.
	h.ok("UA", SuspendMember{Code: "UA", Reason: "leaving"})
	h.refuse("UA", VoteAdmission{Candidate: "LT", Approve: true, CAFingerprint: caSetFP(t, "LT")}, ErrPermissionDenied)
	// 2 admitted (PL, DE): majority is 2; UA's vote is void.
	if out := h.ok("PL", VoteAdmission{Candidate: "LT", Approve: true, CAFingerprint: caSetFP(t, "LT")}); out.Status != string(MemberProposed) {
		t.Fatalf("suspended member's vote counted: %+v", out)
	}
	if out := h.ok("DE", VoteAdmission{Candidate: "LT", Approve: true, CAFingerprint: caSetFP(t, "LT")}); out.Status != string(MemberAdmitted) {
		t.Fatalf("not admitted: %+v", out)
	}
}

func TestSuspension(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL", "DE", "LT")
	h.refuse("UA", SuspendMember{Code: "FR"}, ErrNotFound)
	h.refuse("UA", SuspendMember{Code: "PL", Reason: "bad\x01"}, ErrInvalidArgument)
	// Suspending another takes a majority of the other admitted members (3 → 2).
	if out := h.ok("UA", SuspendMember{Code: "LT", Reason: "breach"}); out.Status != string(MemberAdmitted) {
		t.Fatalf("one vote suspended: %+v", out)
	}
	if out := h.ok("PL", SuspendMember{Code: "LT", Reason: "breach"}); out.Status != string(MemberSuspended) {
		t.Fatalf("two votes did not suspend: %+v", out)
	}
	m := h.member("LT")
	if m.Suspended == nil || m.Suspended.Member != "PL" || m.SuspendReason != "breach" || len(m.SuspensionVotes) != 2 {
		t.Errorf("suspended member %+v", m)
	}
	// A suspended member can no longer act.
	h.refuse("LT", CreateJIT{Name: "x", LegalBasis: "y"}, ErrPermissionDenied)
	h.refuse("UA", SuspendMember{Code: "LT"}, ErrFailedPrecondition)
	// A member may suspend itself at once, unless it is the last one.
	if out := h.ok("DE", SuspendMember{Code: "DE"}); out.Status != string(MemberSuspended) {
		t.Fatalf("self-suspension: %+v", out)
	}
	h.ok("PL", SuspendMember{Code: "PL"})
	h.refuse("UA", SuspendMember{Code: "UA"}, ErrFailedPrecondition)
}

func TestUpdateMemberOnlyItself(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL")
	h.refuse("UA", UpdateMember{Code: "PL", Name: "x", CACerts: []string{validCA(t, "PL")}}, ErrPermissionDenied)
	h.refuse("UA", UpdateMember{Code: "UA", Name: "x"}, ErrInvalidArgument)
	newKey := signingKey(t, "records-2")
	h.refuse("UA", UpdateMember{Code: "UA", Name: "x", CACerts: []string{validCA(t, "UA")}, SigningKeys: []SigningKey{newKey, newKey}}, ErrInvalidArgument)
	ca := validCA(t, "UA")
	h.ok("UA", UpdateMember{Code: "UA", Name: "Office of the Prosecutor General of Ukraine", CACerts: []string{ca}, SigningKeys: []SigningKey{newKey}})
	m := h.member("UA")
	if m.CACerts[0] != ca || m.SigningKeys[0].ID != "records-2" || !strings.HasPrefix(m.Name, "Office") || m.Updated.Member != "UA" {
		t.Errorf("updated member %+v", m)
	}
}

func TestNodes(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL")
	h.refuse("UA", RegisterNode{Node: NodeSpec{URI: node2URI("PL")}}, ErrPermissionDenied)
	h.refuse("UA", RegisterNode{Node: NodeSpec{URI: "spiffe://other.test/member/UA/node/ua-2"}}, ErrInvalidArgument)
	h.refuse("UA", RegisterNode{Node: NodeSpec{URI: userURI("UA", "bob")}}, ErrInvalidArgument)
	h.refuse("UA", RegisterNode{Node: NodeSpec{URI: node2URI("UA"), RegistryServer: true}}, ErrInvalidArgument)
	h.refuse("UA", RegisterNode{Node: NodeSpec{URI: node2URI("UA"), Address: "no-port"}}, ErrInvalidArgument)
	h.refuse("UA", RegisterNode{Node: NodeSpec{URI: node2URI("UA"), FederationAddress: "ua-2.example:0"}}, ErrInvalidArgument)

	if out := h.ok("UA", RegisterNode{Node: NodeSpec{URI: node2URI("UA"), Address: "ua-2.example:7400"}}); out.Status != "registered" {
		t.Fatalf("%+v", out)
	}
	servers := func() []string {
		var uris []string
		h.read(func(v View) {
			for _, n := range v.RegistryServers() {
				uris = append(uris, n.URI)
			}
		})
		return uris
	}
	if got := strings.Join(servers(), " "); got != nodeURI("PL")+" "+nodeURI("UA") {
		t.Fatalf("servers %s", got)
	}
	if out := h.ok("UA", RegisterNode{Node: NodeSpec{URI: node2URI("UA"), RegistryServer: true, Address: "ua-2.example:7400", FederationAddress: "ua-2.example:7401"}}); out.Status != "updated" {
		t.Fatalf("%+v", out)
	}
	if got := len(servers()); got != 3 {
		t.Fatalf("%d servers", got)
	}
	h.read(func(v View) {
		n, st, err := v.GetNode(node2URI("UA"))
		if err != nil || !n.RegistryServer || st != MemberAdmitted || n.Registered.Member != "UA" || n.FederationAddress != "ua-2.example:7401" {
			t.Errorf("GetNode: %+v %s %v", n, st, err)
		}
		if _, _, err := v.GetNode(node2URI("PL")); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetNode unknown: %v", err)
		}
	})
	h.refuse("UA", RemoveNode{URI: nodeURI("PL")}, ErrPermissionDenied)
	h.refuse("UA", RemoveNode{URI: "spiffe://accord.test/member/UA/node/ua-9"}, ErrNotFound)
	h.ok("UA", RemoveNode{URI: node2URI("UA")})
	// A suspended member's servers are no longer registry servers.
	h.ok("PL", SuspendMember{Code: "PL"})
	if got := strings.Join(servers(), " "); got != nodeURI("UA") {
		t.Fatalf("servers after suspension: %s", got)
	}
}

func TestEnvelope(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL")
	p := CreateJIT{Name: "x", LegalBasis: "y"}
	for _, c := range []struct {
		name string
		edit func(c *Command)
	}{
		{"version", func(c *Command) { c.Version = 1 }},
		{"type", func(c *Command) { c.Type = "jit.explode" }},
		{"no request id", func(c *Command) { c.RequestID = "" }},
		{"request id with space", func(c *Command) { c.RequestID = "a b" }},
		{"long request id", func(c *Command) { c.RequestID = strings.Repeat("r", 129) }},
		{"no time", func(c *Command) { c.Time = time.Time{} }},
		{"no member", func(c *Command) { c.Member = "" }},
		{"node of another member", func(c *Command) { c.Actor.Node = nodeURI("PL") }},
		{"user as node", func(c *Command) { c.Actor.Node = userURI("UA", "bob") }},
		{"user of another member", func(c *Command) { c.Actor.User = userURI("PL", "bob") }},
		{"node as user", func(c *Command) { c.Actor.User = nodeURI("UA") }},
		{"payload of another type", func(c *Command) { c.Type = CmdCreateKey }},
		{"no payload", func(c *Command) { c.Payload = nil }},
		// Version 2: the payload's JSON is decoded as the command applies,
		// and its refusal is remembered (the previous build's behaviour).
		{"v2 payload of another type", func(c *Command) {
			c.PayloadJSON, _ = json.Marshal(c.Payload)
			c.Version, c.Type = LegacyCommandVersion, CmdCreateKey
		}},
		{"v2 unknown payload field", func(c *Command) {
			c.Version, c.PayloadJSON = LegacyCommandVersion, []byte(`{"name":"x","legal_basis":"y","color":"red"}`)
		}},
		{"v2 no payload", func(c *Command) { c.Version, c.Payload = LegacyCommandVersion, nil }},
	} {
		t.Run(c.name, func(t *testing.T) {
			h.t = t
			cmd := h.command("UA", p)
			c.edit(cmd)
			h.refuseCommand(cmd, ErrInvalidArgument, !strings.HasPrefix(c.name, "v2 "))
		})
	}
	h.t = t
	cmd := h.command("UA", p)
	cmd.Actor.Node = "spiffe://other.test/member/UA/node/ua-1"
	cmd.Actor.User = ""
	h.refuseCommand(cmd, ErrPermissionDenied, true)

	// A command without a user (the node itself acting) is fine.
	cmd = h.command("UA", p)
	cmd.Actor.User = ""
	if res := h.applyCommand(cmd); res.Err != nil {
		t.Fatal(res.Err)
	}
	// Bytes that are not a command.
	before := h.dump(true)
	if res := h.applyData([]byte("not json")); !errors.Is(res.Err, ErrInvalidArgument) {
		t.Fatalf("garbage: %v", res.Err)
	}
	if after := h.dump(true); after != before {
		t.Fatal(firstDiff(before, after))
	}
}

// Two admins read the record and update it: the second update, made from
// the record as it was before the first, is refused naming
// expected_version instead of undoing the first (finding 4); read again,
// it keeps both changes.
func TestUpdateMemberExpectedVersion(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL")
	read := h.member("UA")
	if read.Updated.Index == 0 {
		t.Fatal("a member's version (Updated.Index) is 0")
	}
	update := func(m Member) UpdateMember {
		return UpdateMember{Code: m.Code, Name: m.Name, CACerts: m.CACerts, SigningKeys: m.SigningKeys,
			EncryptionKeys: m.EncryptionKeys, PersonKeys: m.PersonKeys, ExpectedVersion: m.Updated.Index}
	}
	first := update(read)
	first.Name = "Renamed by the first admin"
	second := update(read)
	second.SigningKeys = append(slices.Clone(second.SigningKeys), signingKey(t, "records-2"))

	h.ok("UA", first)
	res := h.do("UA", second)
	if !errors.Is(res.Err, ErrFailedPrecondition) || !strings.Contains(res.Err.Error(), "expected_version: member UA is at version") {
		t.Fatalf("stale update: %v", res.Err)
	}
	if m := h.member("UA"); m.Name != first.Name || len(m.SigningKeys) != len(read.SigningKeys) {
		t.Fatalf("a stale update changed the record: %+v", m)
	}

	// Read again and retry: both changes stay.
	again := update(h.member("UA"))
	again.SigningKeys = append(slices.Clone(again.SigningKeys), signingKey(t, "records-2"))
	h.ok("UA", again)
	if m := h.member("UA"); m.Name != first.Name || !slices.ContainsFunc(m.SigningKeys, func(k SigningKey) bool { return k.ID == "records-2" }) {
		t.Fatalf("after the retry: %+v", m)
	}
	// 0 is unchecked, as before the field.
	unchecked := update(read)
	unchecked.ExpectedVersion = 0
	h.ok("UA", unchecked)
}

// A version 2 entry never carries expected_version (the previous build
// decodes its JSON strictly and would refuse it while this build applied
// it); the exactly-once digest leaves it out too, so that a retry across
// the switch to version 3 is recognised.
func TestUpdateMemberExpectedVersionNotInVersion2(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL")
	m := h.member("UA")
	p := UpdateMember{Code: "UA", Name: m.Name, CACerts: m.CACerts, SigningKeys: m.SigningKeys, ExpectedVersion: m.Updated.Index}
	c := h.command("UA", p)
	c.Version = LegacyCommandVersion
	data, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "expected_version") {
		t.Errorf("a version 2 entry carries expected_version: %s", data)
	}
	v3 := h.command("UA", p)
	p.ExpectedVersion = 0
	v2 := h.command("UA", p)
	v2.Version = LegacyCommandVersion
	v2.PayloadJSON, _ = json.Marshal(p)
	if commandDigest(v3) != commandDigest(v2) {
		t.Error("the digest of a version 3 update differs from its version 2 form")
	}
	// Stale, in version 2: applied unchecked, as the previous build does.
	h.ok("UA", UpdateMember{Code: "UA", Name: "x", CACerts: m.CACerts, SigningKeys: m.SigningKeys})
	stale := h.command("UA", UpdateMember{Code: "UA", Name: "y", CACerts: m.CACerts, SigningKeys: m.SigningKeys, ExpectedVersion: m.Updated.Index})
	stale.Version = LegacyCommandVersion
	if res := h.applyCommand(stale); res.Err != nil {
		t.Fatalf("version 2 update: %v", res.Err)
	}
}
