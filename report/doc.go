// Package report writes what a VBG run leaves for people to read: the
// per-epoch log metrics.jsonl (Epoch, AppendMetricsJSONL, ReadMetricsJSONL),
// PNG plots drawn with gonum.org/v1/plot (loss and accuracy curves per epoch,
// the paper's Fig. 5; confusion-matrix heat maps, the paper's Fig. 6) and
// report.md, which gathers the configuration, the metric tables of a
// metrics.Report and links to the plots (WriteRun).
//
// Every PNG is rendered at DPI dots per inch; CurvePixels and
// ConfusionPixels give the resulting image sizes.
package report
