package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/controlplane/analytics/churn"
)

// modelsCommand trains churn early-warning models locally, from CSV. It
// needs no control plane; storing a model in the catalogue comes later.
func modelsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "models",
		Usage: "churn early-warning models: train and evaluate locally from CSV",
		Subcommands: []*cli.Command{
			{
				Name:  "train",
				Usage: "train a churn model on a CSV file and report holdout metrics",
				Description: "Reads --data (a CSV file with a header), uses --label (True/False, Yes/No, 1/0) as the\n" +
					"target and every other column but --id as a feature (numeric, or categorical when any\n" +
					"value is not a number; blank cells are missing). Evaluates on --test FILE (same columns)\n" +
					"or on a stratified --holdout fraction of --data (seed 42), and prints ROC AUC, accuracy,\n" +
					"precision/recall at 0.3/0.5/0.7 and a calibration table. --save FILE writes the model\n" +
					"JSON that agents score. Training runs here and contacts no server; storing the model in\n" +
					"the control plane's catalogue is a later step. See docs/MODELS.md.",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "data", Required: true, Usage: "training CSV `FILE`"},
					&cli.StringFlag{Name: "label", Required: true, Usage: "label `COLUMN` (True/False, Yes/No, 1/0)"},
					&cli.StringFlag{Name: "id", Usage: "identifier `COLUMN`, never a feature"},
					&cli.StringFlag{Name: "test", Usage: "holdout CSV `FILE` with the same columns"},
					&cli.Float64Flag{Name: "holdout", Usage: "hold out `FRACTION` of --data (stratified by label) instead of --test"},
					&cli.Uint64Flag{Name: "seed", Value: churn.DefaultSeed, Usage: "`SEED` of the holdout and early-stopping splits"},
					&cli.StringFlag{Name: "kind", Value: churn.KindGBDT, Usage: "model `KIND`: logistic or gbdt"},
					&cli.StringFlag{Name: "save", Usage: "write the model JSON to `FILE`"},
					outputFlag(),
				},
				Action: func(c *cli.Context) error { return e.modelsTrain(c) },
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
	Catalogue  string        `json:"catalogue"`
}

func (e *env) modelsTrain(c *cli.Context) error {
	out, err := format(c)
	if err != nil {
		return err
	}
	kind := c.String("kind")
	if kind != churn.KindLogistic && kind != churn.KindGBDT {
		return fmt.Errorf("--kind %q: use logistic or gbdt", kind)
	}
	test, frac := c.String("test"), c.Float64("holdout")
	switch {
	case test != "" && c.IsSet("holdout"):
		return errors.New("give --test FILE or --holdout FRACTION, not both")
	case test == "" && !c.IsSet("holdout"):
		return errors.New("give --test FILE or --holdout FRACTION (e.g. 0.2) to evaluate on")
	case c.IsSet("holdout") && !(frac > 0 && frac < 1):
		return fmt.Errorf("--holdout %v: want a fraction between 0 and 1", frac)
	}
	opt := churn.LoadOptions{Label: c.String("label"), ID: c.String("id")}
	train, err := loadDataset(c.String("data"), opt)
	if err != nil {
		return err
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
	rep := trainReport{
		ID: "churn-" + kind + "-" + hex.EncodeToString(sum[:6]), Kind: kind, Label: opt.Label,
		TrainRows: train.Len(), Inputs: len(m.Inputs), Trees: len(m.Trees),
		TrainingMs: float64(took.Microseconds()) / 1000, Metrics: mt,
		Catalogue: "not stored: storing models in the control plane's catalogue is a later step",
	}
	if file := c.String("save"); file != "" {
		if err := os.WriteFile(file, append(doc, '\n'), 0o644); err != nil {
			return fmt.Errorf("--save: %w", err)
		}
		rep.Saved = file
	}
	if out == "json" {
		return e.printJSON(rep)
	}
	return e.printTrainReport(rep)
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
	if r.Saved != "" {
		fmt.Fprintf(w, "\nmodel JSON written to %s (not yet in the control plane's catalogue)\n", r.Saved)
	}
	return nil
}
