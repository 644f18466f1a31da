// Package clusters keeps the office's incident clusters: the office's own
// and other members' cases that the match decisions its member is involved
// in link together (proposed or confirmed; a rejected decision links
// nothing), as connected components. 291 incidents investigated by three
// to five members are 3 to 10 pair decisions each; a cluster is the one
// thing an analyst answers for ("these are my cases of this incident").
//
// The graph is derived, kept in memory and never replicated: each node
// builds its own member's from the registry (registry.View
// MatchDecisionsChangedSince, in the order of the decisions' latest
// changes) and follows it incrementally (Follow): a new or changed
// decision links its cases (components merge, the smaller into the
// larger), a rejected one unlinks them (only its component is searched
// again, and splits when the cases no longer meet). A member sees only
// the decisions it is involved in (DESIGN rule 9), so two members' nodes
// may cut the same incident differently: a cluster is always one office's
// view.
//
// A cluster's id is that of the lowest decision it holds
// ("cluster-000123" for match-000123): stable while that decision links
// it, and a new id when that decision is rejected or the cluster splits.
//
// Chaining guard. Connected components chain: A ~ B and B ~ C puts A and
// C together although nothing says that they are alike. Each cluster's
// cases are compared pairwise with a Scorer (the node's matcher, which
// holds every shared case the office may see, its own included); a pair
// neither linked by a decision nor scored at or above the threshold is a
// weak pair, and a cluster with one is flagged. Where it would split is
// the decision (a bridge: removing it disconnects the cluster) that
// separates the most weak pairs, the lowest score first.
//
// Withdrawn cases (deleted at their office, or no longer shared) are left
// out: their decisions stay in the registry, but link nothing here until
// the case comes back.
package clusters
