// Package matching finds cases of different offices that likely concern
// the same incident (design flow 2), scores each pair with a calibrated
// probability and says why in words. It is pure logic: no I/O, no clock,
// no logging. `accordctl match` runs it offline over case files; a node
// runs the same code incrementally over its federation index.
//
// # Records
//
// The engine works on a [Record]: built from a local case with
// [FromCase] (persons' tokens made by a [TokenFunc]; offline runs use
// [OfflineTokens], a fixed local key) or from a peer's shared case with
// [FromShared] (the origin's published tokens, of the origin member's own
// keys only). Persons are only ever compared as person tokens
// (persontoken: name, skeleton and birth-year tokens, compared for
// equality) and only tokens of the same key: a node's own record holds
// its own tokens and, per peer key, the tokens it obtained from that
// peer, so that it can be compared with every peer's records; two peers'
// records have no key in common and their persons say nothing.
//
// # Index
//
// An [Index] holds compiled records and their blocking keys. [Index.Add]
// adds or replaces a record, [Index.Remove] removes one, [Index.Match]
// matches one record against all others. [MatchAll] is the offline run:
// index, EM, then every candidate pair scored once.
//
// # Blocking
//
// Candidate pairs share at least one key (blocking.go): place-name
// consonant skeleton × UTC day (windows widened by 12 h, so windows less
// than a day apart always meet), geo cell (four half-shifted 0.1° grids,
// points given or learned for the place name from other cases) × day, and
// evidence hash. On dedup-dev 99.9 % of the true pairs are candidates.
//
// # Features and model
//
// Each candidate pair is compared on nine features with discrete levels
// (features.go): time windows in UTC (same hour; same hour on dates a day
// apart; overlapping; different hours of one day; within three days;
// further), place names (same phonetic fold; same consonant skeleton;
// different names at the same learned location, for renamed towns;
// similar; same name in another region; different), distance, shared
// evidence weighted 1/(df−1) by how many cases hold the item, persons
// (two or more match by name; one by name with the same birth year; one
// by name; a similar name, the skeletons agreeing; none: under the key
// both records hold, each person counted once per side),
// units (unit number, post number or folded name), Rome Statute codes
// (national codes differ between offices and are ignored), victim count,
// and title words (only agreement counts: titles are in many languages).
//
// The model is Fellegi-Sunter: m and u of every level and the match share
// lambda are estimated by EM from the candidate pairs themselves (as
// Splink does), on the histogram of distinct comparison vectors. u starts
// from an estimate on pairs known not to match that look like candidates
// (each record against the records of its places some weeks away, moved
// back: the density and agreement of candidates, but different
// incidents), m from hand-set priors that also anchor it (50 pairs per
// feature). A guard rejects a fit whose u of time, place or distance
// strays from the non-match estimate, or whose matches agree less than
// its non-matches: u is then fixed to the estimate and only m and lambda
// are fitted (and only lambda, with the prior m, if that is implausible
// too). On data without duplicates lambda then goes to zero and
// nothing matches. A pair's weight is
// log2(lambda/(1−lambda)) + Σ log2(m/u); its score the probability
// 1/(1+2^−weight). A model is a value: pass the one fitted offline to
// [NewIndex] so that online scores equal offline scores.
//
// Place folding is rule-based (fold.go): Cyrillic transliterated, marks
// stripped, consonant spellings of Ukrainian, Russian, Polish, German,
// French and English romanisations folded, vowels reduced to classes
// (fold) or dropped (skeleton). No list of places or names is used;
// locations of place names are learned from the cases that carry
// coordinates.
//
// # What it does not do
//
// It does not decide: matches are proposals for members to confirm or
// reject. EM needs true matches among the candidates to learn m; without
// them it reports (almost) none, and a model fitted on real federation
// data should be kept and reused.
package matching
