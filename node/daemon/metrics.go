package daemon

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// exchangeCollector exposes the exchange's and the matcher's state at
// scrape time: per member, how far this node is behind its feed and what
// it holds and refused; and the matches found, proposed and withheld.
type exchangeCollector struct {
	d *Daemon

	lagRecords, lagSeconds, held, received, refused, connected *prometheus.Desc
	answering, lastHeard                                       *prometheus.Desc
	found, proposed, withheld, indexed, feedHead               *prometheus.Desc
	streams, streamsRefused, servedBuffered                    *prometheus.Desc
	waiting                                                    *prometheus.Desc
}

func newExchangeCollector(d *Daemon) *exchangeCollector {
	peer := []string{"member"}
	return &exchangeCollector{
		d:          d,
		lagRecords: prometheus.NewDesc("accord_sync_lag_records", "Feed entries this node is behind a member's feed head as last heard (absent while the member does not answer: unknown).", peer, nil),
		lagSeconds: prometheus.NewDesc("accord_sync_lag_seconds", "Seconds since this node last knew itself caught up with a member's feed (0 while the member answers and it is).", peer, nil),
		answering:  prometheus.NewDesc("accord_sync_peer_answering", "1 while the member's node sends something (records or heartbeats) within twice the heartbeat interval.", peer, nil),
		lastHeard:  prometheus.NewDesc("accord_sync_last_heard_seconds", "Seconds since the member's node last sent anything on the Sync stream (records or a heartbeat).", peer, nil),
		held:       prometheus.NewDesc("accord_federation_records", "A member's records held in the federation index.", peer, nil),
		received:   prometheus.NewDesc("accord_sync_records_received_total", "Records of a member stored since the node started.", peer, nil),
		refused:    prometheus.NewDesc("accord_sync_records_refused_total", "Records of a member refused (signature, malformed, not meant for this member) since the node started.", peer, nil),
		connected:  prometheus.NewDesc("accord_sync_connected", "1 while a Sync stream with the member's node is open.", peer, nil),
		found: prometheus.NewDesc("accord_matches_found_total",
			"Cross-member matches involving this office's cases that the registry holds (each once), by how this node learned of it: proposed by this member (proposed_here) or by the other member (registry).",
			[]string{"learned"}, nil),
		waiting: prometheus.NewDesc("accord_matches_waiting",
			"Match decisions involving this office, still proposed, that wait for a member's answer, per involved member (this office's own included), kept from the registry's changes.",
			peer, nil),
		proposed: prometheus.NewDesc("accord_matches_proposed_total", "Match decisions this node proposed to the registry since it started.", nil, nil),
		withheld: prometheus.NewDesc("accord_matches_withheld_total", "Matches found but not proposed since the node started: the other member may not see this office's jit case.", nil, nil),
		indexed:  prometheus.NewDesc("accord_match_index_records", "Cases in the matching index (own and federation).", nil, nil),
		feedHead: prometheus.NewDesc("accord_feed_head", "The last sequence number of this node's own feed.", nil, nil),
		streams:  prometheus.NewDesc("accord_sync_streams_served", "Sync streams of a member's nodes open on this node (at most exchange.max_streams_per_peer).", peer, nil),
		streamsRefused: prometheus.NewDesc("accord_sync_streams_refused_total",
			"Sync streams of a member refused since the node started because it had exchange.max_streams_per_peer open.", peer, nil),
		servedBuffered: prometheus.NewDesc("accord_sync_served_buffered_bytes",
			"Bytes of Sync responses this node holds for the open streams (built, or handed to gRPC and possibly not yet read by the peer).", nil, nil),
	}
}

func (c *exchangeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.lagRecords, c.lagSeconds, c.held, c.received, c.refused, c.connected, c.answering, c.lastHeard,
		c.found, c.proposed, c.withheld, c.indexed, c.feedHead,
		c.streams, c.streamsRefused, c.servedBuffered, c.waiting} {
		ch <- d
	}
}

func (c *exchangeCollector) Collect(ch chan<- prometheus.Metric) {
	x := c.d.exchange
	if x == nil {
		return
	}
	counts, _ := c.d.store.FedCounts()
	now := time.Now()
	for _, s := range x.puller.Status() {
		conn, answering := 0.0, 0.0
		if s.Connected {
			conn = 1
		}
		if s.Answering {
			answering = 1
			// The lag in records is known only while the peer answers.
			ch <- prometheus.MustNewConstMetric(c.lagRecords, prometheus.GaugeValue, float64(s.Lag()), s.Member)
		}
		if !s.LastHeard.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.lastHeard, prometheus.GaugeValue, now.Sub(s.LastHeard).Seconds(), s.Member)
		}
		ch <- prometheus.MustNewConstMetric(c.answering, prometheus.GaugeValue, answering, s.Member)
		ch <- prometheus.MustNewConstMetric(c.lagSeconds, prometheus.GaugeValue, s.BehindFor(now).Seconds(), s.Member)
		ch <- prometheus.MustNewConstMetric(c.held, prometheus.GaugeValue, float64(counts[s.Member]), s.Member)
		ch <- prometheus.MustNewConstMetric(c.received, prometheus.CounterValue, float64(s.Received), s.Member)
		ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(s.Refused), s.Member)
		ch <- prometheus.MustNewConstMetric(c.connected, prometheus.GaugeValue, conn, s.Member)
	}
	_, proposed, indexed := x.matcher.Stats()
	waiting, here, learned := x.waiting.Counts()
	for m, n := range waiting {
		ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(n), m)
	}
	ch <- prometheus.MustNewConstMetric(c.found, prometheus.CounterValue, float64(here), "proposed_here")
	ch <- prometheus.MustNewConstMetric(c.found, prometheus.CounterValue, float64(learned), "registry")
	ch <- prometheus.MustNewConstMetric(c.proposed, prometheus.CounterValue, float64(proposed))
	ch <- prometheus.MustNewConstMetric(c.withheld, prometheus.CounterValue, float64(x.matcher.Withheld()))
	ch <- prometheus.MustNewConstMetric(c.indexed, prometheus.GaugeValue, float64(indexed))
	st := x.service.Stats()
	members := map[string]bool{}
	for _, p := range x.dir.Peers() {
		members[p.Member] = true
	}
	for m := range st.Streams {
		members[m] = true
	}
	for m := range st.Refused {
		members[m] = true
	}
	for m := range members {
		ch <- prometheus.MustNewConstMetric(c.streams, prometheus.GaugeValue, float64(st.Streams[m]), m)
		ch <- prometheus.MustNewConstMetric(c.streamsRefused, prometheus.CounterValue, float64(st.Refused[m]), m)
	}
	ch <- prometheus.MustNewConstMetric(c.servedBuffered, prometheus.GaugeValue, float64(st.BufferedBytes))
	if fi, err := c.d.store.Feed(); err == nil {
		ch <- prometheus.MustNewConstMetric(c.feedHead, prometheus.GaugeValue, float64(fi.Head))
	}
}
