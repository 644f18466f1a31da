package merkle

import (
	"fmt"
	"testing"
)

func TestMerklePaths(t *testing.T) {
	for n := 1; n <= 33; n++ {
		leaves := make([][32]byte, n)
		for i := range leaves {
			leaves[i] = LeafHash([]byte(fmt.Sprint(i)))
		}
		want := Root(leaves)
		rt, paths := Tree(leaves)
		if rt != want {
			t.Fatalf("n=%d: tree's root differs", n)
		}
		for m := 0; m < n; m++ {
			if fmt.Sprint(paths[m]) != fmt.Sprint(Path(m, leaves)) {
				t.Fatalf("n=%d m=%d: tree's path differs", n, m)
			}
			got, ok := RootFromPath(leaves[m], uint64(m), uint64(n), Path(m, leaves))
			if !ok || got != want {
				t.Fatalf("n=%d m=%d: path does not lead to the root", n, m)
			}
			// The path of leaf m does not prove another leaf. (The leaf
			// count is bound by the signature, not by the path.)
			if n > 1 {
				other := leaves[(m+1)%n]
				if got, ok := RootFromPath(other, uint64(m), uint64(n), Path(m, leaves)); ok && got == want {
					t.Fatalf("n=%d m=%d: path proves another leaf", n, m)
				}
			}
		}
	}
}
