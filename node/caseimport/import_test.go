package caseimport_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/accordfed/accord/node/caseformat"
	"github.com/accordfed/accord/node/caseimport"
	"github.com/accordfed/accord/node/custody"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// datasetDir is the shared dev dataset, present in CI and on developer
// machines beside the clone, absent in a newcomer's clone.
const datasetDir = "../../../shared/datasets/dedup-dev"

func actor(t testing.TB, member string) store.Actor {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := custody.NewSealer(key, "spiffe://accord.test/member/"+member+"/node/n-1")
	if err != nil {
		t.Fatal(err)
	}
	return store.Actor{ID: "spiffe://accord.test/member/" + member + "/user/u-1", Sealer: s}
}

func openStore(t testing.TB, member string) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "store.db"), member, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func run(t testing.TB, st *store.Store, member, input string, opts caseimport.Options) caseimport.Result {
	t.Helper()
	opts.Member, opts.Actor, opts.SpoolDir = member, actor(t, member), t.TempDir()
	res, err := caseimport.Run(context.Background(), caseimport.FromReader(strings.NewReader(input)), st, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func validLine(id, place string) string {
	return fmt.Sprintf(`{"case_id": %q, "country": "UA", "title": "Attack in %s", "incidents": [{"start": "2022-04-01T10:00:00+03:00", "place": %q}]}`, id, place, place)
}

func count(t *testing.T, st *store.Store) int {
	t.Helper()
	n := 0
	if err := st.ExportCases(store.Filter{}, func(*accordv1.Case) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestInvalidLineMeansNothingIsImported(t *testing.T) {
	st := openStore(t, "UA")
	input := strings.Join([]string{
		validLine("UA-2022-000001", "Irpin"),
		`{"case_id": "UA-2022-000002", "country": "PL", "incidents": [{"start": "2022-04-01T10:00:00+03:00", "place": "Irpin"}]}`,
		"",
		validLine("UA-2022-000003", "Bucha"),
		`not json`,
	}, "\n")
	res := run(t, st, "UA", input, caseimport.Options{})
	if res.Written || res.Lines != 4 || res.Valid != 2 || res.Invalid != 2 {
		t.Fatalf("result %+v", res)
	}
	if len(res.Errors) < 2 || res.Errors[0].Line != 2 || res.Errors[0].Field != "country" || res.Errors[len(res.Errors)-1].Line != 5 {
		t.Errorf("errors %+v", res.Errors)
	}
	if n := count(t, st); n != 0 {
		t.Fatalf("%d cases stored from a refused import", n)
	}
	// Dry run: validates only.
	res = run(t, st, "UA", validLine("UA-2022-000001", "Irpin"), caseimport.Options{DryRun: true})
	if res.Written || res.Valid != 1 || count(t, st) != 0 {
		t.Fatalf("dry run wrote: %+v", res)
	}
	// Skip invalid: the valid lines go in.
	res = run(t, st, "UA", input, caseimport.Options{SkipInvalid: true})
	if !res.Written || res.Created != 2 || count(t, st) != 2 {
		t.Fatalf("skip invalid: %+v", res)
	}
	// Again: nothing changes.
	res = run(t, st, "UA", input, caseimport.Options{SkipInvalid: true})
	if res.Unchanged != 2 || res.Created+res.Updated != 0 {
		t.Fatalf("re-import: %+v", res)
	}
	// A changed line updates and bumps the version.
	res = run(t, st, "UA", validLine("UA-2022-000001", "Irpin (Bucha district)"), caseimport.Options{})
	if res.Updated != 1 {
		t.Fatalf("changed line: %+v", res)
	}
	c, err := st.GetCase("UA-2022-000001")
	if err != nil || c.GetVersion() != 2 {
		t.Fatalf("version after update: %v %v", c.GetVersion(), err)
	}
}

func TestSmallBatchesAndManyWorkers(t *testing.T) {
	st := openStore(t, "UA")
	var b strings.Builder
	for i := range 1000 {
		fmt.Fprintln(&b, validLine(fmt.Sprintf("UA-2023-%06d", i), "Kupiansk"))
	}
	var phases []caseimport.Phase
	res := run(t, st, "UA", b.String(), caseimport.Options{BatchSize: 7, Workers: 5, Progress: func(p caseimport.Progress) { phases = append(phases, p.Phase) }})
	if res.Created != 1000 || count(t, st) != 1000 {
		t.Fatalf("result %+v", res)
	}
	if len(phases) == 0 || phases[len(phases)-1] != caseimport.Writing {
		t.Errorf("progress phases %v", phases)
	}
}

// TestDevDatasetRoundTrip imports every member's file of the dev dataset
// into that member's store and exports it back: the same cases come out.
func TestDevDatasetRoundTrip(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(datasetDir, "cases-*.jsonl"))
	if len(files) == 0 {
		t.Skipf("dev dataset not present at %s (it lives in ../shared beside the clone); skipping", datasetDir)
	}
	for _, f := range files {
		member := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "cases-"), ".jsonl")
		t.Run(member, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			st := openStore(t, member)
			res := run(t, st, member, string(data), caseimport.Options{})
			if res.Invalid != 0 || !res.Written {
				t.Fatalf("import: %+v", res)
			}
			want := map[string]map[string]any{}
			for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatal(err)
				}
				want[m["case_id"].(string)] = m
			}
			got := 0
			err = st.ExportCases(store.Filter{}, func(c *accordv1.Case) error {
				got++
				line, err := caseformat.Encode(c)
				if err != nil {
					return err
				}
				var m map[string]any
				if err := json.Unmarshal(line, &m); err != nil {
					return err
				}
				w := want[c.GetCaseId()]
				if !reflect.DeepEqual(normalise(m), normalise(w)) {
					return fmt.Errorf("case %s differs after the round trip:\n got  %v\n want %v", c.GetCaseId(), m, w)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got != len(want) || int64(got) != res.Created {
				t.Fatalf("exported %d cases, file has %d, created %d", got, len(want), res.Created)
			}
			// Importing the same file again changes nothing.
			again := run(t, st, member, string(data), caseimport.Options{})
			if again.Unchanged != int64(len(want)) || again.Created+again.Updated != 0 {
				t.Fatalf("re-import: %+v", again)
			}
		})
	}
}

// normalise drops empty lists, which the format treats as absent.
func normalise(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if l, ok := v.([]any); ok && len(l) == 0 {
			continue
		}
		out[k] = v
	}
	return out
}

