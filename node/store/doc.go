// Package store is a node's evidence index: the office's own cases (with
// their incidents, perpetrators, persons and evidence references), the
// evidence items with where their content is kept in the office's vault, and
// each item's chain of custody, in one embedded bbolt file.
//
// The schema (every bucket, key encoding and index) is declared in
// schema.go. Every write is one bbolt transaction, fsynced before the call
// returns; an import batch is one transaction too, so a case is never half
// written, whatever happens to the process. The store carries a schema
// version and refuses a file written by a newer version, or holding another
// member's cases.
//
// It also holds the federation index: the other members' signed records
// (FedApply, FedScan, FedGet by key). In-memory indexes follow the store
// through Hooks (SetHooks), called after each commit with the own cases it
// changed and the federation records it stored or dropped.
//
// The store does not validate the interchange format (node/caseformat does)
// and does not talk to anyone: it is what the node's local API and, later,
// the federation exchange read from.
package store
