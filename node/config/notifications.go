package config

import "time"

// NotificationsConfig tunes how the office is told of its match
// decisions' changes.
type NotificationsConfig struct {
	// Watch tunes the WatchMatches streams of the local API.
	Watch WatchConfig `yaml:"watch"`
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
}

func (n *NotificationsConfig) validate(ps *problems) {
	if d := n.Watch.Heartbeat; d < 10*time.Millisecond || d > 5*time.Minute {
		ps.addf("notifications.watch.heartbeat", "%s: must be between 10ms and 5m", d)
	}
	if b := n.Watch.Buffer; b < 1 || b > 1<<20 {
		ps.addf("notifications.watch.buffer", "%d: must be between 1 and 1048576", b)
	}
}
