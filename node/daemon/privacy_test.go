package daemon_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/federation/raftnet/raftnettest"
	"github.com/accordfed/accord/node/audit"
	"github.com/accordfed/accord/node/caseformat"
	"github.com/accordfed/accord/node/custody"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// devDataset is the shared development dataset, beside the repository.
const devDataset = "../../../shared/datasets/dedup-dev"

// lockedBuffer is a log sink shared by a node's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// datasetNames returns every person name (as written, any script) in the
// dataset's case files.
func datasetNames(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(devDataset, "cases-*.jsonl"))
	set := map[string]bool{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var c struct {
				Persons []struct {
					Name string `json:"name"`
				} `json:"persons"`
			}
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				t.Fatal(err)
			}
			for _, p := range c.Persons {
				set[p.Name] = true
			}
		}
		fh.Close()
	}
	var out []string
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// TestNoNamesLeaveTheOrigin imports the dev dataset's UA cases at UA, lets
// PL and DE sync, and searches everything PL and DE hold or emit (store
// files, audit logs, their logs at debug level, their metrics) for every
// person name of the dataset: there must be none.
func TestNoNamesLeaveTheOrigin(t *testing.T) {
	if _, err := os.Stat(devDataset); err != nil {
		t.Skipf("dev dataset not found at %s (it sits beside the repository in CI): %v", devDataset, err)
	}
	names := datasetNames(t)
	if len(names) < 100 {
		t.Fatalf("only %d names in the dataset", len(names))
	}
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE")
	logs := map[string]*lockedBuffer{"UA": {}, "PL": {}, "DE": {}}
	writers := map[string]io.Writer{}
	for m, b := range logs {
		writers[m] = b
	}
	nodes, _ := startFederationLogged(t, fed, writers, "UA", "PL", "DE")
	ua := nodes[0]

	// Import UA's cases as the local API would.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sealer, err := custody.NewSealer(key, "spiffe://accord.test/member/UA/node/ua-1")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(devDataset, "cases-UA.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := caseformat.NewReader(f)
	var batch []*accordv1.Case
	shared := 0
	for {
		line, no, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		c, ferrs := caseformat.Parse(line, no, "UA")
		if len(ferrs) > 0 {
			t.Fatalf("line %d: %v", no, ferrs)
		}
		if c.GetSensitivity() != accordv1.Sensitivity_SENSITIVITY_NATIONAL && c.GetSensitivity() != accordv1.Sensitivity_SENSITIVITY_JIT {
			shared++
		}
		batch = append(batch, c)
	}
	if _, err := ua.d.Store().ImportBatch(batch, store.Actor{ID: "spiffe://accord.test/member/UA/user/analyst", Sealer: sealer}); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes[1:] {
		raftnettest.WaitFor(t, 60*time.Second, func() error {
			counts, err := n.d.Store().FedCounts()
			if err != nil {
				return err
			}
			if counts["UA"] != shared {
				return fmt.Errorf("%s holds %d of UA's %d shared cases", n.member, counts["UA"], shared)
			}
			return nil
		})
	}
	// The person encodings did cross (so the check below is not vacuous).
	persons := 0
	for _, r := range fedIndex(t, nodes[1].d.Store(), "UA") {
		persons += len(r.GetCase().GetPersons())
	}
	if persons == 0 {
		t.Fatal("no person encodings reached PL")
	}

	for _, n := range nodes[1:] {
		sources := map[string][]byte{"log": logs[n.member].Bytes(), "metrics": []byte(scrape(t, n.d.MetricsAddr()))}
		for _, file := range []string{n.d.Store().Path(), filepath.Join(n.cfg.DataDir, audit.FileName)} {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			sources[filepath.Base(file)] = data
		}
		for what, data := range sources {
			for _, name := range names {
				if bytes.Contains(data, []byte(name)) {
					t.Errorf("%s's %s contains the name %q", n.member, what, name)
				}
			}
		}
		t.Logf("%s: searched %d names in %d bytes of store, audit log, log and metrics: holds %d records of UA with %d person encodings",
			n.member, len(names), len(sources["store.db"])+len(sources[audit.FileName])+len(sources["log"])+len(sources["metrics"]), shared, persons)
	}
	// The origin's own log never names a person either.
	for _, name := range names {
		if bytes.Contains(logs["UA"].Bytes(), []byte(name)) {
			t.Errorf("UA's log contains the name %q", name)
		}
	}
}
