package cache

import "testing"

// The discard timestamp never passes a reader still running: it moves to
// the timestamp noted at an epoch switch only once every reader counted
// before the switch has finished.
func TestReaders_DiscardWaitsForOlderReaders(t *testing.T) {
	var r readers
	old := r.begin() // reads at a timestamp below 10
	if _, ok := r.advance(10); ok {
		t.Fatal("the first advance only switches epochs")
	}
	young := r.begin() // reads at 10 or later
	if d, ok := r.advance(20); ok {
		t.Fatalf("discard moved to %d while a reader from before 10 runs", d)
	}
	r.end(old)
	d, ok := r.advance(30)
	if !ok || d != 10 {
		t.Fatalf("advance = %d, %v; want 10 once the older reader ended", d, ok)
	}
	// The next switch notes 40; the reader counted after the first switch
	// (at 10 or later) holds it back until it ends.
	if _, ok := r.advance(40); ok {
		t.Fatal("an advance right after a discard only switches epochs")
	}
	if _, ok := r.advance(50); ok {
		t.Fatal("discard moved past a running reader")
	}
	r.end(young)
	if d, ok := r.advance(60); !ok || d != 40 {
		t.Fatalf("advance = %d, %v; want 40", d, ok)
	}
}
