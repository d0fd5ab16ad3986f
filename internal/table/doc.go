// Package table is the one CSV reader of metasurv: survival reads outcome
// tables with it and fusion reads clinical tables with it.
//
// Read parses a comma-separated file with a header line, as R's write.csv
// and pandas' to_csv write it (quoted strings, a UTF-8 byte-order mark,
// CRLF line ends), checks that column names are unique and non-empty, and
// remembers the file line of every data row so that callers can name the
// row and the column of a bad cell. Input is untrusted: Options.MaxBytes
// bounds both the bytes read and the memory the cells take, and a file over
// the budget is refused before it is held in memory.
//
// Rows with the wrong number of cells are an error, or, with
// Options.SkipRagged, are left out and reported in Table.Skipped.
package table
