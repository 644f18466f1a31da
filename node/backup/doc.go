// Package backup makes and restores backups of a node's data: the store
// (a consistent copy made in one read transaction while the node serves),
// the audit log, the record-signing key, and a snapshot of the registry's
// state, in one tar archive with a manifest that names the member and node
// and carries the SHA-256 of every file.
//
// The node encrypts each archive as it writes it, with age (X25519), to
// the office's recipients ([Encryption]; configuration backup.recipients):
// the plain archive never leaves the node's process, and an admin's
// credentials alone do not yield the office's cases or the node's key.
// Without recipients a backup is refused ([ErrNoRecipients]) unless plain
// archives are explicitly allowed. [WriteIdentity] makes a key pair in
// age-keygen's format.
//
// [Restore] decrypts with the identities given and checks every file
// against the manifest before it changes anything in the data folder: a
// wrong key ([ErrWrongKey]), an archive that is not age-encrypted although
// identities were given, a damaged or cut one (age authenticates each
// chunk and the end), another member's backup ([ErrInvalid]) change
// nothing. It writes the store and the signing key into an empty data
// folder (or, with force, over an existing one, keeping the old files
// beside with a .replaced suffix, never overwriting one); a restore that
// was killed can be run again.
//
// The audit log is a hash chain that must never be cut or rewritten, so a
// restore does not simply put the backup's log back: the log that holds
// the other becomes (or stays) the live one — normally the node's own,
// which is newer than the backup's — and when the node's is missing or
// damaged the backup's comes back and the history after it is recorded as
// missing. Either way the live log gets an entry of kind
// audit.KindRestored (the node, the archive's SHA-256, the backup's place
// in the chain, what became of the history).
//
// It does not restore the registry's Raft state: a registry server's state
// is the group's, and a restored server catches up from the group when it
// starts (a founding server rejoins with its founding configuration). The
// registry snapshot is kept in the data folder
// (restored/registry-state.jsonl) for the record and for rebuilding a
// federation that lost every server. The restored store's feed gets a new
// epoch (store.RenewFeedEpoch): peers resync from it from the start, since
// its feed went back to the backup's head.
//
// The service (accord.v1.NodeAdminService) is for admins of the node's own
// member on the local API.
package backup
