package merkle

import "crypto/sha256"

// LeafHash is the hash of a leaf: SHA-256 of 0x00 and its data.
func LeafHash(data []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(data)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func nodeHash(l, r []byte) [32]byte {
	var buf [65]byte
	buf[0] = 1
	copy(buf[1:], l)
	copy(buf[33:], r)
	return sha256.Sum256(buf[:])
}

// split is the largest power of two smaller than n (n > 1).
func split(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// Root computes the tree hash of leaves (leaf hashes, at least one).
func Root(leaves [][32]byte) [32]byte {
	if len(leaves) == 1 {
		return leaves[0]
	}
	k := split(len(leaves))
	l, r := Root(leaves[:k]), Root(leaves[k:])
	return nodeHash(l[:], r[:])
}

// Path returns the audit path of leaf m, leaf side first (Tree computes
// every leaf's at once).
func Path(m int, leaves [][32]byte) [][]byte {
	if len(leaves) <= 1 {
		return nil
	}
	k := split(len(leaves))
	if m < k {
		r := Root(leaves[k:])
		return append(Path(m, leaves[:k]), r[:])
	}
	l := Root(leaves[:k])
	return append(Path(m-k, leaves[k:]), l[:])
}

// Tree returns the root of leaves (leaf hashes, at least one) and every
// leaf's audit path at once, computing each subtree hash once (Path does
// it again for every leaf).
func Tree(leaves [][32]byte) ([32]byte, [][][]byte) {
	paths := make([][][]byte, len(leaves))
	depth := 0
	for n := 1; n < len(leaves); n <<= 1 {
		depth++
	}
	for i := range paths {
		paths[i] = make([][]byte, 0, depth)
	}
	return subtree(leaves, 0, len(leaves), paths), paths
}

func subtree(leaves [][32]byte, lo, hi int, paths [][][]byte) [32]byte {
	if hi-lo == 1 {
		return leaves[lo]
	}
	k := split(hi - lo)
	l := subtree(leaves, lo, lo+k, paths)
	r := subtree(leaves, lo+k, hi, paths)
	ls, rs := l[:], r[:]
	for i := lo; i < lo+k; i++ {
		paths[i] = append(paths[i], rs)
	}
	for i := lo + k; i < hi; i++ {
		paths[i] = append(paths[i], ls)
	}
	return nodeHash(ls, rs)
}

// RootFromPath recomputes the root from a leaf hash, its index, the leaf
// count and its audit path (RFC 9162, 2.1.3.2). ok is false when the path
// has the wrong length for the index and count.
func RootFromPath(leaf [32]byte, index, count uint64, proof [][]byte) (out [32]byte, ok bool) {
	if index >= count {
		return out, false
	}
	fn, sn := index, count-1
	r := leaf
	for _, p := range proof {
		if len(p) != 32 || sn == 0 {
			return out, false
		}
		if fn&1 == 1 || fn == sn {
			r = nodeHash(p, r[:])
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = nodeHash(r[:], p)
		}
		fn >>= 1
		sn >>= 1
	}
	return r, sn == 0
}
