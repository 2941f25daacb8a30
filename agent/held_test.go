package agent

import (
	"testing"
	"time"
)

// Concurrent decisions of one customer read the clock before they record
// their holdout: one that read it a little earlier may record second. It
// is the same visit, and must not be logged again.
func TestHeldRecently_OneVisitWhateverOrderTheDecisionsArrive(t *testing.T) {
	var h heldRecently
	at := time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)
	if !h.mark("C1", "grow-q4", at) {
		t.Fatal("the first holdout was not recorded")
	}
	if h.mark("C1", "grow-q4", at.Add(-time.Microsecond)) {
		t.Fatal("a decision that read the clock a microsecond earlier logged the visit again")
	}
	if h.mark("C1", "grow-q4", at.Add(59*time.Minute)) {
		t.Fatal("the same visit 59 minutes on logged again")
	}
	if !h.mark("C1", "other", at) || !h.mark("C2", "grow-q4", at) {
		t.Fatal("another campaign or customer was taken for the same visit")
	}
	if !h.mark("C1", "grow-q4", at.Add(61*time.Minute)) {
		t.Fatal("the next visit, over an hour later, was not logged")
	}
}
