// Package audit is a node's audit log of federation traffic: an
// append-only, hash-chained file of what the node sent, received and
// served, to whom, and what it refused (DESIGN.md, rule 6).
//
// # What it holds, and what never
//
// An entry says which peer (member code and the identity URI of its node's
// certificate), what kind of exchange, and a small machine-readable object:
// counts, feed sequence ranges, a cursor, a reason code, and at most
// [MaxCaseIDs] case ids (the rest counted). It never holds record content,
// and never a person's name: case ids, cursors and reason codes are
// restricted to identifier alphabets (no spaces, no free text), so a name
// cannot enter the log through them. The package logs (log/slog, passed
// in) paths, line numbers, sequence numbers, hashes and key fingerprints
// only.
//
// # The file
//
// One file, <dir>/audit.log, of JSON lines, one entry per line, in seq
// order, opened with an exclusive flock so that a second writer (another
// accordd, or a second [Open] in the same process) is refused with
// [ErrLocked]. A line is exactly what the log writes: the fields in the
// order seq, time, kind, peer, peer_id, what (records, from_seq, to_seq,
// case_ids, more_cases, cursor, reason), key, sig, prev, hash; zero
// optional fields left out; no spaces; time in UTC as RFC 3339 with
// nanoseconds and trailing zeros dropped (Go's time.RFC3339Nano); hashes in
// lower-case hex. For example:
//
//	{"seq":7,"time":"2026-03-01T10:00:00.5Z","kind":"served","peer":"PL","peer_id":"spiffe://accord.example/member/PL/node/pl-1","what":{"records":120,"from_seq":1001,"to_seq":1120,"case_ids":["UA-2022-000001"],"more_cases":119,"cursor":"c1120"},"prev":"<64 hex>","hash":"<64 hex>"}
//
// A reader refuses any other spelling of an entry (a field added, repeated
// or reordered, upper-case hex, another time zone), so that every byte of
// the file is either covered by the hash or fixed by this format.
//
// # The chain and the canonical encoding (version 1)
//
// Entry n has seq n (from 1, no gaps); its prev is the hash of entry n-1
// (64 zeros, [ZeroHash], for entry 1); its time is never before entry
// n-1's. Its hash is SHA-256 over this byte string, never over the JSON
// line:
//
//	str("accord-audit-entry-v1")      domain-separation and version tag
//	u64(seq)
//	u64(time's Unix seconds)          int64, two's complement
//	u32(time's nanoseconds)           0..999,999,999
//	str(kind)                         its name: "sent", "received", "served",
//	                                  "refused", "nudged", "resync", "anchor",
//	                                  "withheld", "restored", "evaluated",
//	                                  "lookup"
//	str(peer)                         member code; empty for an anchor
//	str(peer_id)                      identity URI; empty for an anchor
//	u64(what.records)                 0 when absent
//	u64(what.from_seq)
//	u64(what.to_seq)
//	u64(number of case ids) str(case id) ...   in the order stored
//	u64(what.more_cases)
//	str(what.cursor)
//	str(what.reason)
//	str(key)                          the 32 raw bytes of the anchor's key
//	                                  fingerprint; empty (u64(0)) otherwise
//	str(sig)                          the raw signature bytes (base64
//	                                  decoded); empty otherwise
//	prev                              the 32 raw bytes of the previous hash
//
// where str(x) is u64(len(x)) followed by the bytes of x, and u64 and u32
// are big-endian unsigned integers of 8 and 4 bytes. Only hash itself is
// not covered. The layout is fixed; a change makes a new tag ("...-v2").
//
// # Durability and crashes
//
// [Log.Append] returns once its entries are written and fsynced: an
// acknowledged entry survives a crash. Appends from many goroutines are
// grouped by the log's writer into one write and one fsync. A crash in the
// middle of a write can leave an unfinished last line (bytes after the last
// newline); it never held an acknowledged entry, and [Open] cuts it off
// with a warning. Complete lines of a batch that was being written when
// the process died can survive although the append was not acknowledged:
// they are valid entries (the log may say a little more than was
// acknowledged, never less). Any other damage (a complete last line that
// is not an intact entry, or does not link to the line before it) makes
// Open fail with [ErrCorrupt] naming the line. Open reads only the tail;
// [Verify] reads everything. After a failed write or fsync the log refuses
// appends ([ErrWriteFailed]) until it is opened again.
//
// [Verify] reports an unfinished last line in Report.TornBytes but does not
// count it as a break: it is what a crash leaves and what a reader sees
// while a write is in progress, and it held no acknowledged entry.
//
// # What the chain shows, and what it cannot
//
// [Verify] finds the first entry whose content was changed (its hash no
// longer matches), that was removed, duplicated or moved (seq and prev no
// longer link), or whose line was rewritten in another spelling, and names
// its line and seq. It cannot, from the file alone, see whole lines cut
// off the end: the rest is a valid, shorter log. Nor can a bare hash chain
// stop someone who can write the file from rewriting it all and
// recomputing every hash. Anchors address both.
//
// # Anchors
//
// With Options.Signer set (normally the key of the node's TLS certificate:
// ECDSA on P-256, P-384 or P-521, or Ed25519), the log ends a batch with an
// anchor entry every Options.AnchorEvery entries (and, optionally, every
// Options.AnchorInterval), and [Log.Close] ends the file with one; so does
// the first batch after an Open whose last entry was not an anchor. An
// anchor has kind "anchor", no peer and no what; key is the lower-case hex
// SHA-256 of the signer's DER SubjectPublicKeyInfo ([KeyID]); sig is the
// signature (ASN.1 DER ECDSA, or pure Ed25519) over
//
//	SHA-256( str("accord-audit-anchor-v1") u64(seq) u64(seconds) u32(nanos)
//	         prev(32 bytes) key(32 bytes) )
//
// that is, over the anchor's own position and the hash of the entry before
// it, which commits to the whole log up to there. Each anchor is logged at
// Info level (seq, hash, key) and passed to Options.OnAnchor: copies kept
// outside the file are witnesses.
//
// [VerifyWith] checks anchor signatures with the public keys given: then
// rewriting any entry before the last anchor is detected even if every
// hash was recomputed. Cutting whole lines off the end is detected when
// (a) a witness (an anchor's seq and hash held elsewhere) lies beyond the
// new end, or (b) VerifyOptions.RequireAnchoredTail is set for a log that
// was closed cleanly, and the cut is not exactly at an earlier anchor.
// Entries after the last anchor that any witness saw remain unprotected
// against being cut off: keep AnchorEvery small, or hand heads
// ([Log.Head]) to witnesses more often, where that matters.
//
// # What it does not do
//
// It does not rotate or compact the file, does not index it (Scan reads
// from the start), and does not decide what is audited: the federation
// exchange calls Append for each batch it sends, receives, serves or
// refuses.
package audit
