// Package metrics computes the evaluation metrics of the VBG paper
// (Experiment section, eqs. 20–25: accuracy, precision, recall, F1, mAP and
// AUC-ROC) from fixed predictions: the true class of each sample and the
// predicted class probabilities (an N×K matrix, one row per sample).
//
// Every number matches scikit-learn (tested to 1e-6 against fixtures made by
// scripts/make-metric-fixtures.py) when scikit-learn is called as follows,
// with labels = [0, 1, ..., K-1] and Y the N×K one-hot matrix of the true
// labels:
//
//	y_pred           = probs.argmax(axis=1)   # first maximum wins ties
//	Accuracy         = accuracy_score(y_true, y_pred)
//	Macro P / R / F1 = precision_recall_fscore_support(y_true, y_pred,
//	                       labels=labels, average="macro", zero_division=0)
//	Confusion        = confusion_matrix(y_true, y_pred, labels=labels)
//	MAP              = average_precision_score(Y, probs, average="macro")
//	class AP         = average_precision_score(Y[:, c], probs[:, c])
//	class AUC        = roc_auc_score(Y[:, c], probs[:, c])
//	MacroAUC         = mean of class AUC over the classes where it is defined
//
// When every class occurs in y_true, K > 2 and the rows sum to 1, MacroAUC
// also equals roc_auc_score(y_true, probs, multi_class="ovr",
// average="macro", labels=labels); for K = 2 with p0 = 1 − p1 it equals the
// binary roc_auc_score(y_true, probs[:, 1]).
//
// Which classes are averaged. All macro averages run over all K classes, not
// only over the classes that occur in y_true or y_pred (scikit-learn's default
// when labels is not passed). A class that is never predicted has precision 0;
// a class absent from y_true has recall 0; a class with neither has precision,
// recall and F1 all 0 (zero_division=0), and each of these zeros counts in the
// macro average. Macro F1 is the mean of the per-class F1 scores, not the F1 of
// macro precision and macro recall.
//
// Average precision is the step-wise sum AP = Σₙ (Rₙ − Rₙ₋₁)·Pₙ over the
// distinct score thresholds in decreasing order (tied scores form one
// threshold), without interpolation. A class with no positive sample in y_true
// has AP 0, as in scikit-learn 1.9 (which warns and sets its recall to 1),
// and that 0 counts in MAP.
//
// AUC-ROC is the area under the one-vs-rest ROC curve, built from the distinct
// score thresholds and integrated with the trapezoid rule, so a tie between a
// positive and a negative counts one half. It is computed in exact integer
// arithmetic. A class that is absent from y_true (or that is the only class in
// y_true) has no negatives or no positives, so its AUC is undefined:
// scikit-learn 1.9 returns NaN there with an UndefinedMetricWarning (older
// versions raise an error), which turns its macro average into NaN. This
// package instead reports the class AUC as undefined (nil, "null" in JSON) and
// averages MacroAUC over the remaining classes; Report.AUCClasses says how many classes were averaged. MacroAUC is
// nil when no class has an AUC.
//
// The scores only need to be finite: AP and AUC depend on the order of the
// scores of each class, and the predicted class is the arg-max of each row.
// scikit-learn's multi-class roc_auc_score additionally requires rows that sum
// to 1; this package does not.
package metrics
