package table

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	in := "\ufeff id , age\r\n\"p1\",61\r\n\"p,2\",\"7\"\"\"\n"
	tab, err := Read(strings.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(tab.Header, "|") != "id|age" {
		t.Fatalf("header %q", tab.Header)
	}
	if len(tab.Rows) != 2 || tab.Rows[1][0] != "p,2" || tab.Rows[1][1] != "7\"" {
		t.Fatalf("rows %q", tab.Rows)
	}
	if tab.Lines[0] != 2 || tab.Lines[1] != 3 {
		t.Fatalf("lines %v", tab.Lines)
	}
	if tab.Column("age") != 1 || tab.Column("x") != -1 {
		t.Fatal("Column")
	}
}

func TestReadErrors(t *testing.T) {
	for _, c := range []struct {
		in   string
		want error
	}{
		{"", ErrFormat},
		{"a,a\n1,2\n", ErrFormat},
		{"a,,b\n", ErrFormat},
		{"a,b\n1,2\n3\n", ErrRagged},
		{"a,b\n\"1,2\n", ErrFormat},
	} {
		_, err := Read(strings.NewReader(c.in), Options{})
		if !errors.Is(err, c.want) {
			t.Errorf("%q: got %v, want %v", c.in, err, c.want)
		}
	}
	var re *RowError
	_, err := Read(strings.NewReader("a,b\n1,2\n\n3\n"), Options{})
	if !errors.As(err, &re) || re.Line != 4 {
		t.Fatalf("ragged row: %v", err)
	}
}

func TestSkipRagged(t *testing.T) {
	tab, err := Read(strings.NewReader("a,b\n1,2\n3\n4,5\n"), Options{SkipRagged: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Rows) != 2 || len(tab.Skipped) != 1 || tab.Skipped[0].Line != 3 || tab.Lines[1] != 4 {
		t.Fatalf("rows %q skipped %+v lines %v", tab.Rows, tab.Skipped, tab.Lines)
	}
}

func TestBudget(t *testing.T) {
	big := "a,b\n" + strings.Repeat("1,2\n", 1000)
	if _, err := Read(strings.NewReader(big), Options{MaxBytes: 1000}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("file over budget: %v", err)
	}
	// Many tiny cells cost more than their bytes: 2000 cells of 2 bytes
	// need 36 000 bytes of memory.
	if _, err := Read(strings.NewReader(big), Options{MaxBytes: 20000}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("cells over budget: %v", err)
	}
	if _, err := Read(strings.NewReader(big), Options{MaxBytes: 40000}); err != nil {
		t.Fatalf("file at budget: %v", err)
	}
}

// FuzzRead checks that arbitrary bytes give a table or an error, never a
// panic, and that a table satisfies its invariants.
func FuzzRead(f *testing.F) {
	f.Add([]byte("id,age\np1,61\n"))
	f.Add([]byte("\ufeffa,b\r\n\"x\"\"y\",2\n3\n"))
	f.Add([]byte("a\n\"unterminated\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tab, err := Read(bytes.NewReader(b), Options{MaxBytes: 1 << 16, SkipRagged: len(b)%2 == 0})
		if err != nil {
			return
		}
		if len(tab.Rows) != len(tab.Lines) {
			t.Fatal("rows and lines differ")
		}
		seen := map[string]bool{}
		for _, h := range tab.Header {
			if h == "" || seen[h] {
				t.Fatalf("bad header %q", tab.Header)
			}
			seen[h] = true
		}
		for i, r := range tab.Rows {
			if len(r) != len(tab.Header) {
				t.Fatalf("row %d has %d cells", i, len(r))
			}
			if i > 0 && tab.Lines[i] <= tab.Lines[i-1] {
				t.Fatal("lines not increasing")
			}
		}
	})
}
