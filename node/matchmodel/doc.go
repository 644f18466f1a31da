// Package matchmodel serves the node's matching model on the local API
// (accord.v1.MatchingService): the prior, and m, u and weight of every
// level of every comparison the matcher scores with, and when and on what
// it was fitted, so that an analyst can read why scores are what they are
// (docs/matching.md "Explained scores"). It reads the model from
// node/matcher; it does not fit or change it.
package matchmodel
