// Package importclient is the client's side of a node's ImportCases
// stream: it sends a file of the case interchange format as the options and
// then chunks of numbered lines, with bounded memory, and reads the
// result's errors as the node reports them. accordctl cases import and the
// web console's import page both use it, so that a file goes to the node,
// and its errors come back, the same way from either.
package importclient
