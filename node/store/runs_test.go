package store

import (
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestShaRuns drives the run index through many small and large writes,
// merges and deletes, and checks that every item is found exactly once and
// that the number of runs stays logarithmic.
func TestShaRuns(t *testing.T) {
	defer func(a, b int) { runMinEntries, hotRunMax = a, b }(runMinEntries, hotRunMax)
	runMinEntries, hotRunMax = 8, 12
	s := openTest(t)
	a := testActor(t)
	next := 0
	add := func(cases int) {
		t.Helper()
		var batch []*accordv1.Case
		for range cases {
			c := testCase(fmt.Sprintf("UA-2022-%06d", next), "Kherson", "2022-11-01T10:00:00+02:00", fmt.Sprint("a", next), fmt.Sprint("b", next))
			batch = append(batch, c)
			next++
		}
		if _, err := s.ImportBatch(batch, a); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 40 {
		add(1 + i%7*3) // batches of 1..19 cases: hot-run writes and new runs
	}
	// Delete every third case: its two items leave whichever run holds them.
	for i := 0; i < next; i += 3 {
		if _, err := s.DeleteCase(fmt.Sprintf("UA-2022-%06d", i), "test", a); err != nil {
			t.Fatal(err)
		}
	}
	for i := range next {
		for _, p := range []string{"a", "b"} {
			found, err := s.FindEvidenceByHash(hash(fmt.Sprint(p, i)))
			if err != nil {
				t.Fatal(err)
			}
			want := 1
			if i%3 == 0 {
				want = 0
			}
			if len(found) != want {
				t.Fatalf("item %s%d found %d times, want %d", p, i, len(found), want)
			}
		}
	}
	var runs int
	_ = s.db.View(func(tx *bolt.Tx) error {
		runs = len(runIDs(tx.Bucket(idxSHA256)))
		return nil
	})
	if runs > 10 {
		t.Errorf("%d runs for %d entries: merging does not keep up", runs, 2*next)
	}
	t.Logf("%d entries in %d runs", 2*next, runs)
}
