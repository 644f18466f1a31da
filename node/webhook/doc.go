// Package webhook delivers the office's match events (node/matchwatch) to
// an office URL: one POST per event, a JSON body that never holds names of
// persons nor free text (no reasons, no user names: the decision's id,
// kind, state, score, the case references, the answering member and
// answer, the registry index and time), signed with HMAC-SHA256.
//
// Signature. The header
//
//	Accord-Signature: t=UNIX_SECONDS,v1=HEX
//
// carries the sending time and HEX = hex(HMAC-SHA256(secret, "UNIX_SECONDS." + body)).
// The office recomputes it over the raw body with the shared secret,
// compares in constant time, and refuses a t older than 5 minutes
// (replays). Verify shows how.
//
// Delivery. Events are delivered one at a time in the order of the
// registry's changes (so in order per decision). A network error, a 5xx
// or a 429 is retried with exponential back-off and jitter (from
// BackoffMin, capped at BackoffMax) until delivered; another 4xx is the
// office refusing the event: it is counted, logged and skipped. After each
// event the position (its registry index) is written to the node's store,
// so that a restart resumes after it: delivery is at least once (an event
// delivered just before a crash, whose position was not yet written, is
// delivered again; the office deduplicates by decision and index). The
// registry is the queue: a webhook down for long holds at most one batch
// of events in memory, and resumes from the registry by index.
package webhook
