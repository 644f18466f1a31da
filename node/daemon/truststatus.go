package daemon

import (
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/trust"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// reloadFailureReasons are the labels of accord_tls_reload_failures_total,
// exported at zero from the start so that an alert needs no absent().
var reloadFailureReasons = []string{"cert_file", "key_file", "key_pair", "bundle_file", "crl_dir", "other"}

// trustStatus is how the node keeps its trust material current, for
// FederationStatus (`accordctl status`).
func (d *Daemon) trustStatus() *accordv1.TrustStatus {
	rs := d.src.ReloadState()
	st := &accordv1.TrustStatus{ReloadFailures: rs.Failures, CrlsApplied: uint32(len(d.src.Verifier().CRLs()))}
	if !rs.LastAttempt.IsZero() {
		st.LastReload = timestamppb.New(rs.LastAttempt)
	}
	if rs.LastError != nil {
		st.LastReloadError = rs.LastError.Error()
	}
	for _, u := range d.src.UnusableCRLs() {
		st.UnusableCrls = append(st.UnusableCrls, &accordv1.RevocationFileProblem{
			File: filepath.Base(u.Source), Reason: u.Reason, Error: u.Err.Error(), KeptLastGood: u.KeptLastGood,
		})
	}
	return st
}

// unusableCRLCollector exposes, at scrape time, how many files of the CRL
// folder the material in force cannot apply, by reason (never by file name:
// labels stay few and short).
type unusableCRLCollector struct {
	src  *mtls.Source
	desc *prometheus.Desc
}

func newUnusableCRLCollector(src *mtls.Source) *unusableCRLCollector {
	return &unusableCRLCollector{src: src, desc: prometheus.NewDesc("accord_tls_crl_files_unusable",
		"Files of the CRL folder that cannot be applied (the others are), by reason: unreadable, malformed, unknown_issuer.", []string{"reason"}, nil)}
}

func (c *unusableCRLCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *unusableCRLCollector) Collect(ch chan<- prometheus.Metric) {
	n := map[string]int{}
	for _, u := range c.src.UnusableCRLs() {
		n[u.Reason]++
	}
	for _, r := range trust.CRLProblemReasons {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n[r]), r)
	}
}
