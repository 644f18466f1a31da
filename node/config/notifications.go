package config

import (
	"net"
	"net/url"
	"os"
	"time"
)

// NotificationsConfig tunes how the office is told of its match
// decisions' changes.
type NotificationsConfig struct {
	// Watch tunes the WatchMatches streams of the local API.
	Watch WatchConfig `yaml:"watch"`
	// Webhook POSTs every match event to an office URL (off while URL is
	// empty).
	Webhook WebhookConfig `yaml:"webhook"`
}

// WebhookConfig is the office webhook (node/webhook).
type WebhookConfig struct {
	// URL receives the events: https, or http to a loopback address only.
	URL string `yaml:"url"`
	// SecretFile holds the HMAC secret (at least 32 bytes, not readable
	// by others).
	SecretFile string `yaml:"secret_file"`
	// Timeout bounds one POST (default 10s).
	Timeout time.Duration `yaml:"timeout"`
	// BackoffMin and BackoffMax bound the waits between attempts
	// (defaults 1s and 5m).
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
}

// WatchConfig tunes the WatchMatches streams.
type WatchConfig struct {
	// Heartbeat is how often an idle stream carries a heartbeat (default
	// 15s: under the idle timeouts of common proxies).
	Heartbeat time.Duration `yaml:"heartbeat"`
	// Buffer is how many events a stream holds for a client that does not
	// read before the stream is cut with RESOURCE_EXHAUSTED (default
	// 1024); the client resumes from the last index it read.
	Buffer int `yaml:"buffer"`
}

func (n *NotificationsConfig) normalize() {
	if n.Watch.Heartbeat == 0 {
		n.Watch.Heartbeat = 15 * time.Second
	}
	if n.Watch.Buffer == 0 {
		n.Watch.Buffer = 1024
	}
	w := &n.Webhook
	if w.Timeout == 0 {
		w.Timeout = 10 * time.Second
	}
	if w.BackoffMin == 0 {
		w.BackoffMin = time.Second
	}
	if w.BackoffMax == 0 {
		w.BackoffMax = 5 * time.Minute
	}
}

func (n *NotificationsConfig) validate(ps *problems) {
	if d := n.Watch.Heartbeat; d < 10*time.Millisecond || d > 5*time.Minute {
		ps.addf("notifications.watch.heartbeat", "%s: must be between 10ms and 5m", d)
	}
	if b := n.Watch.Buffer; b < 1 || b > 1<<20 {
		ps.addf("notifications.watch.buffer", "%d: must be between 1 and 1048576", b)
	}
	w := n.Webhook
	if w.URL == "" {
		if w.SecretFile != "" {
			ps.addf("notifications.webhook.url", "required with notifications.webhook.secret_file")
		}
		return
	}
	u, err := url.Parse(w.URL)
	switch {
	case err != nil || u.Host == "":
		ps.addf("notifications.webhook.url", "%q: not an absolute URL", w.URL)
	case u.Scheme == "https":
	case u.Scheme == "http" && loopbackHost(u.Hostname()):
	default:
		ps.addf("notifications.webhook.url", "%q: must be https (http only to a loopback address)", w.URL)
	}
	if w.SecretFile == "" {
		ps.addf("notifications.webhook.secret_file", "required with notifications.webhook.url")
	} else if fi, err := os.Stat(w.SecretFile); err != nil {
		ps.addf("notifications.webhook.secret_file", "%v", err)
	} else if fi.Size() < 32 {
		ps.addf("notifications.webhook.secret_file", "%s: holds %d bytes, at least 32 are needed", w.SecretFile, fi.Size())
	} else if fi.Mode().Perm()&0o007 != 0 {
		ps.addf("notifications.webhook.secret_file", "%s: is readable or writable by others (mode %v): chmod 600 or 640", w.SecretFile, fi.Mode().Perm())
	}
	if w.Timeout < 100*time.Millisecond || w.Timeout > 5*time.Minute {
		ps.addf("notifications.webhook.timeout", "%s: must be between 100ms and 5m", w.Timeout)
	}
	if w.BackoffMin < time.Millisecond || w.BackoffMax < w.BackoffMin || w.BackoffMax > 24*time.Hour {
		ps.addf("notifications.webhook.backoff_min", "%s to %s: must be at least 1ms, and backoff_max between it and 24h", w.BackoffMin, w.BackoffMax)
	}
}

// loopbackHost says whether host is localhost or a loopback address.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
