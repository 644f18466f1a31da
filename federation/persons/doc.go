// Package persons is person matching between members without a shared
// secret (design rule 2 against a dishonest member): the node's own
// person-token keys ([KeyRing]), the service through which other members'
// nodes obtain tokens of their own persons under those keys ([Service]:
// blinded evaluations, counted against budgets, audited), the node's side
// of asking other members' nodes ([Asker], with a cache for the matcher),
// and the register of interviewed persons ([Lookup]).
//
// The cryptography is in federation/persontoken; docs/person-encodings.md
// has the threat model, the budgets and the measured attacks.
package persons
