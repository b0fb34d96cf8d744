//! Classification metrics stored with every model: what a data team checks before activating it.
//! Inputs are true class indices and predicted class probabilities (rows sum to 1).

use serde::{Deserialize, Serialize};

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClassMetrics {
    pub class: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Rows of this class in the evaluation data.
    pub support: usize,
}

/// One bin of the reliability curve: rows whose predicted probability of the class fell in
/// `[from, to)`, their mean prediction and how often they really were that class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CalibrationBin {
    pub from: f64,
    pub to: f64,
    pub count: usize,
    pub mean_predicted: f64,
    pub observed: f64,
}

/// Everything measured on held-out predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Evaluation {
    pub rows: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub per_class: Vec<ClassMetrics>,
    /// `confusion[true][predicted]`, classes in `per_class` order.
    pub confusion: Vec<Vec<usize>>,
    /// Binary: AUC of the second class (the positive one, e.g. `Yes`); more classes: the mean of
    /// one-vs-rest AUCs.
    pub roc_auc: f64,
    /// Mean squared error of the probabilities against one-hot truth (lower is better).
    pub brier: f64,
    /// Reliability of the probability of the positive class (binary) or of the predicted class.
    pub calibration: Vec<CalibrationBin>,
}

fn argmax(row: &[f64]) -> usize {
    row.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

/// Area under the ROC curve of `scores` for `positives`, by the rank-sum formula (ties share
/// their mean rank). `None` when one side is empty.
pub fn roc_auc(scores: &[f64], positives: &[bool]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut ranks = vec![0.0; scores.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let mean_rank = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            ranks[order[k]] = mean_rank;
        }
        i = j + 1;
    }
    let n_pos = positives.iter().filter(|p| **p).count();
    let n_neg = positives.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let rank_sum: f64 = ranks
        .iter()
        .zip(positives)
        .filter(|(_, p)| **p)
        .map(|(r, _)| r)
        .sum();
    Some((rank_sum - (n_pos * (n_pos + 1)) as f64 / 2.0) / (n_pos * n_neg) as f64)
}

/// Evaluates `probabilities` (one row per example, one column per class) against `truth`.
pub fn evaluate(classes: &[String], truth: &[usize], probabilities: &[Vec<f64>]) -> Evaluation {
    let k = classes.len();
    let mut confusion = vec![vec![0usize; k]; k];
    for (t, p) in truth.iter().zip(probabilities) {
        confusion[*t][argmax(p)] += 1;
    }
    let rows = truth.len();
    let correct: usize = (0..k).map(|c| confusion[c][c]).sum();
    let per_class: Vec<ClassMetrics> = (0..k)
        .map(|c| {
            let tp = confusion[c][c] as f64;
            let predicted: usize = (0..k).map(|t| confusion[t][c]).sum();
            let support: usize = confusion[c].iter().sum();
            let precision = if predicted > 0 {
                tp / predicted as f64
            } else {
                0.0
            };
            let recall = if support > 0 {
                tp / support as f64
            } else {
                0.0
            };
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            ClassMetrics {
                class: classes[c].clone(),
                precision,
                recall,
                f1,
                support,
            }
        })
        .collect();
    let macro_f1 = per_class.iter().map(|c| c.f1).sum::<f64>() / k.max(1) as f64;
    let one_vs_rest = |c: usize| {
        let scores: Vec<f64> = probabilities.iter().map(|p| p[c]).collect();
        let positives: Vec<bool> = truth.iter().map(|t| *t == c).collect();
        roc_auc(&scores, &positives)
    };
    let roc_auc = if k == 2 {
        one_vs_rest(1).unwrap_or(0.5)
    } else {
        let aucs: Vec<f64> = (0..k).filter_map(one_vs_rest).collect();
        aucs.iter().sum::<f64>() / aucs.len().max(1) as f64
    };
    let brier = truth
        .iter()
        .zip(probabilities)
        .map(|(t, p)| {
            p.iter()
                .enumerate()
                .map(|(c, v)| (v - if c == *t { 1.0 } else { 0.0 }).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / rows.max(1) as f64;
    // Binary: the positive class's probability; otherwise the predicted class's confidence.
    let (predicted, hit): (Vec<f64>, Vec<bool>) = truth
        .iter()
        .zip(probabilities)
        .map(|(t, p)| {
            if k == 2 {
                (p[1], *t == 1)
            } else {
                let c = argmax(p);
                (p[c], *t == c)
            }
        })
        .unzip();
    Evaluation {
        rows,
        accuracy: correct as f64 / rows.max(1) as f64,
        macro_f1,
        per_class,
        confusion,
        roc_auc,
        brier,
        calibration: calibration(&predicted, &hit, 10),
    }
}

fn calibration(predicted: &[f64], hit: &[bool], bins: usize) -> Vec<CalibrationBin> {
    (0..bins)
        .filter_map(|b| {
            let from = b as f64 / bins as f64;
            let to = (b + 1) as f64 / bins as f64;
            let members: Vec<(f64, bool)> = predicted
                .iter()
                .zip(hit)
                .filter(|(p, _)| **p >= from && (**p < to || (b + 1 == bins && **p <= to)))
                .map(|(p, h)| (*p, *h))
                .collect();
            (!members.is_empty()).then(|| CalibrationBin {
                from,
                to,
                count: members.len(),
                mean_predicted: members.iter().map(|m| m.0).sum::<f64>() / members.len() as f64,
                observed: members.iter().filter(|m| m.1).count() as f64 / members.len() as f64,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_known_rankings() {
        assert_eq!(
            roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]),
            Some(0.75)
        );
        assert_eq!(roc_auc(&[0.1, 0.2, 0.3], &[false, true, true]), Some(1.0));
        assert_eq!(roc_auc(&[0.5, 0.5], &[false, true]), Some(0.5));
        assert_eq!(roc_auc(&[0.5, 0.5], &[true, true]), None);
    }

    #[test]
    fn hand_computed_binary_metrics() {
        let classes = vec!["No".to_owned(), "Yes".to_owned()];
        let truth = [0, 0, 1, 1];
        let p = |yes: f64| vec![1.0 - yes, yes];
        let probabilities = [p(0.1), p(0.6), p(0.7), p(0.4)];
        let e = evaluate(&classes, &truth, &probabilities);
        assert_eq!(e.confusion, vec![vec![1, 1], vec![1, 1]]);
        assert_eq!(e.accuracy, 0.5);
        assert_eq!(e.per_class[1].precision, 0.5);
        assert_eq!(e.per_class[1].recall, 0.5);
        assert_eq!(e.roc_auc, 0.75);
        let brier = (2.0 * 0.01 + 2.0 * 0.36 + 2.0 * 0.09 + 2.0 * 0.36) / 4.0;
        assert!((e.brier - brier).abs() < 1e-12);
        assert_eq!(e.calibration.iter().map(|b| b.count).sum::<usize>(), 4);
    }

    #[test]
    fn multiclass_macro_f1() {
        let classes: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let one_hot = |c: usize| (0..3).map(|i| if i == c { 0.8 } else { 0.1 }).collect();
        let truth = [0, 1, 2, 2];
        let probabilities: Vec<Vec<f64>> = [0, 1, 2, 0].into_iter().map(one_hot).collect();
        let e = evaluate(&classes, &truth, &probabilities);
        // a: P 1/2 R 1 F1 2/3; b: 1, 1, 1; c: P 1 R 1/2 F1 2/3.
        assert!((e.macro_f1 - (2.0 / 3.0 + 1.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        assert_eq!(e.accuracy, 0.75);
    }
}
