package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/controlplane/analytics/churn"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// storeTimeout bounds storing a trained model in the catalogue.
const storeTimeout = 30 * time.Second

// modelsCommand trains churn early-warning models from CSV (locally: the
// numerics run here) and keeps them in the control plane's catalogue,
// where one is active and scored by every agent.
func modelsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "models",
		Usage: "churn early-warning models: train from CSV, store, list and activate",
		Subcommands: []*cli.Command{
			{
				Name:  "train",
				Usage: "train a churn model on a CSV file and report holdout metrics",
				Description: "Reads --data (a CSV file with a header), uses --label (True/False, Yes/No, 1/0) as the\n" +
					"target and every other column but --id as a feature (numeric, or categorical when any\n" +
					"value is not a number; blank cells are missing). Evaluates on --test FILE (same columns)\n" +
					"or on a stratified --holdout fraction of --data (seed 42), and prints ROC AUC, accuracy,\n" +
					"precision/recall at 0.3/0.5/0.7 and a calibration table. --save FILE writes the model\n" +
					"JSON that agents score. Training runs here; the model is then stored in the control\n" +
					"plane's catalogue (--addr, --token) as the next version of its id (--name, default\n" +
					"churn-KIND-HASH), inactive until `models activate`. An unreachable control plane leaves\n" +
					"it local; --no-store does not try. See docs/MODELS.md.",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "data", Required: true, Usage: "training CSV `FILE`"},
					&cli.StringFlag{Name: "label", Required: true, Usage: "label `COLUMN` (True/False, Yes/No, 1/0)"},
					&cli.StringFlag{Name: "id", Usage: "identifier `COLUMN`, never a feature"},
					&cli.StringFlag{Name: "test", Usage: "holdout CSV `FILE` with the same columns"},
					&cli.Float64Flag{Name: "holdout", Usage: "hold out `FRACTION` of --data (stratified by label) instead of --test"},
					&cli.Uint64Flag{Name: "seed", Value: churn.DefaultSeed, Usage: "`SEED` of the holdout and early-stopping splits"},
					&cli.StringFlag{Name: "kind", Value: churn.KindGBDT, Usage: "model `KIND`: logistic or gbdt"},
					&cli.StringFlag{Name: "save", Usage: "write the model JSON to `FILE`"},
					&cli.StringFlag{Name: "name", Usage: "catalogue `ID` to store the model under (default churn-KIND-HASH)"},
					&cli.BoolFlag{Name: "no-store", Usage: "do not store the model in the control plane's catalogue"},
					outputFlag(),
				},
				Action: func(c *cli.Context) error { return e.modelsTrain(c) },
			},
			{
				Name:   "ls",
				Usage:  "list the catalogue's models: version, status, holdout AUC and accuracy",
				Flags:  []cli.Flag{outputFlag()},
				Action: func(c *cli.Context) error { return e.modelsList(c) },
			},
			{
				Name:      "activate",
				Usage:     "make a model the active churn model (every other one inactive); agents score with it",
				ArgsUsage: "ID",
				Flags:     []cli.Flag{outputFlag()},
				Action:    func(c *cli.Context) error { return e.modelsActivate(c, true) },
			},
			{
				Name:      "deactivate",
				Usage:     "stop scoring with a model",
				ArgsUsage: "ID",
				Flags:     []cli.Flag{outputFlag()},
				Action:    func(c *cli.Context) error { return e.modelsActivate(c, false) },
			},
		},
	}
}

// trainReport is what `models train -o json` prints.
type trainReport struct {
	ID         string        `json:"id"`
	Kind       string        `json:"kind"`
	Label      string        `json:"label"`
	TrainRows  int           `json:"trainRows"`
	Inputs     int           `json:"inputs"`
	Trees      int           `json:"trees,omitempty"`
	TrainingMs float64       `json:"trainingMs"`
	Metrics    churn.Metrics `json:"metrics"`
	Saved      string        `json:"saved,omitempty"`
	// Evaluation is "test" (--test FILE) or "holdout" (--holdout).
	Evaluation string `json:"evaluation"`
	Catalogue  string `json:"catalogue"`
	// Stored is the catalogue's answer when the model was stored.
	Stored *api.ModelStoreResult `json:"stored,omitempty"`
}

