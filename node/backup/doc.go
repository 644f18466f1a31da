// Package backup makes and restores backups of a node's data: the store
// (a consistent copy made in one read transaction while the node serves),
// the audit log, the record-signing key, and a snapshot of the registry's
// state, in one tar archive with a manifest that names the member and node
// and carries the SHA-256 of every file.
//
// Restore writes the store, the audit log and the signing key into an
// empty data folder (or, with force, over an existing one, keeping the old
// files beside with a .replaced suffix, never overwriting one) after
// checking every file against the manifest; a restore that was killed can
// be run again. It does not restore the registry's Raft state: a registry
// server's state is the group's, and a restored server catches up from the
// group when it starts (a founding server rejoins with its founding
// configuration). The registry snapshot is kept in the data folder
// (restored/registry-state.jsonl) for the record and for rebuilding a
// federation that lost every server. The restored store's feed gets a new
// epoch (store.RenewFeedEpoch): peers resync from it from the start, since
// its feed went back to the backup's head.
//
// The service (accord.v1.NodeAdminService) is for admins of the node's own
// member on the local API.
package backup
