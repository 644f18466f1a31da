// Package auditapi is accord.v1.AuditService on the local API: the node's
// audit log (node/audit) a page at a time, newest first, with the
// verification of its hash chain, for the users of the node's own member
// (the web console's audit page, the JSON gateway's GET /v1/auditEntries).
// The node decides who reads it, not its clients: another member's users
// and nodes are refused.
//
// Each call reads the log file once, checking every line and link as
// accordctl audit verify does (node/audit's Scan) while it keeps the
// page: the whole chain is checked at every call, so that a page never
// shows entries as verified that the file no longer backs. That costs a
// read of the file per page (docs/BENCHMARKS.md).
package auditapi
