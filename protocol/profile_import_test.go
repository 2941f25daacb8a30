package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
)

// AppendProfileJSON must write exactly what json.Marshal writes: every
// control-plane node stores these bytes.
func TestAppendProfileJSON_MatchesEncodingJSON(t *testing.T) {
	profiles := []Profile{
		{ID: "C1", Region: "sh-pudong", Consents: map[string]bool{"sms": true, "all": false}, DoNotDisturb: true,
			Attributes: map[string]any{"name": "Li Wei", "phone": "13800000001", "tenureMonths": 12.0, "vip": true, "churned": false,
				"note": "<b>\"quoted\" & 王芳\u2028\x01</b>", "tiny": 1e-7, "huge": 1e21, "neg": -0.5, "zero": 0.0, "negzero": math.Copysign(0, -1)},
			Derived: map[string]any{"valueTier": "gold", "clv": 1234.5}, Index: 42},
		{ID: "C2"},
		{ID: "C3", Region: "bj", Attributes: map[string]any{"big": 12345678901234567.0, "e": 3.0e-5, "bad": "\xff"}},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		profiles = append(profiles, randomProfile(r, i))
	}
	for i := range profiles {
		p := &profiles[i]
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendProfileJSON(nil, p); string(got) != string(want) {
			t.Fatalf("profile %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func randomProfile(r *rand.Rand, i int) Profile {
	p := Profile{ID: "C" + string(rune('a'+i%26)), DoNotDisturb: r.IntN(2) == 0, Index: uint64(r.IntN(3))}
	if r.IntN(2) == 0 {
		p.Region = "r" + string(rune('0'+i%10))
	}
	if r.IntN(3) == 0 {
		p.Consents = map[string]bool{"sms": r.IntN(2) == 0, "kiosk": true}
	}
	p.Attributes = map[string]any{}
	for j := range r.IntN(8) {
		name := string([]rune{'a' + rune(j), rune(r.IntN(0x3000))})
		switch r.IntN(4) {
		case 0:
			f := math.Float64frombits(r.Uint64())
			if math.IsNaN(f) || math.IsInf(f, 0) {
				f = float64(r.IntN(1e6)) / 1000
			}
			p.Attributes[name] = f
		case 1:
			p.Attributes[name] = r.NormFloat64() * math.Pow(10, float64(r.IntN(60)-30))
		case 2:
			p.Attributes[name] = r.IntN(2) == 0
		default:
			s := make([]rune, r.IntN(12))
			for k := range s {
				s[k] = rune(r.IntN(0x2100))
			}
			p.Attributes[name] = string(s)
		}
	}
	return p
}

func BenchmarkAppendProfileJSON(b *testing.B) {
	p := Profile{ID: "C123456", Region: "sh-pudong", Attributes: map[string]any{"name": "Customer 123456", "phone": "13800123456",
		"tenureMonths": 12.0, "voiceMinutes": 420.0, "dataMB": 5120.0, "sms": 30.0, "plan": "5g-max-128", "arpu": 88.5}}
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		buf = AppendProfileJSON(buf[:0], &p)
	}
}

// referenceDecode is encoding/json's reading of a profile array, unknown
// fields refused.
func referenceDecode(b []byte) ([]Profile, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var out []Profile
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	return out, nil
}

func TestDecodeProfilesJSON_AgreesWithEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var ps []Profile
	for i := range 500 {
		ps = append(ps, randomProfile(r, i))
	}
	accepted := 0
	for i := range ps {
		body, _ := json.Marshal(ps[i : i+1])
		got, ok := DecodeProfilesJSON(body)
		if !ok {
			continue // escaped names (control characters, <, >, &)
		}
		accepted++
		want, err := referenceDecode(body)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: fast and encoding/json differ (%v)", body, err)
		}
	}
	if accepted < len(ps)/4 {
		t.Errorf("the fast path took only %d of %d", accepted, len(ps))
	}
	// What the CLI sends is always taken.
	var batch []byte
	batch = append(batch, '[')
	for i := range ps {
		if i > 0 {
			batch = append(batch, ',')
		}
		p := Profile{ID: "C" + strconv.Itoa(i), Region: "sh", Attributes: map[string]any{"name": "李伟", "tenureMonths": float64(i), "note": "a \"q\" b"}}
		batch = AppendProfileJSON(batch, &p)
	}
	batch = append(batch, ']')
	got, ok := DecodeProfilesJSON(batch)
	want, err := referenceDecode(batch)
	if !ok || err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("CLI batch: fast %v, json %v", ok, err)
	}
	for _, in := range []string{
		`[]`, ` [ ] `, `[{}]`, `[{"id":"C1","attributes":{}}]`,
		`[{"id":"C1","index":7,"doNotDisturb":false,"consents":{"sms":true},"derived":{"x":-1.5e3}}]`,
		"[{\"id\":\"\\u0043\\n\",\"attributes\":{\"a\":\"\xff\"}}]",
	} {
		got, ok := DecodeProfilesJSON([]byte(in))
		want, err := referenceDecode([]byte(in))
		if !ok || err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: fast %v %+v, encoding/json %v %+v", in, ok, got, err, want)
		}
	}
	// The fast path declines what it does not handle; encoding/json then
	// explains (or, for the case-insensitive field, accepts).
	for _, in := range []string{
		`{}`, `[`, `[{"ID":"C1"}]`, `[{"id":"C1","id":"C2"}]`, `[{"id":"C1","x":1}]`,
		`[{"id":"C1","attributes":{"a":null}}]`, `[{"id":"C1","attributes":{"a":[1]}}]`,
		`[{"id":"C1","index":1.0}]`, `[{"id":"C1","attributes":{"a":1e999}}]`, `[{"id":"C1"}] x`, `[{"id":"C1"},]`,
		`[{"id":"C1","attributes":{"a":01}}]`, `[{"id":"C1","doNotDisturb":null}]`,
	} {
		if got, ok := DecodeProfilesJSON([]byte(in)); ok {
			t.Errorf("%s: fast path accepted it: %+v", in, got)
		}
	}
}

