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
// Persons are compared through the federation's keyed encodings: the
// office's own cases are encoded with the same registry key as the shared
// records its peers send, so names never enter the index.
package matcher
