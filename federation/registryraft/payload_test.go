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
		// Version 2: the JSON as a client wrote it.
		cmd := entry(t, "utf8-"+tn.name)
		cmd.Version, cmd.Payload = registry.LegacyCommandVersion, nil
		cmd.PayloadJSON = []byte("{\"kind\":\"theme\",\"title\":\"Team \xff\xfe\"}")
		_, err := tn.node.Apply(ctx, cmd)
		if !errors.Is(err, registry.ErrInvalidArgument) || !strings.Contains(err.Error(), "payload") {
			t.Errorf("%s: %v, want ErrInvalidArgument naming the payload", tn.name, err)
		}
		// Version 3: a string of the typed payload.
		cmd = entry(t, "utf8-v3-"+tn.name)
		cmd.Payload = registry.CreateEntry{Kind: registry.KindTheme, Title: "Team \xff\xfe"}
		_, err = tn.node.Apply(ctx, cmd)
		if !errors.Is(err, registry.ErrInvalidArgument) || !strings.Contains(err.Error(), "title") {
			t.Errorf("%s: %v, want ErrInvalidArgument naming the title", tn.name, err)
		}
	}
	if got := titles(t, c.nodes[0].node, true, "UA"); len(got) != 0 {
		t.Errorf("entries applied: %v", got)
	}
}
