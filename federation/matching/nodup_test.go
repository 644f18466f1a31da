package matching

import (
	"fmt"
	"testing"
)

// TestNoDuplicatesNoMatches: members whose cases are unrelated (casegen
// with one seed: every member gets its own random stream) share no
// incident. A model fitted on such data must not invent a match class, so
// (almost) no cross-member pair is reported.
func TestNoDuplicatesNoMatches(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	for _, tc := range []struct {
		members int
		cases   int
		seed    uint64
	}{{3, 6000, 7}, {5, 12000, 11}, {8, 24000, 1}} {
		t.Run(fmt.Sprintf("%d-members", tc.members), func(t *testing.T) {
			recs := genRecords(t, tc.cases, tc.seed, benchMembers[:tc.members])
			ms, model, st, err := MatchAll(recs, Config{}, true)
			if err != nil {
				t.Fatal(err)
			}
			cross := 0
			for _, m := range ms {
				if memberOf(m.A) != memberOf(m.B) {
					cross++
				}
			}
			t.Logf("%s; %d cross-member matches; lambda %.4g", st, cross, model.Lambda)
			if testing.Verbose() {
				t.Logf("model:\n%s", model)
			}
			if limit := len(recs) / 1000; cross > limit {
				t.Errorf("%d cross-member matches among %d records with no shared incident (limit %d)", cross, len(recs), limit)
			}
		})
	}
}
