package daemon_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/audit"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestAttackTerminalEscapes: terminal escape codes (clear screen, colours,
// a hidden hyperlink, C1 CSI, a bidi override, a carriage return that
// forges a line) cannot enter a node's text, neither through its own
// import and API (refused, naming line, field and reason; nothing
// written) nor from another member: a rogue DE (its node stopped, its
// address, certificate and registered signing key used by a hostile feed)
// serves UA validly signed records whose text carries them, and UA refuses
// them (audited as invalid_record) while keeping the clean record of the
// same batch.
func TestAttackTerminalEscapes(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "DE")
	nodes, _ := startFederation(t, fed, "UA", "DE")
	ua, de := nodes[0], nodes[1]
	cases := accordv1.NewCaseServiceClient(dialWith(t, ua.d.LocalAddr(), honestCreds(t, fed.User("UA", "analyst"), "UA")))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	escapes := []string{"clear\x1b[2J", "\x1b]8;;https://evil.example\x07link", "csi\u009b31m", "abc\u202efed", "ok\r forged", "bell\x07"}

	// Import: every line refused, by line, field and reason; nothing written.
	var lines []string
	for i, s := range escapes {
		title, _ := json.Marshal(s) // \u001b: the JSON escape, as an office's file would hold it
		lines = append(lines, fmt.Sprintf(`{"case_id":"UA-ESC-%d","country":"UA","title":%s,"sensitivity":"federation","incidents":[{"start":"2022-03-01T10:00:00Z","place":"Irpin"}]}`, i, title))
	}
	res, err := importLines(ctx, cases, lines...)
	if err != nil {
		t.Fatal(err)
	}
	if res.GetInvalid() != int64(len(escapes)) || res.GetWritten() || len(res.GetErrors()) != len(escapes) {
		t.Errorf("import: %v", res)
	}
	for i, e := range res.GetErrors() {
		if e.GetLine() != int64(i+1) || e.GetField() != "title" || !strings.Contains(e.GetReason(), "control character U+") {
			t.Errorf("import error %d: %v", i, e)
		}
	}
	// The API: InvalidArgument naming the field.
	c := &accordv1.Case{CaseId: "UA-ESC-9", Country: "UA", Title: "Shelling",
		Incidents: []*accordv1.Incident{{Start: "2022-03-01T10:00:00Z", Place: "Irpin\x1b[8m"}}}
	if _, err := cases.CreateCase(ctx, &accordv1.CreateCaseRequest{Case: c}); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "incidents[0].place") {
		t.Errorf("CreateCase with an escape code in the place: %v", err)
	}
	if n, err := ua.d.Store().Stats(); err != nil || n.Cases != 0 {
		t.Errorf("UA's store after the refusals: %+v %v", n, err)
	}

	// Another member's records.
	deKey, deKeyID := loadNodeSigningKey(t, de.cfg.DataDir, "de-1")
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		for _, m := range query[[]registry.Member](t, ua.user, "members", "") {
			if m.Code == "DE" && slices.ContainsFunc(m.SigningKeys, func(k registry.SigningKey) bool { return k.ID == deKeyID }) {
				return nil
			}
		}
		return errors.New("the registry does not hold DE's signing key yet")
	})
	rogue := turnRogue(t, fed, de.d, de.cfg.TLS, "DE", "de-1", ua.d.Addr(), "UA")
	now := timestamppb.Now()
	var batch []*accordv1.SignedRecord
	for i, s := range append([]string{"Shelling of a school"}, escapes...) {
		id := fmt.Sprintf("DE-2024-%06d", i+1)
		r := &accordv1.FeedRecord{Origin: "DE", CaseId: id, Seq: uint64(i + 1), PublishTime: now, Case: &accordv1.SharedCase{
			CaseId: id, Title: "Report", Status: accordv1.CaseStatus_CASE_STATUS_INVESTIGATION,
			Sensitivity: accordv1.Sensitivity_SENSITIVITY_FEDERATION, Version: 1,
			Incidents: []*accordv1.Incident{{Start: "2024-01-01T10:00:00Z", Place: "Kramatorsk"}},
		}}
		if i%2 == 0 {
			r.Case.Title = s
		} else {
			r.Case.Incidents[0].Region = s
		}
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, signOne(deKey, deKeyID, b))
	}
	rogue.queue("UA") <- &accordv1.SyncResponse{Records: batch, Cursor: "rogue-1", Head: uint64(len(batch)), CaughtUp: true}
	raftnettest.WaitFor(t, 30*time.Second, func() error {
		if cur, err := ua.d.Store().FedCursor("DE"); err != nil || cur != "rogue-1" {
			return fmt.Errorf("UA's cursor of DE is %q (%w)", cur, err)
		}
		return nil
	})
	held := fedIndex(t, ua.d.Store(), "DE")
	if _, ok := held["DE-2024-000001"]; !ok || len(held) != 1 {
		t.Errorf("UA holds %d records of DE, want only the clean one: %v", len(held), held)
	}
	refused := 0
	err = audit.Scan(filepath.Join(ua.cfg.DataDir, audit.FileName), audit.Filter{Peer: "DE", Kind: audit.KindRefused}, func(en audit.Entry) error {
		if en.What.Reason == "invalid_record" {
			refused += max(en.What.Records, 1)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if refused != len(escapes) {
		t.Errorf("UA audited %d refused records of DE, want %d", refused, len(escapes))
	}
}
