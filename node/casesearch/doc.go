// Package casesearch finds cases by place across scripts and spellings,
// by distance from a point, and by title words: the query rules
// ([Query], one rule for the office's own cases and the federation
// index) and an in-memory search [Index] that a node builds from its
// store at start and keeps current through the store's hooks, so that a
// search answers from postings and reads only its hits from the store.
//
// # Place rule
//
// A place name is split into words and each word folded with the
// matcher's own rules (federation/matching.FoldPlace on
// federation/textfold: Cyrillic transliterated, accents and case
// dropped, hushing consonants one class, g = h, w = v, vowels reduced to
// three classes), so that Kharkiv, Харків, Charków and Charkiw fold to
// one word (harkiv). An incident's place matches the query when the
// query's words occur in it as a phrase, each word matching:
//
//   - its fold equals the place word's fold; or
//   - the query ends with * and the last word's fold (at least 2
//     letters) is a prefix of the place word's fold (partial typing:
//     Khar*); or
//   - their consonant skeletons (the fold without vowels) are equal and
//     either hold at least 3 consonants (Kharkov ~ Kharkiv: hrkv,
//     Dnepr ~ Dnipro: dnpr) or, shorter, the words have their vowels in
//     the same places (Lvov ~ Lviv: lvVv): Uman ~ Mena and Sumy ~ Izium
//     share a two-letter skeleton but not the shape, and do not match.
//
// A place whose whole fold is one of the query's aliases matches too:
// the names that the matcher learned, from incident coordinates, at a
// location within [AliasKm] of the query name's own learned location
// ([Aliases]; none when the node runs no matcher). Names that only a
// gazetteer could join (Lviv ~ Lemberg, Dnipropetrovsk ~ Dnipro) do not
// match unless cases with coordinates taught the matcher the alias.
//
// Text words are folded the same way (FoldWord of each word); a title
// matches when it holds every word of the query.
//
// Near: an incident with coordinates within the radius (great-circle
// distance) of the point. Place and near must hold for one incident.
//
// # Index
//
// Documents are keyed by a string (the office's case id, or member NUL
// case id) and return in key order. The index keeps postings of folded
// place names (each distinct name once, with its words, skeletons and
// shapes), of folded title words and of a 0.2° grid of incident points;
// a search tests the distinct place names (not the cases) against the
// rule, joins the postings and returns candidate keys after a position,
// in order. Candidates are not proof: the caller reads each from the
// store and checks the whole filter on the record (Query's Match
// methods), so that an index behind the store can only slow a page, not
// change it.
//
// # Aggregation
//
// The index also keeps, per document, what a map and a timeline need: its
// incidents in compact form (point, window to the nanosecond as
// records.IncidentWindow reads it, place term; 48 bytes each, in one
// arena in id order) and the week of its first incident, with postings of
// crime codes and (own cases) status. [Index.Aggregate] counts the
// documents a [Filter] selects (the query, a key prefix, crime code,
// status and the list calls' window rules, [Window]) exactly as the list
// calls do, into the cells of a [Grid] and weeks: without place, text or
// near it is one pass over those arrays; otherwise it intersects postings
// first. An [Aggregator] adds up documents a caller checked itself (a
// filter the index does not hold).
package casesearch
