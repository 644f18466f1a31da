package daemon_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/unicode/norm"
	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/node/audit"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// TestAttackNamesInSharedFreeText: an office's analysts write names of
// persons into every free-text field that is shared, in the forms the
// security review used (a possessive, Ukrainian declension, another Unicode
// normalisation form, "(born 1975)", a unit named after its commander, a
// person of another case of the office, a case id with a name), imported
// through UA's local API. PL, a peer that receives everything UA shares,
// must hold none of these names or the birth year, in any form; the case
// whose id carries a name must not reach it at all; UA's import report,
// metrics and audit log say what was withheld, per field, without the
// names.
func TestAttackNamesInSharedFreeText(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL")
	nodes, _ := startFederation(t, fed, "UA", "PL")
	ua, pl := nodes[0], nodes[1]
	cases := accordv1.NewCaseServiceClient(dialWith(t, ua.d.LocalAddr(), honestCreds(t, fed.User("UA", "analyst"), "UA")))

	incident := func(place, region string) string {
		return fmt.Sprintf(`{"start":"2022-03-01T10:00:00+02:00","place":%q,"region":%q}`, place, region)
	}
	line := func(id, title, inc, perps, persons string) string {
		return fmt.Sprintf(`{"case_id":%q,"country":"UA","title":%q,"sensitivity":"federation","incidents":[%s],"perpetrators":[%s],"persons":[%s]}`,
			id, title, inc, perps, persons)
	}
	lines := []string{
		line("UA-2022-000001",
			"Hrytsenko's neighbour: statement of Тараса Гриценка (born 1975) on "+norm.NFD.String("Kovalénko"),
			incident("вул. Гриценка", "Kovalenkos' farm, Kharkiv Oblast"),
			`{"kind":"unit","name":"Petrenko's company, 64th Brigade"},{"kind":"person","name":"Ivan Petrenko"}`,
			`{"role":"witness","name":"Тарас Гриценко","birth_year":1975},{"role":"victim","name":"Olena Kovalenko"}`),
		line("UA-2022-000002", "Shelling of Bucha", incident("Bucha", "Kyiv Oblast"), "",
			`{"role":"victim","name":"Mykola Bondarchuk"}`),
		// No persons of its own: only the office's names catch this one.
		line("UA-2022-000003", "Search for Bondarchuka's relatives", incident("Irpin", "Kyiv Oblast"), "", ""),
		line("UA-Hrytsenko-7", "Interview", incident("Kharkiv", "Kharkiv Oblast"), "", ""),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := importLines(ctx, cases, lines...)
	if err != nil || res.GetInvalid() != 0 || !res.GetWritten() {
		t.Fatalf("import: %v %v", res, err)
	}
	// The report counts against each case's own persons.
	for field, least := range map[string]int64{"title": 4, "incidents.place": 1, "incidents.region": 1, "perpetrators.name": 1} {
		if res.GetWithheld()[field] < least {
			t.Errorf("import report: withheld %v, want at least %d in %s", res.GetWithheld(), least, field)
		}
	}

	waitIndex(t, pl.d.Store(), "UA", has("UA-2022-000001", "UA-2022-000002", "UA-2022-000003"))
	held := fedIndex(t, pl.d.Store(), "UA")
	if _, ok := held["UA-Hrytsenko-7"]; ok {
		t.Errorf("a case whose id carries a name reached PL")
	}
	var wire []byte
	for id, r := range held {
		b, err := proto.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		wire = append(wire, b...)
		t.Logf("PL holds %s: %q / %v / %v", id, r.GetCase().GetTitle(), r.GetCase().GetIncidents(), r.GetCase().GetPerpetrators())
	}
	secrets := []string{"Hrytsenko", "Гриценк", "Тарас", "Kovalenk", "Kovale", "Petrenko", "Bondarchuk", "1975"}
	for _, s := range secrets {
		if bytes.Contains(wire, []byte(s)) || bytes.Contains(wire, []byte(norm.NFD.String(s))) {
			t.Errorf("PL holds %q from UA's shared free text", s)
		}
	}
	if got := held["UA-2022-000002"].GetCase().GetTitle(); got != "Shelling of Bucha" {
		t.Errorf("an ordinary title changed: %q", got)
	}

	// UA says what it withheld: metrics and audit, per field, no names.
	raftnettest.WaitFor(t, 10*time.Second, func() error {
		for _, field := range []string{"title", "incidents.place", "incidents.region", "perpetrators.name", "case_id"} {
			if v := scrapeMetric(t, ua.d.MetricsAddr(), `accord_shared_text_withheld_total{field="`+field+`"}`); v < 1 {
				return fmt.Errorf("accord_shared_text_withheld_total{field=%q} is %v", field, v)
			}
		}
		return nil
	})
	path := filepath.Join(ua.cfg.DataDir, audit.FileName)
	fields := map[string]bool{}
	err = audit.Scan(path, audit.Filter{}, func(e audit.Entry) error {
		if e.Kind.String() == "withheld" {
			fields[e.What.Reason] = true
			if e.Peer != "UA" || e.What.Records < 1 || (len(e.What.CaseIDs) == 0) != (e.What.Reason == "case_id") {
				t.Errorf("withheld entry %+v", e)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !fields["title"] || !fields["case_id"] || !fields["incidents.place"] {
		t.Errorf("UA's audit log has withheld entries for %v", fields)
	}
	log, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets[:7] {
		if strings.Contains(string(log), s) {
			t.Errorf("UA's audit log holds %q", s)
		}
	}
}