func (e *env) modelsTrain(c *cli.Context) error {
	out, err := format(c)
	if err != nil {
		return err
	}
	kind := c.String("kind")
	if kind != churn.KindLogistic && kind != churn.KindGBDT {
		return usageError(fmt.Errorf("--kind %q: use logistic or gbdt", kind))
	}
	test, frac := c.String("test"), c.Float64("holdout")
	switch {
	case test != "" && c.IsSet("holdout"):
		return usageError(errors.New("give --test FILE or --holdout FRACTION, not both"))
	case test == "" && !c.IsSet("holdout"):
		return usageError(errors.New("give --test FILE or --holdout FRACTION (e.g. 0.2) to evaluate on"))
	case c.IsSet("holdout") && !(frac > 0 && frac < 1):
		return usageError(fmt.Errorf("--holdout %v: want a fraction between 0 and 1", frac))
	}
	opt := churn.LoadOptions{Label: c.String("label"), ID: c.String("id")}
	train, err := loadDataset(c.String("data"), opt)
	if err != nil {
		return err
	}
	for _, col := range train.IdentifierLike() {
		fmt.Fprintf(e.stderr, "%s\n", e.modelMsg(mdlIdentifierColumn, col, train.Len(), c.String("data"), col))
	}
	rng := churn.NewRand(c.Uint64("seed"))
	var hold *churn.Dataset
	if test != "" {
		if hold, err = loadDataset(test, opt); err != nil {
			return err
		}
	} else if train, hold, err = train.Split(frac, rng); err != nil {
		return fmt.Errorf("--holdout: %w", err)
	}
	start := time.Now()
	m, err := churn.Train(train, churn.Config{Kind: kind, Rand: rng})
	if err != nil {
		return fmt.Errorf("train on %s: %w", c.String("data"), err)
	}
	took := time.Since(start)
	if test != "" {
		if err := churn.CheckColumns(m, hold); err != nil {
			return fmt.Errorf("--test %s: %w", test, err)
		}
	}
	mt, err := churn.EvaluateModel(m, hold)
	if err != nil {
		return err
	}
	doc, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode model: %w", err)
	}
	sum := sha256.Sum256(doc)
	id := "churn-" + kind + "-" + hex.EncodeToString(sum[:6])
	if name := c.String("name"); name != "" {
		id = name
	}
	evaluation := "holdout"
	if test != "" {
		evaluation = "test"
	}
	rep := trainReport{
		ID: id, Kind: kind, Label: opt.Label, Evaluation: evaluation,
		TrainRows: train.Len(), Inputs: len(m.Inputs), Trees: len(m.Trees),
		TrainingMs: float64(took.Microseconds()) / 1000, Metrics: mt,
		Catalogue: e.modelMsg(mdlNotStoredFlag),
	}
	if file := c.String("save"); file != "" {
		if err := os.WriteFile(file, append(doc, '\n'), 0o644); err != nil {
			return fmt.Errorf("--save: %w", err)
		}
		rep.Saved = file
	}
	var storeErr error
	if !c.Bool("no-store") {
		storeErr = e.storeModel(c, &rep, m)
	}
	if out == "json" {
		if err := e.printJSON(rep); err != nil {
			return err
		}
	} else if err := e.printTrainReport(rep); err != nil {
		return err
	}
	return storeErr
}

// storeModel stores m in the catalogue as the next version of rep.ID and
// records the outcome in rep. A control plane that cannot be reached
// leaves the model local (the report says so); one that refuses it is an
// error, with its code.
func (e *env) storeModel(c *cli.Context, rep *trainReport, m *churn.Model) error {
	doc := protocol.Model{
		Kind: protocol.KindModel, ID: rep.ID, ModelKind: m.Kind, Version: 1, Label: m.Label,
		Status: protocol.ModelInactive, Thresholds: m.Warning, Body: m,
		Metrics: protocol.ModelMetrics{AUC: rep.Metrics.AUC, Accuracy: rep.Metrics.Accuracy, LogLoss: rep.Metrics.LogLoss,
			TrainRows: rep.TrainRows, TestRows: rep.Metrics.Rows, Positives: rep.Metrics.Positives, Trees: len(m.Trees),
			Evaluation: rep.Evaluation},
	}
	raw, err := json.Marshal(&doc)
	if err != nil {
		return fmt.Errorf("encode the model document: %w", err)
	}
	ctx, cancel := context.WithTimeout(c.Context, storeTimeout)
	defer cancel()
	res, err := client(c).StoreModel(ctx, raw)
	var ae *api.Error
	switch {
	case err == nil:
		rep.Stored = res
		rep.Catalogue = e.modelMsg(mdlStored, res.ID, res.Version, res.Status, res.Index, res.Bytes)
		return nil
	case errors.As(err, &ae):
		rep.Catalogue = e.modelMsg(mdlNotStoredError, ae.Error())
		return fmt.Errorf("store model %s: %w", rep.ID, err)
	}
	rep.Catalogue = e.modelMsg(mdlNotStoredUnreachable, c.String("addr"), err)
	return nil
}

