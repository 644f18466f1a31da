package daemon

import (
	"os"

	"github.com/accordfed/accord/federation/exchange"
	"github.com/accordfed/accord/node/fedindex"
	"github.com/accordfed/accord/node/grpcserver"
)

// maxPendingCount caps the count of changes waiting to be published that
// FederationStatus reports (counting reads them).
const maxPendingCount = 100000

// newFedIndex makes the local API's FederationIndexService and allows it
// on the local policy: the federation index in the store, the puller's
// status (none without an exchange), and this node's feed.
func (d *Daemon) newFedIndex(localPolicy *grpcserver.Policy) *fedindex.Service {
	status := func() []exchange.PeerStatus {
		if d.exchange == nil {
			return nil
		}
		return d.exchange.puller.Status()
	}
	feedState := func() (head, pending uint64, err error) {
		info, err := d.store.Feed()
		if err != nil {
			return 0, 0, err
		}
		changes, err := d.store.Changes(info.PublishedChange, maxPendingCount)
		if err != nil {
			return 0, 0, err
		}
		return info.Head, uint64(len(changes)), nil
	}
	s := fedindex.New(d.store, status, feedState, d.src.Identity().Member, d.logger.With("component", "fedindex")).
		WithStoreSize(func() uint64 {
			if fi, err := os.Stat(d.store.Path()); err == nil {
				return uint64(fi.Size())
			}
			return 0
		}).
		WithTrustStatus(d.trustStatus)
	s.Allow(localPolicy)
	return s
}
