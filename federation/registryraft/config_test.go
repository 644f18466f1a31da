package registryraft_test

import (
	"crypto/tls"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc/credentials"

	"github.com/accordfed/accord/federation/identity"
	"github.com/accordfed/accord/federation/registryraft"
)

func validConfig(dir string) registryraft.Config {
	return registryraft.Config{
		DataDir:           dir,
		GRPCAddress:       func(raft.ServerID) (string, bool) { return "", false },
		ClientCredentials: func(identity.Identity) credentials.TransportCredentials { return nil },
		Certificate:       func() *tls.Certificate { return nil },
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg := validConfig("data")
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(cfg.DataDir) {
		t.Errorf("data dir %q not made absolute", cfg.DataDir)
	}
	if cfg.MaxVoters != registryraft.DefaultMaxVoters || cfg.ElectionTimeout != registryraft.DefaultElectionTimeout ||
		cfg.HeartbeatTimeout != registryraft.DefaultHeartbeatTimeout || cfg.LeaderLeaseTimeout != registryraft.DefaultLeaderLeaseTimeout ||
		cfg.SnapshotThreshold != registryraft.DefaultSnapshotThreshold || cfg.TrailingLogs != registryraft.DefaultTrailingLogs ||
		cfg.Clock == nil {
		t.Errorf("defaults not filled in: %+v", cfg)
	}
}

func TestConfigRefusals(t *testing.T) {
	for _, tc := range []struct {
		field  string
		mutate func(*registryraft.Config)
	}{
		{"data_dir", func(c *registryraft.Config) { c.DataDir = "" }},
		{"grpc_address", func(c *registryraft.Config) { c.GRPCAddress = nil }},
		{"client_credentials", func(c *registryraft.Config) { c.ClientCredentials = nil }},
		{"heartbeat_timeout", func(c *registryraft.Config) { c.HeartbeatTimeout = time.Millisecond }},
		{"election_timeout", func(c *registryraft.Config) {
			c.HeartbeatTimeout, c.ElectionTimeout = 2*time.Second, time.Second
		}},
		{"leader_lease_timeout", func(c *registryraft.Config) { c.LeaderLeaseTimeout = 2 * time.Second }},
		{"max_voters", func(c *registryraft.Config) { c.MaxVoters = -1 }},
		{"retain_snapshots", func(c *registryraft.Config) { c.RetainSnapshots = -1 }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			cfg := validConfig(t.TempDir())
			tc.mutate(&cfg)
			err := cfg.Validate()
			if !errors.Is(err, registryraft.ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name %s", err, tc.field)
			}
		})
	}
}