func (e *env) modelsList(c *cli.Context) error {
	out, err := format(c)
	if err != nil {
		return err
	}
	list, err := client(c).Models(c.Context)
	if err != nil {
		return err
	}
	if out == "json" {
		return e.printJSON(list)
	}
	if len(list) == 0 {
		fmt.Fprintln(e.stdout, e.modelMsg(mdlNoModels))
		return nil
	}
	tw := e.table()
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.modelMsg(mdlHdrID), e.modelMsg(mdlHdrKind), e.modelMsg(mdlHdrVersion),
		e.modelMsg(mdlHdrStatus), e.modelMsg(mdlHdrAUC), e.modelMsg(mdlHdrAccuracy), e.modelMsg(mdlHdrEvaluatedOn), e.modelMsg(mdlHdrTrainRows), e.modelMsg(mdlHdrTrees),
		e.modelMsg(mdlHdrSize), e.modelMsg(mdlHdrCreated))
	for _, m := range list {
		trees := "-"
		if m.Trees > 0 {
			trees = fmt.Sprint(m.Trees)
		}
		// A model applied by hand, not trained here, has no metrics.
		auc, acc, rows, on := "-", "-", "-", "-"
		if mt := m.Metrics; mt.TrainRows > 0 || mt.AUC > 0 || mt.Accuracy > 0 {
			auc, acc, rows = fmt.Sprintf("%.4f", mt.AUC), fmt.Sprintf("%.4f", mt.Accuracy), fmt.Sprint(mt.TrainRows)
			// AUCs of different evaluation sets do not compare: say which.
			if mt.TestRows > 0 {
				on = strings.TrimSpace(mt.Evaluation + " " + fmt.Sprint(mt.TestRows))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f kB\t%s\n", m.ID, m.ModelKind, m.Version, m.Status,
			auc, acc, on, rows, trees, float64(m.Bytes)/1000, m.CreatedAt)
	}
	return tw.Flush()
}

func (e *env) modelsActivate(c *cli.Context, active bool) error {
	out, err := format(c)
	if err != nil {
		return err
	}
	a, err := args(c, 1, 1, "ID")
	if err != nil {
		return err
	}
	res, err := client(c).ActivateModel(c.Context, a[0], active)
	if err != nil {
		return err
	}
	if out == "json" {
		return e.printJSON(res)
	}
	switch {
	case active:
		fmt.Fprintln(e.stdout, e.modelMsg(mdlActivated, res.ID, res.Version, res.Index))
	default:
		fmt.Fprintln(e.stdout, e.modelMsg(mdlDeactivated, res.ID, res.Version, res.Index))
	}
	if others := removeID(res.Deactivated, res.ID); active && len(others) > 0 {
		fmt.Fprintln(e.stdout, e.modelMsg(mdlAlsoDeactivated, strings.Join(others, ", ")))
	}
	return nil
}

func removeID(ids []string, id string) []string {
	out := []string{}
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}

func loadDataset(file string, opt churn.LoadOptions) (*churn.Dataset, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ds, err := churn.Load(f, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return ds, nil
}

func (e *env) printTrainReport(r trainReport) error {
	m := r.Metrics
	w := e.stdout
	fmt.Fprintf(w, "model %s (%s, label %s): trained on %d rows, %d inputs", r.ID, r.Kind, r.Label, r.TrainRows, r.Inputs)
	if r.Trees > 0 {
		fmt.Fprintf(w, ", %d trees", r.Trees)
	}
	fmt.Fprintf(w, ", in %.0f ms\n", r.TrainingMs)
	fmt.Fprintf(w, "holdout: %d rows, %d churned (%.1f%%)\n", m.Rows, m.Positives, 100*float64(m.Positives)/float64(max(m.Rows, 1)))
	fmt.Fprintf(w, "ROC AUC %.4f   accuracy@0.5 %.4f   log-loss %.4f\n\n", m.AUC, m.Accuracy, m.LogLoss)
	tw := e.table()
	fmt.Fprintf(tw, "THRESHOLD\tFLAGGED\tPRECISION\tRECALL\n")
	for _, t := range m.At {
		fmt.Fprintf(tw, "%.1f\t%d\t%.3f\t%.3f\n", t.Threshold, t.Flagged, t.Precision, t.Recall)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = e.table()
	fmt.Fprintf(tw, "PREDICTED\tCOUNT\tMEAN PREDICTED\tOBSERVED RATE\n")
	for _, b := range m.Calibration {
		if b.Count == 0 {
			fmt.Fprintf(tw, "%.1f–%.1f\t0\t-\t-\n", b.Low, b.High)
			continue
		}
		fmt.Fprintf(tw, "%.1f–%.1f\t%d\t%.3f\t%.3f\n", b.Low, b.High, b.Count, b.MeanPredicted, b.ObservedRate)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if r.Saved != "" {
		fmt.Fprintln(w, e.modelMsg(mdlSavedLocal, r.Saved))
	}
	fmt.Fprintln(w, e.modelMsg(mdlCatalogue, r.Catalogue))
	return nil
}
