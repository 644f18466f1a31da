// Package personenc makes privacy-preserving, keyed encodings of persons
// (victims, witnesses, suspects) so that two offices can learn that they
// hold the same person without either learning the other's name (design
// rule 2). It is pure logic: no I/O, no clock, no logging, and no error
// message that contains a name, a token or key material.
//
// The threat model, the known attacks on Bloom-filter encodings, what this
// design mitigates and what it does not, and the operational rules are in
// docs/person-encodings.md. This comment says what the code does.
//
// # Keys
//
// [NewKey] derives three 32-byte subkeys (bigrams, birth-year tags, noise)
// from the federation's key material in the registry with HKDF-SHA256; the
// info string binds them to the purpose "accord person encoding v1", the
// federation's name and the key version, so material is never reused across
// federations, versions or purposes. An [Encoder] holds the current key and,
// during a rotation, previous keys; [Encoder.EncodeAll] encodes under all of
// them so that peers that have not rotated yet can still compare.
//
// # Normalisation (version n1)
//
// Deterministic and rule-based, without any table of names:
//
//  1. NFC, lower case; Ukrainian and Russian Cyrillic transliterated (г and
//     ґ → g, и and ы → y, і → i, ї → yi, є → ye, ё → yo, й → j, х → kh,
//     ц → ts, ч → ch, ш → sh, щ → shch, ъ and ь dropped); Latin letters NFKD
//     cannot decompose mapped (ł → l, ß → ss, Polish ć → cz, ż → zh, Czech
//     and ISO 9 š č ž ŝ). Then NFKD and every combining mark removed.
//  2. Tokens are maximal runs of letters; apostrophes inside a word are
//     dropped, everything else separates. Tokens are de-duplicated and
//     sorted: word order ("KOVALENKO Olena") does not matter.
//  3. Each token is folded phonetically. A token-initial h or g before e or
//     i is dropped (Helena/Elena). Consonant spellings, longest first:
//     tsch, sch, tch, sh, zh, cz, sz → S (one hushing class for ш ж ч щ);
//     ch → h in a token with a Polish or German marker (cz, sz, rz, w, sch),
//     else S (English ч, French ш); kh, gh, g → h (Ukrainian г = h, Russian
//     г = g); ts, tz, c, z, s → s (ц з с); w → v; ck, q → k; ph → f; th → t;
//     x → ks. Every run of vowels and glides (a e i o u y j) becomes one
//     symbol: a for a token-initial run (Olena/Alena/Elena, Ihor/Igor), else
//     i for a run ending in yo/io/jo (Russian ё ~ Ukrainian е: Пётр/Петро),
//     else the class of its last letter: a (a, o), i (e, i, y, j), u (u), so
//     ya/ja/ia → a, yu/ju/iu/ou → u, iy/ij/ii → i. Repeated symbols collapse.
//
// So Олена Коваленко, Olena Kovalenko, Elena Kowalenko, Helena Kowalenko and
// Алёна Коваленко all fold to {alina, kavalinka}; Шевченко, Shevchenko,
// Schewtschenko, Szewczenko and Chevtchenko to SivSinka. Russian and
// Ukrainian forms of a given name that differ by more than spelling
// (Nikolay/Mykola, Vladimir/Volodymyr) do not fold together; a table of
// name equivalents would be needed and is deliberately not used.
//
// # Encoding
//
// A Cryptographic Long-term Key style Bloom filter of m bits ([Config.Bits],
// default 1024): for every padded bigram (^a al ... a$) of every folded
// token, and for every whole folded token once, k positions ([Config.Hashes],
// default 8) are set. The positions are independent 16-bit pieces of
// HMAC-SHA256 under the bigram subkey ("random hashing"), not double
// hashing, whose arithmetic progressions the pattern attacks exploit. The
// whole-token gram makes agreement of whole words count beyond their
// bigrams.
//
// Hardening (BLIP, [Config.FlipProbability], default 0.02): every bit is then
// flipped with probability p by a ChaCha8 stream keyed with HMAC of the
// noise subkey over the folded tokens. This is permanent randomized response:
// the same folded name always gets the same noise, so encoding is
// deterministic and exact-fold matches still compare at 1.0, while a peer
// can never average the noise away by asking again. [Config.Epsilon] is the
// per-bigram ε = 2k·ln((1−p)/p) (62 for the default; a weak formal bound,
// see the doc). Its measured cost: spellings that do not fold to the same
// tokens lose similarity (Dice of Olena Koval vs Olena Kovalenko drops from
// about 0.87 to 0.71), so [Threshold] is 0.75 for the default scheme.
//
// The birth year is not in the filter (it would dilute the name and is
// easily guessed): it is a separate field of three truncated HMAC tags of
// year−1, year and year+1 under the year subkey, so [Compare] reports same,
// near (±1) or different without the year itself being in the encoding.
//
// [Compare] returns the Dice coefficient of the filters and the year
// agreement, and refuses (sentinel errors) encodings of different key
// versions or schemes. The Scheme field fingerprints m, k, p, the
// normalisation version and the token weight.
//
// # Wire form
//
// [Encoding.Marshal] writes a compact, versioned binary form (185 bytes
// with a year, 137 without, at m = 1024) that [Unmarshal] parses strictly.
//
// # What it does not do
//
// It does not decide that two persons are the same: it yields a similarity
// that the matching engine combines with other evidence. It does not stop a
// member who holds the key from testing guessed names (see the doc), and it
// does not store, send or log anything.
package personenc
