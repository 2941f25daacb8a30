// Package segment scores a customer base for segmentation: RFM scores
// (recency, frequency, monetary, each 1–5 as SQL's NTILE(5) OVER
// (ORDER BY value), equal values sharing the lowest bucket any of them
// gets), a combined code ("545")
// and a named RFM segment from a configurable table; value tiers (high,
// medium, low) by share of revenue; and lifecycle stages (new, growing,
// mature, declining, lapsed) from tenure, usage trend and inactivity.
//
// The package is pure computation over slices the caller fills: no I/O,
// no clock (recency and inactivity come in as days, measured by the caller
// from one as-of date), no randomness. docs/SEGMENTS.md states every
// definition for a marketing analyst to check.
package segment
