// Package raftnettest helps test Raft traffic between nodes of one
// process: network faults (latency, blackholes, partitions, one-way
// partitions, packet loss, resets) on real TCP connections, a logger that
// writes to the test's log, and a polling helper.
//
// A Link holds the faults of one path. Wrap puts a connection behind a
// Link; Listener does that for every connection a listener accepts. A
// Network names nodes by their listening addresses, keeps a Link for each
// pair, and gives each node a dialer (for raftnet.Config.DialContext) that
// routes its connections through the right Link, so faults can be set per
// pair, per node or for everyone.
//
// Bytes are delayed, not dropped: a blackholed link holds them (and new
// connections over it hang until their deadline), like a network that
// loses every packet until it heals; a one-way cut holds the bytes of one
// direction only; packet loss is modelled as TCP sees it, as stalls of a
// retransmission timeout (doubling on each loss in a row) that hold up the
// bytes behind; Reset closes a link's connections instead. It is for tests
// only.
package raftnettest
