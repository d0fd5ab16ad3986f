package fusion

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

const studyCSV = `id,age,kps,histology,extracranial,n_mets,prior_treatment,egfr,alk,braf,time,status,origin
p1,61,80,lung,1,1,none,1,0,0,5.5,1,lung
p2,70,60,breast,0,2-4,surgery,0,0,0,30,0,breast
p3,NA,90,melanoma,yes,>4,radiotherapy,0,0,1,12,1,
p4,55,,lung,no,1,systemic,,,,8,1,lung
`

func readStudy(t *testing.T, in string, o ReadOptions) (*Clinical, error) {
	t.Helper()
	o.Time, o.Event, o.Labels = "time", "status", []string{"origin"}
	return ReadClinical(strings.NewReader(in), StudySchema(), o)
}

func TestReadClinical(t *testing.T) {
	c, err := readStudy(t, studyCSV, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.IDs) != 4 || c.IDs[2] != "p3" || c.Lines[3] != 5 {
		t.Fatalf("ids %v lines %v", c.IDs, c.Lines)
	}
	if _, ok := c.Records[2]["age"]; ok {
		t.Fatal("NA age must be absent from the record")
	}
	if c.Outcomes[1].Time != 30 || c.Outcomes[1].Event || !c.Outcomes[0].Event {
		t.Fatalf("outcomes %+v", c.Outcomes)
	}
	if c.Labels["origin"][2] != "" || c.Labels["origin"][0] != "lung" {
		t.Fatalf("labels %v", c.Labels)
	}
}

func TestReadClinicalBadRows(t *testing.T) {
	cases := []struct {
		name, in   string
		want       error
		line       int
		col, value string
	}{
		{"number", strings.Replace(studyCSV, "p2,70", "p2,7O", 1), ErrBadCell, 3, "age", "7O"},
		{"ordinal", strings.Replace(studyCSV, ",>4,", ",5+,", 1), ErrBadCell, 4, "n_mets", "5+"},
		{"binary", strings.Replace(studyCSV, "p3,NA,90,melanoma,yes", "p3,NA,90,melanoma,maybe", 1), ErrBadCell, 4, "extracranial", "maybe"},
		{"duplicate", strings.Replace(studyCSV, "p4,", "p1,", 1), ErrDuplicateID, 5, "id", "p1"},
		{"time", strings.Replace(studyCSV, ",30,0,", ",-3,0,", 1), ErrBadCell, 3, "time", "-3"},
		{"infinite", strings.Replace(studyCSV, "p2,70", "p2,Inf", 1), ErrBadCell, 3, "age", "Inf"},
	}
	for _, c := range cases {
		_, err := readStudy(t, c.in, ReadOptions{})
		var re *RowError
		if !errors.As(err, &re) || !errors.Is(err, c.want) || re.Line != c.line || re.Column != c.col || re.Value != c.value {
			t.Errorf("%s: got %v (%+v)", c.name, err, re)
			continue
		}
		cl, err := readStudy(t, c.in, ReadOptions{SkipBadRows: true})
		if err != nil {
			t.Errorf("%s skip: %v", c.name, err)
			continue
		}
		if len(cl.IDs) != 3 || len(cl.Skipped) != 1 || cl.Skipped[0].Line != c.line || len(cl.Outcomes) != 3 || len(cl.Labels["origin"]) != 3 {
			t.Errorf("%s skip: ids %v skipped %v", c.name, cl.IDs, cl.Skipped)
		}
	}
	if _, err := readStudy(t, strings.Replace(studyCSV, "origin\n", "origin,note\n", 1), ReadOptions{}); !errors.Is(err, ErrBadCell) {
		t.Errorf("ragged rows: %v", err)
	}
	if _, err := readStudy(t, strings.Replace(studyCSV, ",origin\n", ",origin2\n", 1), ReadOptions{}); !errors.Is(err, ErrMissingColumn) {
		t.Errorf("label column missing: %v", err)
	}
	in := strings.Replace(strings.Replace(studyCSV, "origin\n", "origin,note\n", 1), "lung\n", "lung,x\n", -1)
	in = strings.Replace(in, "breast\n", "breast,x\n", 1)
	in = strings.Replace(in, ",1,\n", ",1,,\n", 1)
	if _, err := readStudy(t, in, ReadOptions{}); !errors.Is(err, ErrUnknownColumn) {
		t.Errorf("unknown column: %v", err)
	}
	if _, err := readStudy(t, in, ReadOptions{Ignore: []string{"note"}}); err != nil {
		t.Errorf("ignored column: %v", err)
	}
	noKPS := strings.Replace(studyCSV, "kps,", "kpz,", 1)
	if _, err := ReadClinical(strings.NewReader(noKPS), StudySchema(), ReadOptions{Ignore: []string{"kpz", "time", "status", "origin"}}); !errors.Is(err, ErrMissingColumn) {
		t.Errorf("schema column absent: %v", err)
	}
	if _, err := readStudy(t, studyCSV, ReadOptions{MaxBytes: 100}); err == nil {
		t.Error("memory budget not enforced")
	}
}

