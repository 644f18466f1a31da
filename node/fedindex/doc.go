// Package fedindex is the office's view of what the other members share:
// accord.v1.FederationIndexService on the node's local API, for users of
// the node's own member only.
//
// ListFederationCases reads the node's federation index (the other
// members' signed records that the exchange's puller verified and stored,
// node/store FedScan), decodes each record (SignedRecord, then FeedRecord)
// and filters the shared cases: by member, by crime code (exact), by title
// words (text), and by incident: a place across scripts and spellings
// (node/casesearch's rule: the words folded with the matcher's rules,
// compared as a phrase, consonant skeletons where they do not collide,
// and the aliases the matcher learned from coordinates), a point and
// radius, and a window [start, end) (end empty: start + 1h) that overlaps
// [from 00:00Z, to+1 day 00:00Z). Place, near and dates must hold for the
// same incident. Results come in (member, case id) order, a page at a
// time; the page token (node/pagetoken) carries the last member/case id
// returned and is bound, under the store's page-token key, to the caller
// and the filters (the place folded), so that a token of another query or
// another caller, or an altered one, is refused with InvalidArgument
// naming page_token.
//
// A query with place, near or text is answered from Search, the
// in-memory search index of the federation index (node/casesearch), built
// at start (Build) and kept current by the store's hook after every
// commit that stores or drops a record (Apply): it gives candidates in
// order, and each is read from the store (FedGet) and checked on its
// record. Other queries scan the index from the start (skipping records
// before the token's position without decoding them).
//
// AggregateFederationCases counts every case that ListFederationCases
// returns for the same filters into grid cells of their incident points
// (within an optional box) and weeks of their first incidents, from
// Search's compact per-case data (casesearch.Index.Aggregate); without a
// search index, from a scan of the records with the list's own filter.
//
// GetFederationCase reads one record by its key (store.FedGet): NotFound
// when the index holds none (never received, withdrawn, or not shared
// with this member, which the node cannot tell apart).
//
// FederationStatus joins the puller's per-member status with the number
// of records the index holds per member, and adds this node's own feed:
// its head and how many changes wait to be published.
//
// Errors wrap node/grpcserver's sentinels; gRPC codes come from its one
// mapping.
package fedindex