// FuzzDecodeProfilesJSON: the fast decoder never panics, and whatever it
// accepts encoding/json decodes identically.
func FuzzDecodeProfilesJSON(f *testing.F) {
	f.Add([]byte(`[{"id":"C1","region":"sh","consents":{"sms":true},"doNotDisturb":true,"attributes":{"a":1,"b":"x","c":false},"derived":{"d":2.5},"index":3}]`))
	f.Add([]byte("[{\"id\":\"\\u00e9\\\"\",\"attributes\":{\"\xe7\x8e\x8b\":\"\\ud800\"}}, {}]"))
	f.Add([]byte(`[{"id":"C1","attributes":{"a":-0,"b":1E+2,"c":0.5e-3}}]`))
	f.Add([]byte(`[ ]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := DecodeProfilesJSON(b)
		if !ok {
			return
		}
		want, err := referenceDecode(b)
		if err != nil {
			t.Fatalf("fast path accepted what encoding/json refuses (%v): %q", err, b)
		}
		if want == nil {
			want = []Profile{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\nfast %#v\njson %#v", b, got, want)
		}
	})
}

func BenchmarkDecodeProfilesJSON(b *testing.B) {
	ps := make([]Profile, 2000)
	for i := range ps {
		ps[i] = Profile{ID: "C" + strconv.Itoa(i), Region: "sh-pudong", Attributes: map[string]any{"name": "Customer " + strconv.Itoa(i),
			"phone": "13800123456", "tenureMonths": 12.0, "voiceMinutes": 420.0, "dataMB": 5120.0, "sms": 30.0, "plan": "5g-max-128", "arpu": 88.5}}
	}
	body, _ := json.Marshal(ps)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := DecodeProfilesJSON(body); !ok {
				b.Fatal("refused")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := referenceDecode(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
