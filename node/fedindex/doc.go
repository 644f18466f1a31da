// Package fedindex is the office's view of what the other members share:
// accord.v1.FederationIndexService on the node's local API, for users of
// the node's own member only.
//
// ListFederationCases reads the node's federation index (the other
// members' signed records that the exchange's puller verified and stored,
// node/store FedScan), decodes each record (SignedRecord, then FeedRecord)
// and filters the shared cases: by member, by crime code (exact), and by
// incident: a place whose folded name (node/store.NormalizePlace: case and
// accents ignored) contains the text asked for, and a window [start, end)
// (end empty: start + 1h) that overlaps [from 00:00Z, to+1 day 00:00Z).
// Place and dates must hold for the same incident. Results come in
// (member, case id) order, a page at a time; the page token
// (node/pagetoken) carries the last member/case id returned and is bound,
// under the store's page-token key, to the caller and the filters, so that
// a token of another query or another caller, or an altered one, is
// refused with InvalidArgument naming page_token. The index has no
// secondary indexes: each page scans it from the start (skipping records
// before the token's position without decoding them).
//
// FederationStatus joins the puller's per-member status with the number
// of records the index holds per member, and adds this node's own feed:
// its head and how many changes wait to be published.
//
// Errors wrap node/grpcserver's sentinels; gRPC codes come from its one
// mapping.
package fedindex
