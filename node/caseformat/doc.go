// Package caseformat reads, checks and writes the case interchange format
// (version 1, JSON Lines) that FORMAT.md specifies: one case per line, as an
// office brings its case register into its node and takes it out again.
//
// Parse turns one line into an accordv1.Case and checks it for the
// importing node's member, reporting every problem of the line as a
// FieldError that names the line number, the field (a path such as
// incidents[0].lat) and the reason. Validate applies the same rules, with the
// same field paths, to a case that came through the API. Encode writes a case
// as one line. Reader splits a file into numbered lines.
//
// Parsing is stricter than encoding/json, to protect offices from silent
// mistakes: unknown fields (a misspelt sensitivity field must not quietly
// fall back to federation-wide sharing), duplicate keys, JSON null, values of the wrong
// JSON type (victim_count "3" or 3.5), invalid UTF-8 and anything after the
// object are all errors. Absent status and sensitivity are stored as their
// defaults (investigation, and national: a case is shared only when the
// office says so; [Defaults]), so that an export writes them out.
//
// Names of persons are personal data: no error of this package ever contains
// the value of a person's name (nor a key of a person object that is not one
// of the format's fields, which might be a name written in the wrong place).
//
// The package does not store cases and does not know gRPC: node/caseimport
// and the local API use it.
package caseformat
