// Package csvsafe keeps endpoint-supplied text in a CSV export from being
// read as a formula by a spreadsheet (CSV injection): every CSV export of
// puawatch (`puawatch detections --format csv`, the dashboard's
// detections.csv) passes its text cells through Cell.
package csvsafe

import "strings"

// formulaStart holds the characters that make a spreadsheet read a cell
// as a formula (=, +, -, @) or that it skips before one (tab, CR).
const formulaStart = "=+-@\t\r"

// Cell returns s as a CSV cell a spreadsheet shows as text: a value
// starting with a formula character gets a leading apostrophe; any other
// value is returned unchanged. Quoting for CSV's own syntax (commas,
// quotes, line breaks) stays with encoding/csv.
func Cell(s string) string {
	if s != "" && strings.ContainsRune(formulaStart, rune(s[0])) {
		return "'" + s
	}
	return s
}
