// Package matcher runs cross-country matching inside a node: it keeps the
// matching engine's index (federation/matching) of the office's own cases
// and of the other members' shared cases in the federation index, matches
// each case that arrives or changes against everything else, and proposes
// every new match between one of the office's cases and another member's
// to the registry as a match decision, with its score, reasons and the case
// versions it was found on. Each involved member then confirms or rejects
// for itself (accordctl matches).
//
// One proposal per pair: of the members involved, the one with the lowest
// member code proposes (every node sees the same pair; the registry would
// refuse the second proposal anyway). A pair the members rejected is
// proposed again only when one of its cases changed (its version): the
// registry enforces it.
//
// Only what leaves the office is matched, as it leaves it: each of the
// office's cases enters the index as its shared projection
// (records.Project, what the publisher sends: persons as keyed encodings
// under the federation's registry key, names never), national cases not
// at all. A match naming one of the office's jit cases is proposed only to
// a member that may see the case (Options.JITVisible, the exchange's
// rule), and otherwise withheld; the reasons of a match with a jit case
// carry no value of either record (matching.Match.Bare), because the
// registry replicates every proposal to every member's server.
package matcher
