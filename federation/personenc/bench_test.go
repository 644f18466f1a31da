package personenc

import "testing"

func BenchmarkEncode(b *testing.B) {
	e := testEncoder(b, DefaultConfig(), testKey(b, "bench", 1, "bench key material 0123"))
	p := Person{Name: "Олена Коваленко", BirthYear: 1978}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Encode(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompare(b *testing.B) {
	e := testEncoder(b, DefaultConfig(), testKey(b, "bench", 1, "bench key material 0123"))
	x, _ := e.Encode(Person{Name: "Олена Коваленко", BirthYear: 1978})
	y, _ := e.Encode(Person{Name: "Elena Kowalenko", BirthYear: 1979})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compare(x, y); err != nil {
			b.Fatal(err)
		}
	}
}
