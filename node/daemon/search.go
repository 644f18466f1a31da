package daemon

import (
	"fmt"
	"time"

	"github.com/accordfed/accord/node/casesearch"
	"github.com/accordfed/accord/node/fedindex"
	"github.com/accordfed/accord/node/localapi"
	"github.com/accordfed/accord/node/store"
)

// newSearch builds the in-memory search indexes of the office's cases and
// of the federation index (node/casesearch) and hooks them to the store,
// so that they follow every commit. It runs before anything writes: the
// hooks are set first, then each index is read from the store.
func (d *Daemon) newSearch(local *localapi.Service, fed *fedindex.Service) error {
	start := time.Now()
	own := casesearch.NewIndex()
	fedSearch := fedindex.NewSearch(d.logger.With("component", "fedindex"))
	d.store.SetHooks(store.Hooks{Cases: localapi.FollowCases(d.store, own), Fed: fedSearch.Apply})
	if err := localapi.BuildSearch(d.store, own); err != nil {
		return fmt.Errorf("%w: search index of the office's cases: %w", ErrStart, err)
	}
	if err := fedSearch.Build(d.store); err != nil {
		return fmt.Errorf("%w: search index of the federation index: %w", ErrStart, err)
	}
	var aliases casesearch.Aliases
	if d.exchange != nil {
		aliases = d.exchange.matcher
	}
	local.WithSearch(own, aliases)
	fed.WithSearch(fedSearch, aliases)
	d.logger.Info("search indexes built", "own_cases", own.Len(), "federation_cases", fedSearch.Len(), "took", time.Since(start).Round(time.Millisecond))
	return nil
}
