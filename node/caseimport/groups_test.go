package caseimport_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/node/caseimport"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestErrorsAreGrouped: the same field and reason on 1,000 lines is one
// group with the count and the first lines, whatever each line's value;
// every error is counted, not only the first MaxErrors.
func TestErrorsAreGrouped(t *testing.T) {
	st := openStore(t, "UA")
	var lines []string
	for i := range 1500 {
		id := fmt.Sprintf("UA-2022-%06d", i+1)
		switch {
		case i%3 == 1:
			// A bad date, a different value on every line.
			lines = append(lines, fmt.Sprintf(`{"case_id": %q, "country": "UA", "opened": "2022-02-%d", "incidents": [{"start": "2022-04-01T10:00:00+03:00", "place": "Irpin"}]}`, id, 30+i%2))
		case i == 2:
			lines = append(lines, fmt.Sprintf(`{"case_id": %q, "country": "UA", "status": "open", "incidents": [{"start": "2022-04-01T10:00:00+03:00", "place": "Irpin"}]}`, id))
		default:
			lines = append(lines, validLine(id, "Irpin"))
		}
	}
	res := run(t, st, "UA", strings.Join(lines, "\n"), caseimport.Options{MaxErrors: 10})
	if res.Invalid != 501 || len(res.Errors) != 10 {
		t.Fatalf("invalid %d, errors %d", res.Invalid, len(res.Errors))
	}
	if len(res.Groups) != 2 {
		t.Fatalf("groups = %+v", res.Groups)
	}
	g := res.Groups[0]
	if g.Field != "opened" || g.Lines != 500 || !reflect.DeepEqual(g.FirstLines, []int64{2, 5, 8, 11, 14, 17, 20, 23, 26, 29}) {
		t.Errorf("group 0 = %+v", g)
	}
	if strings.Contains(g.Reason, "(got") || !strings.Contains(g.Example, `(got "2022-02-31")`) {
		t.Errorf("reason %q, example %q: the reason is general, the example the first line's", g.Reason, g.Example)
	}
	if g := res.Groups[1]; g.Field != "status" || g.Lines != 1 || !reflect.DeepEqual(g.FirstLines, []int64{3}) {
		t.Errorf("group 1 = %+v", g)
	}
}

// snapshot is everything of the store an import could change.
func snapshot(t *testing.T, st *store.Store) ([]*accordv1.Case, int) {
	t.Helper()
	var cases []*accordv1.Case
	if err := st.ExportCases(store.Filter{}, func(c *accordv1.Case) error { cases = append(cases, proto.CloneOf(c)); return nil }); err != nil {
		t.Fatal(err)
	}
	changes, err := st.Changes(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return cases, len(changes)
}

// TestDryRunCountsAndChangesNothing: a dry run counts what an import would
// create, update or leave unchanged (a case repeated in the input too),
// the same as the import then does, and writes nothing.
func TestDryRunCountsAndChangesNothing(t *testing.T) {
	st := openStore(t, "UA")
	run(t, st, "UA", validLine("UA-2022-000001", "Irpin")+"\n"+validLine("UA-2022-000002", "Bucha"), caseimport.Options{})
	beforeCases, beforeChanges := snapshot(t, st)

	input := strings.Join([]string{
		validLine("UA-2022-000001", "Irpin"),    // unchanged
		validLine("UA-2022-000002", "Hostomel"), // updated
		validLine("UA-2022-000003", "Kyiv"),     // created
		validLine("UA-2022-000004", "Kyiv"),     // created...
		validLine("UA-2022-000004", "Lviv"),     // ...then updated in the same input
	}, "\n")
	for _, batch := range []int{1, 2, 10000} {
		dry := run(t, st, "UA", input, caseimport.Options{DryRun: true, BatchSize: batch})
		if dry.Written || dry.Created != 2 || dry.Updated != 2 || dry.Unchanged != 1 {
			t.Errorf("batch %d: dry run %+v, want 2 created, 2 updated, 1 unchanged, nothing written", batch, dry)
		}
	}
	afterCases, afterChanges := snapshot(t, st)
	if len(afterCases) != len(beforeCases) || afterChanges != beforeChanges {
		t.Fatalf("the dry run changed the store: %d cases, %d changes; before %d, %d", len(afterCases), afterChanges, len(beforeCases), beforeChanges)
	}
	for i := range beforeCases {
		if !proto.Equal(beforeCases[i], afterCases[i]) {
			t.Errorf("case %s changed:\n%v\n%v", beforeCases[i].GetCaseId(), beforeCases[i], afterCases[i])
		}
	}

	imported := run(t, st, "UA", input, caseimport.Options{})
	if !imported.Written || imported.Created != 2 || imported.Updated != 2 || imported.Unchanged != 1 {
		t.Errorf("import %+v, want what the dry run said", imported)
	}
}
