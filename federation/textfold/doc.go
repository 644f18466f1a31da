// Package textfold folds words written in any script and transliteration
// to one comparable spelling: Ukrainian, Russian and Belarusian Cyrillic
// transliterated to Latin, Latin letters without a decomposition mapped
// (ł ß ø …), marks stripped (any Unicode normalisation form in, one out),
// case folded, apostrophes dropped inside a word ([Words]); then a
// phonetic fold that makes transliterations of one pronunciation equal
// ([FoldWord]: Kharkiv, Charkiw, Charków, Харків → harkiv; hushing
// consonants one class S, g = h, w = v, vowel runs three classes) and its
// consonant skeleton ([SkeletonWord]); and the edit distance that
// suggests the closest known name for a mistyped one ([EditDistance]).
//
// It is the one home of these tables: federation/matching compares place,
// region, unit and title words with them, and federation/redact finds
// person names in free text with them. It is pure logic, rule-based and
// free of any list of names or places. It is not the person-encoding
// normalisation (federation/personenc keeps its own, versioned, because
// every encoding's fingerprint depends on it).
package textfold