// TestConflictsBetweenLinesAndWithTheStore: lines that are valid alone but
// clash (an evidence id used by two cases, here or already in the store) are
// invalid lines, found before anything is written.
func TestConflictsBetweenLinesAndWithTheStore(t *testing.T) {
	st := openStore(t, "UA")
	withEvidence := func(id, evID, sha string) string {
		return fmt.Sprintf(`{"case_id": %q, "country": "UA", "incidents": [{"start": "2022-04-01T10:00:00+03:00", "place": "Irpin"}], "evidence": [{"id": %q, "sha256": %q}]}`, id, evID, sha)
	}
	sha1, sha2 := strings.Repeat("1", 64), strings.Repeat("2", 64)
	res := run(t, st, "UA", withEvidence("UA-2022-000001", "EV-1", sha1), caseimport.Options{})
	if res.Created != 1 {
		t.Fatalf("%+v", res)
	}
	input := strings.Join([]string{
		withEvidence("UA-2022-000002", "EV-2", sha2),
		withEvidence("UA-2022-000003", "EV-2", sha2), // same id as the line before
		withEvidence("UA-2022-000004", "EV-1", sha1), // id of a stored case
		withEvidence("UA-2022-000001", "EV-1", sha2), // stored item, other hash
	}, "\n")
	res = run(t, st, "UA", input, caseimport.Options{})
	if res.Written || res.Invalid != 3 {
		t.Fatalf("result %+v", res)
	}
	want := []string{"2 evidence[0].id also used by another case", "3 evidence[0].id already used by case UA-2022-000001", "4 evidence[0].sha256 another hash"}
	for i, w := range want {
		e := res.Errors[i]
		parts := strings.SplitN(w, " ", 3)
		if fmt.Sprint(e.Line) != parts[0] || e.Field != parts[1] || !strings.Contains(e.Reason, parts[2]) {
			t.Errorf("error %d = %+v, want %s", i, e, w)
		}
	}
	if n := count(t, st); n != 1 {
		t.Errorf("%d cases stored", n)
	}
	res = run(t, st, "UA", input, caseimport.Options{SkipInvalid: true})
	if !res.Written || res.Created != 1 || count(t, st) != 2 {
		t.Errorf("skip invalid: %+v", res)
	}
}

// TestResultCountsWhatSharingWithholds: the report says, per shared field,
// how many words (names of the case's persons in any form, birth years)
// are blanked when the cases are shared; national cases are not counted.
func TestResultCountsWhatSharingWithholds(t *testing.T) {
	st := openStore(t, "UA")
	named := `{"case_id":"UA-1","country":"UA","title":"Statement of Тараса Гриценка (born 1975)","sensitivity":"federation",` +
		`"incidents":[{"start":"2022-03-01T10:00:00+02:00","place":"вул. Гриценка","region":"Kharkiv Oblast"}],` +
		`"persons":[{"role":"witness","name":"Тарас Гриценко","birth_year":1975}]}`
	national := strings.Replace(strings.Replace(named, "UA-1", "UA-2", 1), `"federation"`, `"national"`, 1)
	res := run(t, st, "UA", named+"\n"+national+"\n", caseimport.Options{})
	want := map[string]int64{"title": 3, "incidents.place": 1}
	if fmt.Sprint(res.Withheld) != fmt.Sprint(want) || res.Valid != 2 {
		t.Fatalf("withheld %v (valid %d), want %v", res.Withheld, res.Valid, want)
	}
}
