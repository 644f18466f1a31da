package persontoken

import (
	"crypto/sha256"
	"fmt"
	"testing"
)

// TestMemoSameTokens: a key answers from its memo exactly what it computes,
// and a second key (another secret) does not share the first one's memo.
func TestMemoSameTokens(t *testing.T) {
	k1, err := GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	in, err := Inputs(Person{Name: "Olena Kovalenko", BirthYear: 1971})
	if err != nil {
		t.Fatal(err)
	}
	first, err := k1.Tokens("UA/ua-1#1", in)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(k1.memo.cur); n != 5 {
		t.Fatalf("memo holds %d evaluations after one person with a year, want 5", n)
	}
	again, err := k1.Tokens("UA/ua-1#1", in)
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Fatalf("tokens from the memo differ: %+v, computed %+v", again, first)
	}
	fresh := k1.sk.Evaluate
	out, err := fresh(in.Name)
	if err != nil {
		t.Fatal(err)
	}
	if Token(out[:TokenSize]) != first.Name {
		t.Fatal("memoised name token is not the key's evaluation")
	}
	other, err := k2.Tokens("UA/ua-1#2", in)
	if err != nil {
		t.Fatal(err)
	}
	if other.Name == first.Name {
		t.Fatal("two keys gave the same token: the memo is shared")
	}
}

// TestMemoBounded: the memo keeps at most two generations, and what is
// found in the previous one moves to the current one.
func TestMemoBounded(t *testing.T) {
	var m memo
	h := func(i int) [sha256.Size]byte { return sha256.Sum256([]byte(fmt.Sprint(i))) }
	for i := range memoSize + 10 {
		m.put(h(i), Token{byte(i)})
	}
	if len(m.cur) != 10 || len(m.prev) != memoSize {
		t.Fatalf("generations of %d and %d, want 10 and %d", len(m.cur), len(m.prev), memoSize)
	}
	if tok, ok := m.get(h(3)); !ok || tok != (Token{3}) {
		t.Fatalf("an entry of the previous generation is lost: %v %v", tok, ok)
	}
	if _, ok := m.cur[h(3)]; !ok {
		t.Fatal("a hit in the previous generation did not move to the current one")
	}
	for i := range memoSize {
		m.put(h(memoSize+10+i), Token{})
	}
	if _, ok := m.get(h(5)); ok {
		t.Fatal("the memo kept an entry beyond two generations")
	}
}
