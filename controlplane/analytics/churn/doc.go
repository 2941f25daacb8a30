// Package churn trains and scores churn early-warning models: a
// regularised logistic regression and gradient-boosted trees, both fitted
// by hand on a dataset read from CSV, evaluated on a holdout (ROC AUC,
// accuracy, precision/recall, calibration) and serialised as JSON that an
// agent decodes and scores over a customer's profile attributes.
//
// The package does no I/O beyond reading CSV from an io.Reader, reads no
// clock, and draws randomness only from the seeded source it is given.
// docs/MODELS.md describes the data handling, the models and the JSON.
package churn
