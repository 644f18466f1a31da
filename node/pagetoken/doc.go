// Package pagetoken makes and checks the page tokens of the local API's
// paged RPCs (CaseService.ListCases, FederationIndexService.
// ListFederationCases).
//
// A token carries the position after which the next page starts, and is
// bound to the caller that asked for the page and to the query (the RPC
// and its normalised filters) with an HMAC-SHA256 under a node-local key
// (node/store keeps it). A token used by another caller, for another
// query, altered, cut, or not made by this node is refused with an error
// that says which; the services answer InvalidArgument naming page_token.
// The page size is not bound: a caller may change it between pages.
//
// The position is not secret (the caller was served the record it names)
// and travels in clear; the caller and the query travel only as keyed
// digests, so a token says nothing about who asked what.
//
// The package does not know gRPC or the store.
package pagetoken
