package registry

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

var updateSignedBytes = flag.Bool("update-signed-bytes", false, "write testdata/v3-signed-payloads.golden")

const signedBytesGolden = "testdata/v3-signed-payloads.golden"

// TestVersion3SignedBytesStable: a version 3 signature covers the
// deterministic protobuf encoding of the command's typed payload, which
// every replica computes again. The encodings of every command of the
// fixture history are pinned here, so that a change of the protobuf
// library (or of a message) that would make two builds disagree on the
// bytes, and so refuse each other's signatures, fails the build instead of
// a federation. Regenerate only for a deliberate change of a message, with
// -update-signed-bytes.
func TestVersion3SignedBytesStable(t *testing.T) {
	entries, _, _, _ := readLegacy(t)
	var b strings.Builder
	n := 0
	for _, l := range entries {
		if l.Type != raft.LogCommand {
			continue
		}
		c, err := DecodeCommand(l.Data)
		if err != nil || c.Payload == nil {
			continue // the fixture's malformed entries
		}
		c.Version = CommandVersion
		payload, err := c.payloadBytes()
		if err != nil {
			continue // a payload the typed form refuses (fixture's bad inputs)
		}
		n++
		fmt.Fprintf(&b, "%d %s %x\n", l.Index, c.Type, sha256.Sum256(payload))
	}
	if n < len(commandTable)-3 {
		t.Fatalf("only %d commands of the fixture encode as version 3", n)
	}
	path := filepath.Clean(signedBytesGolden)
	if *updateSignedBytes {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (write it with -update-signed-bytes)", err)
	}
	if got := b.String(); got != string(want) {
		t.Fatalf("the version 3 encodings of the fixture's payloads changed (replicas of two builds would refuse each other's signatures):\n%s", firstDiff(string(want), got))
	}
}
