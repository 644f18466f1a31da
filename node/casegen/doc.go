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
package casegen
