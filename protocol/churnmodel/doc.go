// Package churnmodel is the shipped format of a churn early-warning model:
// the feature spec and its encoding, a logistic regression's coefficients
// or gradient-boosted trees, the warning thresholds that turn a probability
// into a level, and the per-feature attribution behind a score. It crosses
// the process boundary — models are trained on the control plane (or in
// the CLI, by controlplane/analytics/churn) and scored on every agent — so
// it imports only the standard library, does no I/O and reads no clock.
// docs/MODELS.md describes the JSON and the scoring.
package churnmodel
