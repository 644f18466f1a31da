// Package caseimport imports lines of the case interchange format into a
// node's store, the way FORMAT.md demands: every line is validated before
// anything is written; by default a single invalid line means nothing is
// imported (and every error is reported with its line, field and reason);
// with SkipInvalid the valid lines are imported; a case is never half
// written, and importing the same lines again changes nothing.
//
// Phase one parses and validates lines on every core and spools the valid
// cases, in order, to a temporary file; phase two writes them to the store
// in batches, one transaction each. A crash in phase two leaves whole cases
// only, and running the import again completes it.
//
// The package knows neither gRPC nor files: callers hand it lines (the local
// API's ImportCases stream, a benchmark) and receive progress and a result.
package caseimport
