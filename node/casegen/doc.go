// Package casegen generates synthetic cases of the case interchange format
// (FORMAT.md), deterministically from a seed, in the shape of the shared dev
// dataset: one or two incidents in Ukrainian towns and cities with time
// windows of an hour, a day or a week in Kyiv's local time, coordinates on
// about three incidents in four, Rome Statute and Ukrainian criminal code
// references, alleged perpetrators, victims and witnesses, and about four
// evidence items per case.
//
// It is for benchmarks (a file of a million cases) and demonstrations, not
// for evaluating matching: places are real settlements with approximate
// coordinates, but the incidents, people and units are made up, and two
// generated cases are never meant to concern the same incident. Person
// names are composed from common Ukrainian first names and surnames; unit
// names use generic numbers.
//
// Generate streams cases to a callback in constant memory; WriteJSONL writes
// them as lines with caseformat.Encode. The same Options give the same cases,
// byte for byte, on every run and platform.
//
// GenerateFederation is the exception, for evaluating matching: it generates
// the cases of several members about common incidents (a share of them
// investigated by two or three members, each writing its cases its own way:
// title language, rule-based transliteration of the Ukrainian names, UTC or
// Kyiv time, precision, coordinates, unit names, crime codes, shared
// evidence), and reports the pairs of cases that concern a common incident,
// as a dataset's truth.jsonl lists them.
package casegen