func TestMatchIDs(t *testing.T) {
	_, u, err := MatchIDs([]string{"a", "b", "c"}, []string{"c", "a", "z"}, MatchOptions{})
	if !errors.Is(err, ErrUnmatched) || !strings.Contains(err.Error(), "[b]") || !strings.Contains(err.Error(), "[z]") {
		t.Fatalf("%v", err)
	}
	ids, u, err := MatchIDs([]string{"a", "b", "c"}, []string{"c", "a", "z"}, MatchOptions{SkipUnmatched: true})
	if err != nil || strings.Join(ids, "") != "ac" || u.OnlyClinical[0] != "b" || u.OnlyImages[0] != "z" {
		t.Fatalf("%v %v %v", ids, u, err)
	}
}

func TestEncoder(t *testing.T) {
	c, err := readStudy(t, studyCSV, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Fit on the first three patients only: p4 must not move the statistics.
	e, err := FitEncoder(c.Schema, c.Records[:3])
	if err != nil {
		t.Fatal(err)
	}
	names := e.Names()
	if e.Dim() != len(names) {
		t.Fatal("Dim")
	}
	idx := map[string]int{}
	for i, n := range names {
		idx[n] = i
	}
	x, miss, err := e.Encode(c.Records[0])
	if err != nil {
		t.Fatal(err)
	}
	// age over p1, p2 (p3 missing): mean 65.5, sample std 6.364.
	if got, want := float64(x[idx["age"]]), (61-65.5)/(9/math.Sqrt2); math.Abs(got-want) > 1e-5 {
		t.Fatalf("age z %v want %v", got, want)
	}
	if len(miss) != 0 || x[idx["histology=lung"]] != 1 || x[idx["histology:unseen"]] != 0 {
		t.Fatalf("p1: %v %v", x, miss)
	}
	x, miss, _ = e.Encode(c.Records[2])
	if x[idx["age"]] != 0 || x[idx["age:missing"]] != 1 || len(miss) != 1 || miss[0] != "age" {
		t.Fatalf("p3 missing age: %v %v", x, miss)
	}
	x, _, _ = e.Encode(Record{"histology": "glioma", "age": "50"})
	if x[idx["histology:unseen"]] != 1 || x[idx["kps:missing"]] != 1 {
		t.Fatalf("unseen level: %v", x)
	}
	if _, _, err := e.Encode(Record{"weight": "70"}); !errors.Is(err, ErrUnknownColumn) {
		t.Fatalf("unknown field: %v", err)
	}
	if _, _, err := e.Encode(Record{"age": "old"}); !errors.Is(err, ErrBadCell) {
		t.Fatalf("bad number: %v", err)
	}
	if _, err := FitEncoder(c.Schema, []Record{{"age": "1"}}); !errors.Is(err, ErrSchema) {
		t.Fatalf("all-missing column: %v", err)
	}
}

// FuzzReadClinical feeds arbitrary bytes through the reader: an error or a
// table whose every kept record encodes, never a panic or a silent zero.
func FuzzReadClinical(f *testing.F) {
	f.Add([]byte(studyCSV))
	f.Add([]byte("id,age\n1,NaN\n2,1e400\n"))
	f.Add([]byte("id,age,x\n1,2\n"))
	s := Schema{Columns: []Column{{Name: "age", Kind: Numeric}, {Name: "n", Kind: Ordinal, Levels: []string{"a", "b"}}, {Name: "h", Kind: Categorical}, {Name: "b", Kind: Binary}}}
	f.Add([]byte("id,age,n,h,b\n1,2,a,x,1\n2,,b,,no\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ReadClinical(bytes.NewReader(data), s, ReadOptions{SkipBadRows: len(data)%2 == 1, MaxBytes: 1 << 16})
		if err != nil {
			return
		}
		if len(c.Records) == 0 {
			return
		}
		e, err := FitEncoder(s, c.Records)
		if err != nil {
			return // a column missing everywhere
		}
		for i, r := range c.Records {
			x, _, err := e.Encode(r)
			if err != nil {
				t.Fatalf("record %d of a validated table does not encode: %v", i, err)
			}
			for _, v := range x {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("record %d encodes to %v", i, x)
				}
			}
		}
	})
}

func TestClinicalMatch(t *testing.T) {
	c, err := readStudy(t, studyCSV, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Match([]string{"p1", "p2", "p4"}, MatchOptions{})
	var re *RowError
	if !errors.As(err, &re) || !errors.Is(err, ErrUnmatched) || re.Line != 4 || re.ID != "p3" {
		t.Fatalf("table patient without images: %v", err)
	}
	if _, _, err := c.Match([]string{"p1", "p2", "p3", "p4", "p9"}, MatchOptions{}); !errors.Is(err, ErrUnmatched) || !strings.Contains(err.Error(), "p9") {
		t.Fatalf("images without a row: %v", err)
	}
	m, u, err := c.Match([]string{"p4", "p1", "p9"}, MatchOptions{SkipUnmatched: true})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(m.IDs, ",") != "p1,p4" || len(m.Outcomes) != 2 || m.Labels["origin"][1] != "lung" || m.Lines[1] != 5 || len(u.OnlyClinical) != 2 || u.OnlyImages[0] != "p9" {
		t.Fatalf("matched %v %v %v", m.IDs, m.Labels, u)
	}
	co := m.Cohort()
	if len(co.Samples) != 2 || co.Samples[1].Labels["origin"] != "lung" || co.Samples[0].Outcome.Time != 5.5 {
		t.Fatalf("cohort %+v", co.Samples)
	}
}
