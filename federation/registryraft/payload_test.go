package registryraft_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/registry"
)

// TestInvalidUTF8PayloadRefused: a command whose JSON payload is not valid
// UTF-8 is refused as InvalidArgument naming the payload, on the leader and
// through a follower, and nothing is applied (JSON decoding would have
// stored U+FFFD in place of the bytes).
func TestInvalidUTF8PayloadRefused(t *testing.T) {
	c := startCluster(t, []string{"UA", "PL", "DE"}, fastTimeouts())
	c.waitLeader(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tn := range c.nodes {
		cmd := entry(t, "utf8-"+tn.name)
		cmd.Payload = []byte("{\"kind\":\"theme\",\"title\":\"Team \xff\xfe\"}")
		_, err := tn.node.Apply(ctx, cmd)
		if !errors.Is(err, registry.ErrInvalidArgument) || !strings.Contains(err.Error(), "payload") {
			t.Errorf("%s: %v, want ErrInvalidArgument naming the payload", tn.name, err)
		}
	}
	if got := titles(t, c.nodes[0].node, true, "UA"); len(got) != 0 {
		t.Errorf("entries applied: %v", got)
	}
}
