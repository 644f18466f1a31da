// Package fedindextest fills a store's federation index with generated
// shared cases (node/casegen), as the exchange's puller writes them after
// verifying them (store.FedApply): for the benchmarks and scale tests of
// the federation index and of what reads it (the search, the console).
package fedindextest

import (
	"google.golang.org/protobuf/proto"

	"github.com/accordfed/accord/federation/feed"
	"github.com/accordfed/accord/node/casegen"
	"github.com/accordfed/accord/node/store"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// batchSize is how many records one FedApply writes.
const batchSize = 5000

// Shared projects a generated case as its office would share it (without
// persons: the index's readers measured here do not read them).
func Shared(c *accordv1.Case) *accordv1.SharedCase {
	sc := &accordv1.SharedCase{CaseId: c.GetCaseId(), Title: c.GetTitle(), Status: c.GetStatus(),
		Sensitivity: accordv1.Sensitivity_SENSITIVITY_FEDERATION, CrimeCodes: c.GetCrimeCodes(),
		Incidents: c.GetIncidents(), Perpetrators: c.GetPerpetrators(), VictimCount: c.VictimCount,
		Version: 1, Opened: c.GetOpened()}
	for _, e := range c.GetEvidence() {
		sc.Evidence = append(sc.Evidence, &accordv1.SharedEvidence{Sha256: e.GetSha256(), MediaType: e.GetMediaType(), Collected: e.GetCollected()})
	}
	return sc
}

// Store writes n cases of casegen (seed) as member m's shared records into
// st's federation index, calling each (when not nil) with every case.
func Store(st *store.Store, m string, n int, seed uint64, each func(*accordv1.Case)) error {
	var batch []feed.Record
	seq := uint64(0)
	flush := func() error {
		if _, _, err := st.FedApply(m, "generated", batch); err != nil {
			return err
		}
		batch = batch[:0]
		return nil
	}
	err := casegen.Generate(casegen.Options{Member: m, Cases: n, Seed: seed}, func(c *accordv1.Case) error {
		seq++
		rec, err := proto.Marshal(&accordv1.FeedRecord{Origin: m, CaseId: c.GetCaseId(), Seq: seq, Case: Shared(c)})
		if err != nil {
			return err
		}
		signed, err := proto.Marshal(&accordv1.SignedRecord{Record: rec, KeyId: "generated"})
		if err != nil {
			return err
		}
		batch = append(batch, feed.Record{CaseID: c.GetCaseId(), Seq: seq, Record: signed})
		if each != nil {
			each(c)
		}
		if len(batch) == batchSize {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}
