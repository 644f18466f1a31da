package daemon_test

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/node/daemon/daemontest"
)

// shutdownLog is a log sink several goroutines write to.
type shutdownLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *shutdownLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *shutdownLog) take() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	b.buf.Reset()
	return s
}

// TestCleanShutdownLogsNoError: real nodes of a federation, closed one
// after the other as an operator stops them, log no ERROR line while they
// close.
func TestCleanShutdownLogsNoError(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA", "PL", "DE")
	logs := map[string]*shutdownLog{"UA": {}, "PL": {}, "DE": {}}
	writers := map[string]io.Writer{}
	for m, b := range logs {
		writers[m] = b
	}
	nodes, _ := daemontest.StartFederation(t, fed, writers, "UA", "PL", "DE")
	for _, b := range logs {
		b.take() // what starting logged
	}
	// Each node's own log while it closes (the others may well complain
	// that a server went away: that is what they see).
	for _, n := range nodes {
		logs[n.Member].take()
		if err := n.D.Close(); err != nil {
			t.Errorf("close %s: %v", n.Member, err)
		}
		for _, line := range strings.Split(strings.TrimSpace(logs[n.Member].take()), "\n") {
			var rec struct {
				Level string `json:"level"`
			}
			if line == "" || json.Unmarshal([]byte(line), &rec) != nil {
				continue
			}
			switch rec.Level {
			case "ERROR":
				t.Errorf("%s logged while closing cleanly: %s", n.Member, line)
			case "WARN":
				t.Logf("%s warned while closing: %s", n.Member, line)
			}
		}
	}
}
