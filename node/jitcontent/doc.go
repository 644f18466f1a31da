// Package jitcontent keeps a node's joint investigation teams readable to
// its own office and unreadable to everyone else.
//
// A Keyring holds the node's X25519 key for JIT content
// (<data_dir>/jit.key, mode 0600, made on first start; its public key is
// registered in the member's record as an encryption key). With it the
// node:
//
//   - seals the free text of the commands its users send before it signs
//     them (Seal): a new team's name, legal basis and agreement reference
//     under a fresh team key wrapped for its own member's keys, and the
//     title, text and deletion reason of entries in an encrypted team under
//     the team key of the current epoch;
//   - opens what its users read (OpenJIT, OpenVersions); content it has no
//     key for reads "(encrypted: waiting for the team key)";
//   - keeps the team keys where they belong (Maintain): it wraps the keys
//     it holds for accepted members (and their nodes' keys) that have no
//     wrap yet, and, when a member that held the current key is no longer
//     accepted (it left), rotates the key to a new epoch wrapped for the
//     remaining members only.
//
// The cryptography is in federation/teamkey; what the state machine checks
// is in federation/registry/jitcrypt.go. This package never logs plaintext
// of team content or names of persons.
package jitcontent
