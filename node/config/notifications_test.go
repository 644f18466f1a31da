package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accordfed/accord/federation/pki/pkitest"
	"github.com/accordfed/accord/node/config"
)

func TestNotificationsValidate(t *testing.T) {
	fed := pkitest.NewFederation(t, "accord.test", "UA")
	dir := t.TempDir()
	secret := func(name string, n int, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Repeat("s", n)), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, short, open := secret("good", 32, 0o600), secret("short", 31, 0o600), secret("open", 64, 0o644)
	base, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	base.TLS = fed.Node("UA", "ua-1")
	base.DataDir = t.TempDir()
	for _, c := range []struct {
		name       string
		edit       func(*config.WebhookConfig)
		field, why string
	}{
		{"https", func(w *config.WebhookConfig) { w.URL, w.SecretFile = "https://cms.example/hooks/accord", good }, "", ""},
		{"http loopback", func(w *config.WebhookConfig) { w.URL, w.SecretFile = "http://127.0.0.1:8080/h", good }, "", ""},
		{"http localhost", func(w *config.WebhookConfig) { w.URL, w.SecretFile = "http://localhost:8080/h", good }, "", ""},
		{"http elsewhere", func(w *config.WebhookConfig) { w.URL, w.SecretFile = "http://cms.example/h", good }, "notifications.webhook.url", "must be https"},
		{"relative", func(w *config.WebhookConfig) { w.URL, w.SecretFile = "/hooks", good }, "notifications.webhook.url", "absolute"},
		{"no secret", func(w *config.WebhookConfig) { w.URL = "https://cms.example/h" }, "notifications.webhook.secret_file", "required"},
		{"missing secret", func(w *config.WebhookConfig) {
			w.URL, w.SecretFile = "https://cms.example/h", filepath.Join(dir, "none")
		}, "notifications.webhook.secret_file", "no such file"},
		{"short secret", func(w *config.WebhookConfig) { w.URL, w.SecretFile = "https://cms.example/h", short }, "notifications.webhook.secret_file", "at least 32"},
		{"world-readable secret", func(w *config.WebhookConfig) { w.URL, w.SecretFile = "https://cms.example/h", open }, "notifications.webhook.secret_file", "by others"},
		{"secret without url", func(w *config.WebhookConfig) { w.SecretFile = good }, "notifications.webhook.url", "required"},
		{"timeout", func(w *config.WebhookConfig) {
			w.URL, w.SecretFile, w.Timeout = "https://cms.example/h", good, time.Millisecond
		}, "notifications.webhook.timeout", "between"},
		{"backoff", func(w *config.WebhookConfig) {
			w.URL, w.SecretFile, w.BackoffMin, w.BackoffMax = "https://cms.example/h", good, time.Minute, time.Second
		}, "notifications.webhook.backoff_min", "backoff_max"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := base
			c.edit(&cfg.Notifications.Webhook)
			err := cfg.Validate()
			if c.field == "" {
				if err != nil {
					t.Fatalf("valid: %v", err)
				}
				return
			}
			if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), c.field) || !strings.Contains(err.Error(), c.why) {
				t.Fatalf("err = %v, want ErrInvalid naming %s (%s)", err, c.field, c.why)
			}
		})
	}
	t.Run("watch", func(t *testing.T) {
		cfg := base
		cfg.Notifications.Watch.Buffer = -1
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "notifications.watch.buffer") {
			t.Fatalf("err = %v", err)
		}
	})
}
