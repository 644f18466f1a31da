// Package redact finds names of persons and birth years in free text that
// is about to leave the office, and blanks them (design rule 2: names never
// cross in clear, free text included, in any inflected form).
//
// A [Names] holds the names to look for (the persons of a case, and of the
// whole office's store) as folded stems: each word of a name (three letters
// or more) is folded with federation/textfold (any Unicode normalisation
// form, case, marks, Cyrillic transliterated to Latin, transliteration
// variants and hushing consonants one class), and its nominative vowel
// ending dropped. A word of the text is a name when its fold is such a stem
// followed by one of the inflection endings of Ukrainian, Russian, Polish or
// German (and the English possessive), folded the same way: Гриценка,
// Гриценкові, Hrytsenko's, Hryzenkos, Тараса, Kowalskiego, Петровой all
// meet their nominative. The k/h ~ s alternation of a dative (Ользі,
// Szewczence) and a fleeting vowel (Кравець ~ Кравця) are handled; names
// derived into other words (a village named after a person, Serhiivka) are
// not names and stay.
//
// [Text] replaces each such word with "[…]", and also the year of a
// birth-year phrase in any of these languages ("(born 1975)", "b. 1975",
// "1975 р.н.", "geb. 1975", "ur. 1975", "1975 г.р.", "*1975") and a known
// birth year standing next to a blanked name ("[…], 1975"). It says how
// many it blanked, never which: callers count per field, and nothing here
// logs or returns the words found.
//
// It is not the person-encoding scheme (federation/personenc), and it does
// not decide what is shared (federation/records does, calling it on every
// free-text field of a shared case).
package redact
