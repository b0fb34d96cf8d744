//! Classifiers of short texts (a PQR's risk, category or sentiment): multilingual-e5 sentence
//! embeddings as features and a multinomial logistic regression on top, its regularisation chosen
//! by stratified 5-fold cross-validation like the tabular models.

use abcall_learn::Logistic;
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

use super::MlError;
use super::metrics::Evaluation;
use super::tabular::{Candidate, Classifier, Prediction, class_labels, select_by_cross_validation};

/// Regularisation strengths tried (linfa's `alpha`: larger means simpler models).
const ALPHAS: [(&str, f64); 2] = [
    ("logistic_regression_alpha_1", 1.0),
    ("logistic_regression_alpha_0.01", 0.01),
];

/// A trained text classifier: the artifact to store and what to show.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TextModel {
    pub target: String,
    /// The embedding model its features come from; scoring must use the same.
    pub embedder: String,
    pub classes: Vec<String>,
    pub model: Logistic,
    pub algorithm: String,
    pub evaluation: Evaluation,
    pub candidates: Vec<Candidate>,
}

fn fit(alpha: f64, x: Array2<f64>, y: Array1<usize>) -> Result<Logistic, MlError> {
    abcall_learn::fit_logistic(&x, &y, alpha, 150)
        .map_err(|e| MlError::Training(format!("logistic regression: {e}")))
}

/// Trains on `embeddings` (one row per text) labelled `values`.
pub fn train(
    embeddings: &Array2<f64>,
    values: &[Option<String>],
    target: &str,
    embedder: &str,
    mut progress: impl FnMut(usize, usize, &str),
) -> Result<TextModel, MlError> {
    let (classes, labels) = class_labels(values, target)?;
    let names: Vec<&str> = ALPHAS.iter().map(|(name, _)| *name).collect();
    let alpha_of = |name: &str| {
        ALPHAS
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(1.0, |(_, a)| *a)
    };
    let selection = select_by_cross_validation(
        &classes,
        &labels,
        &names,
        |algorithm, train_rows, test_rows| {
            let x = embeddings.select(Axis(0), train_rows);
            let y: Array1<usize> = train_rows.iter().map(|&r| labels[r]).collect();
            let model = fit(alpha_of(algorithm), x, y)?;
            let classifier = Classifier::LogisticRegression { model };
            Ok(classifier.probabilities(&embeddings.select(Axis(0), test_rows), classes.len()))
        },
        &mut progress,
    )?;
    let steps = names.len() * super::tabular::FOLDS + 2;
    progress(
        steps - 1,
        steps,
        &format!("fitting {} on every row", selection.best),
    );
    let y: Array1<usize> = labels.iter().copied().collect();
    let model = fit(alpha_of(&selection.best), embeddings.clone(), y)?;
    progress(steps, steps, "done");
    Ok(TextModel {
        target: target.to_owned(),
        embedder: embedder.to_owned(),
        classes,
        model,
        algorithm: selection.best,
        evaluation: selection.evaluation,
        candidates: selection.candidates,
    })
}

impl TextModel {
    /// Classifies one embedded text.
    pub fn predict(&self, embedding: &[f32]) -> Prediction {
        let x = Array2::from_shape_vec(
            (1, embedding.len()),
            embedding.iter().map(|v| f64::from(*v)).collect(),
        )
        .expect("one row");
        let classifier = Classifier::LogisticRegression {
            model: self.model.clone(),
        };
        let row = classifier
            .probabilities(&x, self.classes.len())
            .row(0)
            .to_vec();
        let best = row
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        Prediction {
            label: self.classes[best].clone(),
            probability: if self.classes.len() == 2 {
                row[1]
            } else {
                row[best]
            },
            probabilities: self.classes.iter().cloned().zip(row).collect(),
            reasons: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_embeddings_are_learnt() {
        // Three classes around three directions, with a little spread.
        let mut rows = Vec::new();
        let mut values = Vec::new();
        for i in 0..60 {
            let class = i % 3;
            let mut v = vec![0.05 * ((i * 7 % 5) as f64); 8];
            v[class] += 1.0;
            rows.extend(v);
            values.push(Some(["alto", "bajo", "medio"][class].to_owned()));
        }
        let x = Array2::from_shape_vec((60, 8), rows).unwrap();
        let model = train(&x, &values, "risk", "test", |_, _, _| {}).unwrap();
        assert_eq!(model.classes, ["alto", "bajo", "medio"]);
        assert!(model.evaluation.accuracy > 0.95, "{:?}", model.evaluation);
        let mut probe = vec![0.0f32; 8];
        probe[2] = 1.0;
        assert_eq!(model.predict(&probe).label, "medio");
    }
}
