package daemon

import (
	"fmt"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/accordfed/accord/federation/registry"
	"github.com/accordfed/accord/node/webhook"
)

// webhookLagCap bounds the count of accord_webhook_lag_events (one scrape
// reads at most this many decisions).
const webhookLagCap = 10000

// newWebhook builds the office webhook when notifications.webhook.url is
// set, with its metrics.
func (d *Daemon) newWebhook(x *exchangeParts) error {
	w := d.cfg.Notifications.Webhook
	if w.URL == "" {
		return nil
	}
	secret, err := os.ReadFile(w.SecretFile)
	if err != nil {
		return fmt.Errorf("%w: notifications.webhook.secret_file: %w", ErrStart, err)
	}
	x.webhook = webhook.New(webhook.Options{URL: w.URL, Secret: secret, Timeout: w.Timeout, BackoffMin: w.BackoffMin, BackoffMax: w.BackoffMax,
		Logger: d.logger.With("component", "webhook")}, d.store)
	stat := func(f func(webhook.Stats) uint64) func() float64 {
		return func() float64 { return float64(f(x.webhook.Stats())) }
	}
	d.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "accord_webhook_delivered_total",
			Help: "Match events the office webhook accepted (2xx) since the node started."}, stat(func(s webhook.Stats) uint64 { return s.Delivered })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "accord_webhook_failed_attempts_total",
			Help: "POSTs to the office webhook that failed (network error, 5xx, 429) and are retried, since the node started."}, stat(func(s webhook.Stats) uint64 { return s.FailedAttempts })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "accord_webhook_refused_total",
			Help: "Match events the office webhook refused with a 4xx other than 429 (skipped) since the node started."}, stat(func(s webhook.Stats) uint64 { return s.Refused })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "accord_webhook_lag_events",
			Help: "Match events not yet delivered to the office webhook: decisions of this office changed after the last one delivered (counted up to 10,000)."},
			func() float64 {
				pos := x.webhook.Stats().Position
				if pos == 0 {
					return 0
				}
				n := 0
				d.registry.fsm.Read(func(v registry.View) {
					ds, _, _ := v.MatchDecisionsChangedSince(d.src.Identity().Member, pos, webhookLagCap)
					n = len(ds)
				})
				return float64(n)
			}),
	)
	return nil
}
