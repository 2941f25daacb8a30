// Package clv estimates customer lifetime value from purchase histories:
// the BG/NBD model of repeat purchasing and dropout (Fader, Hardie & Lee
// 2005, "Counting Your Customers the Easy Way"), fitted by maximum
// likelihood over each customer's frequency, recency and age, and the
// Gamma-Gamma model of average spend (Fader, Hardie & Lee 2005, "RFM and
// CLV: Using Iso-Value Curves for Customer Base Analysis").
//
// The package is pure computation: no clocks, no randomness, no I/O
// beyond parsing the two input formats from an io.Reader (a per-customer
// summary CSV and a raw transaction log turned into summaries).
package clv
