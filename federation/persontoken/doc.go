// Package persontoken makes the person tokens through which members learn
// that they hold the same person, without any member being able to compute
// another member's tokens on its own (design rule 2 against a dishonest
// member; docs/person-encodings.md has the threat model and the measured
// attacks).
//
// Every node holds its own secret key ([Key]) of a verifiable oblivious
// pseudorandom function (VOPRF, RFC 9497, suite ristretto255-SHA512). A
// token is 16 bytes of the function's output on one whole input derived
// from a person (see [Inputs]):
//
//   - the folded name (personenc.Fold: transliterated, phonetically
//     folded, de-duplicated and sorted tokens),
//   - the skeleton of the folded name (each word's first symbol and
//     consonants, an initial h or vowel that spellings write or leave out
//     dropped, patronymics left out), which agrees where spellings differ
//     by vowels, such an onset or a patronymic,
//   - the skeleton with the birth year, when the year is known.
//
// The origin node computes its own persons' tokens directly
// ([Key.Tokens]: the year also one below and one above) and publishes them
// in its shared records. Another member obtains the tokens of its own
// persons under the origin's key only by asking the origin: it blinds its
// inputs ([NewRequest]), the origin evaluates the blinded elements without
// learning them ([Key.Evaluate]) and proves with a batched DLEQ proof that
// it used the key it published, and the asker unblinds ([Request.Finish]).
// Each evaluation is one guess the origin counts, rate-limits and audits;
// nothing a member holds lets it compute a token of another member's key
// offline, and no key ever leaves its node (not in the registry, not in a
// shared record).
//
// Tokens are compared only with tokens of the same key ([Compare]): equal
// name tokens are the same folded name, equal skeletons a similar one, and
// the year tokens say same, near (±1) or different year.
//
// The package is pure logic: no I/O besides the random source, no clock, no
// logging, and no error message that contains a name or key material.
package persontoken
