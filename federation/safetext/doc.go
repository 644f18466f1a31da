// Package safetext says which characters text from an import or from
// another member may not carry, and shows any text safely on a terminal.
//
// Refused ([Check]): C0 controls (U+0000–U+001F, tab and line feed only
// where a field allows several lines), DEL (U+007F), C1 controls
// (U+0080–U+009F, CSI among them) and the bidirectional formatting
// characters (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) that
// can make text read differently from what it is (Trojan Source). Such
// characters in another member's text would reach an analyst's terminal as
// escape sequences (clear the screen, colours, hyperlinks, a forged line).
//
// [Escape] turns every character that is not printable, and every
// character Check refuses, into a visible escape (\x1b, \u202e), so that
// accordctl prints what another member sent as inert text.
package safetext
