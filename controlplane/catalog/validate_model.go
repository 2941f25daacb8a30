package catalog

import (
	"math"
	"time"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/churnmodel"
)

// MaxModelBytes bounds one Model document in canonical JSON. A model is
// pushed to every agent and an activation rewrites two of them in one Raft
// entry, so it stays well inside the admin API's 2 MiB catalogue body and
// the FSM's 3 MiB apply: a 200-tree GBDT trained on the published churn
// data is about 230 kB, the deepest 300-tree model the trainer can grow
// (depth 5, 63 nodes a tree) about 800 kB.
const MaxModelBytes = 1 << 20

// validateModel checks a Model document and puts it in canonical form:
// status defaults to inactive, thresholds to the body's (or the
// defaults), and the body's kind and warningThresholds are rewritten to
// the document's, so that the body alone scores as the document says.
func validateModel(m *protocol.Model) error {
	switch m.ModelKind {
	case "":
		return fieldErr(api.CodeMissingField, "modelKind", "a model names its kind: %s or %s", churnmodel.KindLogistic, churnmodel.KindGBDT)
	case churnmodel.KindLogistic, churnmodel.KindGBDT:
	default:
		return fieldErr(api.CodeInvalidField, "modelKind", "unknown model kind %q; kinds are %s and %s", m.ModelKind, churnmodel.KindLogistic, churnmodel.KindGBDT)
	}
	if m.Version == 0 {
		return fieldErr(api.CodeMissingField, "version", "a model has a version ≥ 1 (the control plane increments it when `models train` stores one)")
	}
	if m.Version < 0 {
		return fieldErr(api.CodeInvalidField, "version", "must be a whole number ≥ 1, got %d", m.Version)
	}
	switch m.Status {
	case "":
		m.Status = protocol.ModelInactive
	case protocol.ModelActive, protocol.ModelInactive:
	default:
		return fieldErr(api.CodeInvalidField, "status", "model status is %s or %s, got %q", protocol.ModelActive, protocol.ModelInactive, m.Status)
	}
	if m.CreatedAt != "" {
		if _, err := time.Parse(time.RFC3339, m.CreatedAt); err != nil {
			return fieldErr(api.CodeInvalidField, "createdAt", "must be an RFC 3339 time like 2026-12-01T08:00:00Z: %v", err)
		}
	}
	mt := m.Metrics
	for _, f := range []numField{{"metrics.auc", mt.AUC}, {"metrics.accuracy", mt.Accuracy}} {
		if math.IsNaN(f.v) || f.v < 0 || f.v > 1 {
			return fieldErr(api.CodeInvalidField, f.name, "must be between 0 and 1, got %v", f.v)
		}
	}
	if err := nonNegative("metrics.logLoss", mt.LogLoss); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"metrics.trainRows", mt.TrainRows}, {"metrics.testRows", mt.TestRows}, {"metrics.positives", mt.Positives}, {"metrics.trees", mt.Trees}} {
		if f.v < 0 {
			return fieldErr(api.CodeInvalidField, f.name, "must be ≥ 0, got %d", f.v)
		}
	}
	b := m.Body
	if b == nil {
		return fieldErr(api.CodeMissingField, "model", "a Model document carries the trained model (what `models train --save` writes)")
	}
	switch b.Kind {
	case "":
		b.Kind = m.ModelKind
	case m.ModelKind:
	default:
		return fieldErr(api.CodeInvalidField, "model.kind", "the body is a %q model but modelKind is %q", b.Kind, m.ModelKind)
	}
	if m.Thresholds == (churnmodel.WarningThresholds{}) {
		m.Thresholds = b.Thresholds()
	}
	if err := m.Thresholds.Check(); err != nil {
		return fieldErr(api.CodeInvalidField, "thresholds", "%v", err)
	}
	b.Warning = m.Thresholds
	if m.Label == "" {
		m.Label = b.Label
	}
	if err := b.Prepare(); err != nil {
		return fieldErr(api.CodeInvalidModel, "model", "the model cannot score: %v", err)
	}
	return nil
}
