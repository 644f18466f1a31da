package registry

import (
	"strings"
	"testing"

	"github.com/accordfed/accord/federation/trust"
)

// TestVoteBindsCandidateCAFingerprint is review finding 2: votes bound
// nothing about the candidate's CA, so a dishonest proposer could register
// a CA of its own in a newcomer's name and have honest members admit it.
// An approving vote now names the fingerprint of the candidate's CA set,
// which the voter got from the candidate over a second channel; the
// registry refuses an approval whose fingerprint is not that of the CAs
// registered. Version 3 approvals must carry it.
func TestVoteBindsCandidateCAFingerprint(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL", "DE")
	// UA, dishonest, proposes LT with a CA UA made (naming LT).
	forged := caCert(t, testFed, "LT", h.now.AddDate(-1, 0, 0), h.now.AddDate(5, 0, 0))
	h.ok("UA", ProposeMember{Code: "LT", Name: "Lithuania", CACerts: []string{forged}})
	genuine := caSetFP(t, "LT") // what LT tells the voters by phone
	forgedFP, err := trust.CASetFingerprint([]string{forged})
	if err != nil {
		t.Fatal(err)
	}

	refuseNaming(t, h, "PL", VoteAdmission{Candidate: "LT", Approve: true}, ErrInvalidArgument, "ca_fingerprint: is required to approve")
	refuseNaming(t, h, "PL", VoteAdmission{Candidate: "LT", Approve: true, CAFingerprint: strings.ToUpper(genuine)}, ErrInvalidArgument, "ca_fingerprint: must be 64 lower-case hex digits")
	refuseNaming(t, h, "PL", VoteAdmission{Candidate: "LT", Approve: true, CAFingerprint: genuine}, ErrFailedPrecondition,
		"ca_fingerprint: "+genuine+" is not the fingerprint of the CA certificates registered for candidate LT ("+forgedFP+")")
	refuseNaming(t, h, "DE", VoteAdmission{Candidate: "LT", Approve: true, CAFingerprint: genuine}, ErrFailedPrecondition, "do not approve")
	// A rejection needs no fingerprint.
	h.ok("PL", VoteAdmission{Candidate: "LT", Approve: false})
	// UA's own approval (it knows the forged CA's fingerprint) is one vote
	// of the two needed.
	if out := h.ok("UA", VoteAdmission{Candidate: "LT", Approve: true, CAFingerprint: forgedFP}); out.Status != string(MemberProposed) {
		t.Fatalf("admitted on the proposer's vote alone: %+v", out)
	}

	// The honest path: the CA registered is the one the candidate gave.
	h.ok("PL", ProposeMember{Code: "EE", Name: "Estonia", CACerts: []string{validCA(t, "EE")}})
	h.ok("PL", VoteAdmission{Candidate: "EE", Approve: true, CAFingerprint: caSetFP(t, "EE")})
	if out := h.ok("DE", VoteAdmission{Candidate: "EE", Approve: true, CAFingerprint: caSetFP(t, "EE")}); out.Status != string(MemberAdmitted) {
		t.Fatalf("EE not admitted: %+v", out)
	}
}

// TestVoteFingerprintVersion2: a version 2 entry (the previous build's,
// which knew no fingerprint) approving without one applies as before; this
// build never writes the fingerprint into a version 2 entry, and one that
// carries it (a dishonest node's) is refused with the previous build's
// very words, so that replicas of both builds keep one state.
func TestVoteFingerprintVersion2(t *testing.T) {
	h := bootstrapped(t, Policy{}, "UA", "PL", "DE")
	h.ok("UA", ProposeMember{Code: "LT", Name: "Lithuania", CACerts: []string{validCA(t, "LT")}})
	c := h.command("PL", VoteAdmission{Candidate: "LT", Approve: true, CAFingerprint: caSetFP(t, "LT")})
	c.Version = LegacyCommandVersion
	data, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "ca_fingerprint") {
		t.Errorf("a version 2 entry carries ca_fingerprint: %s", data)
	}
	forged := h.command("DE", VoteAdmission{Candidate: "LT", Approve: true})
	forged.Version = LegacyCommandVersion
	forged.PayloadJSON = []byte(`{"candidate":"LT","approve":true,"ca_fingerprint":"` + caSetFP(t, "EE") + `"}`)
	res := h.applyCommand(forged)
	if res.Err == nil || !strings.Contains(res.Err.Error(), `payload: json: unknown field "ca_fingerprint"`) {
		t.Fatalf("a version 2 vote carrying a fingerprint: %v, want the previous build's refusal", res.Err)
	}
	c = h.command("PL", VoteAdmission{Candidate: "LT", Approve: true})
	c.Version = LegacyCommandVersion
	if res := h.applyCommand(c); res.Err != nil {
		t.Fatalf("a version 2 approval without a fingerprint: %v", res.Err)
	}
	if got := h.member("LT").AdmissionVotes; len(got) != 1 || got[0].Member != "PL" || !got[0].Approve {
		t.Fatalf("votes %+v", got)
	}
}

// TestCASetFingerprintDefinition pins the definition: SHA-256 over the
// sorted SHA-256 digests of each CA's DER, independent of the order.
func TestCASetFingerprintDefinition(t *testing.T) {
	a, b := memberCA(t, "LT"), memberCA(t, "LV")
	ab, err := trust.CASetFingerprint([]string{a.pem, b.pem})
	if err != nil {
		t.Fatal(err)
	}
	ba, _ := trust.CASetFingerprint([]string{b.pem, a.pem})
	one, _ := trust.CASetFingerprint([]string{a.pem})
	if ab != ba || ab == one || len(ab) != 64 {
		t.Fatalf("%s %s %s", ab, ba, one)
	}
}
