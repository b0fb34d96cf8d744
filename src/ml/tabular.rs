//! Classifiers on tabular data (churn, or any target a tenant names): features from the inferred
//! schema, candidates compared by stratified 5-fold cross-validation, the best refitted on all
//! rows. The artifact is plain serde data, so a model trained once loads anywhere.
//!
//! Features: numeric columns standardised (missing → the mean), boolean columns 0/1 (missing → the
//! share of true), categorical columns one-hot (blank is a category of its own; a value unseen in
//! training gets all zeros). Identifier and free-text columns are left out.
//!
//! Folds are reproducible in any language (the scikit-learn peer in `benches/peers/` uses the same
//! rule): rows in file order, and within each class the k-th row goes to fold k mod 5.

use std::collections::HashMap;
use std::time::Instant;

use abcall_learn::{
    ForestParams, Logistic, Tree, fit_forest, logistic_probabilities, tree_importance, tree_predict,
};
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

use super::MlError;
use super::metrics::{Evaluation, evaluate};
use crate::domain::dataset::{ColumnType, DatasetSchema, Table, boolean_value, numeric_value};

pub const FOLDS: usize = 5;

/// How one column becomes features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FeatureColumn {
    Numeric {
        name: String,
        mean: f64,
        std: f64,
    },
    Boolean {
        name: String,
        mean: f64,
    },
    Categorical {
        name: String,
        categories: Vec<String>,
    },
}

/// The encoding learnt from training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    pub columns: Vec<FeatureColumn>,
}

impl FeatureSpec {
    /// Learns the encoding of every usable column except `target` from `rows` of `table`.
    pub fn fit(schema: &DatasetSchema, table: &Table, rows: &[usize], target: &str) -> FeatureSpec {
        let mut columns = Vec::new();
        for (index, column) in schema.columns.iter().enumerate() {
            if column.name == target {
                continue;
            }
            let values = || rows.iter().filter_map(|&r| table.rows[r][index].as_deref());
            match column.kind {
                ColumnType::Numeric => {
                    let numbers: Vec<f64> = values().filter_map(numeric_value).collect();
                    let n = numbers.len().max(1) as f64;
                    let mean = numbers.iter().sum::<f64>() / n;
                    let var = numbers.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
                    columns.push(FeatureColumn::Numeric {
                        name: column.name.clone(),
                        mean,
                        std: if var > 0.0 { var.sqrt() } else { 1.0 },
                    });
                }
                ColumnType::Boolean => {
                    let flags: Vec<bool> = values().filter_map(boolean_value).collect();
                    let mean =
                        flags.iter().filter(|b| **b).count() as f64 / flags.len().max(1) as f64;
                    columns.push(FeatureColumn::Boolean {
                        name: column.name.clone(),
                        mean,
                    });
                }
                ColumnType::Categorical => {
                    let mut categories: Vec<String> = rows
                        .iter()
                        .map(|&r| table.rows[r][index].clone().unwrap_or_default())
                        .collect();
                    categories.sort();
                    categories.dedup();
                    columns.push(FeatureColumn::Categorical {
                        name: column.name.clone(),
                        categories,
                    });
                }
                ColumnType::Text | ColumnType::Identifier => {}
            }
        }
        FeatureSpec { columns }
    }

    /// Feature names, e.g. `tenure` or `Contract=Month-to-month`.
    pub fn names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for column in &self.columns {
            match column {
                FeatureColumn::Numeric { name, .. } | FeatureColumn::Boolean { name, .. } => {
                    names.push(name.clone());
                }
                FeatureColumn::Categorical { name, categories } => {
                    names.extend(categories.iter().map(|c| format!("{name}={c}")));
                }
            }
        }
        names
    }

    pub fn width(&self) -> usize {
        self.columns
            .iter()
            .map(|c| match c {
                FeatureColumn::Categorical { categories, .. } => categories.len(),
                _ => 1,
            })
            .sum()
    }

    /// Encodes one record; `value(column)` gives its cell (None when missing).
    pub fn encode<'a>(&self, value: impl Fn(&str) -> Option<&'a str>, out: &mut Vec<f64>) {
        for column in &self.columns {
            match column {
                FeatureColumn::Numeric { name, mean, std } => {
                    let v = value(name).and_then(numeric_value).unwrap_or(*mean);
                    out.push((v - mean) / std);
                }
                FeatureColumn::Boolean { name, mean } => {
                    out.push(
                        value(name)
                            .and_then(boolean_value)
                            .map_or(*mean, |b| if b { 1.0 } else { 0.0 }),
                    );
                }
                FeatureColumn::Categorical { name, categories } => {
                    let v = value(name).unwrap_or("");
                    out.extend(categories.iter().map(|c| if c == v { 1.0 } else { 0.0 }));
                }
            }
        }
    }

    fn matrix(&self, table: &Table, rows: &[usize]) -> Array2<f64> {
        let index: HashMap<&str, usize> = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect();
        let mut data = Vec::with_capacity(rows.len() * self.width());
        for &r in rows {
            let row = &table.rows[r];
            self.encode(
                |name| index.get(name).and_then(|&i| row[i].as_deref()),
                &mut data,
            );
        }
        Array2::from_shape_vec((rows.len(), self.width()), data)
            .expect("every row encodes to the spec's width")
    }
}

/// A fitted classifier.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "snake_case")]
pub enum Classifier {
    LogisticRegression {
        model: Logistic,
    },
    /// Bagged decision trees, each on a bootstrap sample and a random subset of the features;
    /// the probability of a class is the share of trees voting for it.
    RandomForest {
        trees: Vec<Tree>,
        features: Vec<Vec<usize>>,
    },
}

impl Classifier {
    pub fn algorithm(&self) -> &'static str {
        match self {
            Classifier::LogisticRegression { .. } => "logistic_regression",
            Classifier::RandomForest { .. } => "random_forest",
        }
    }

    /// Class probabilities, one row per input row, columns in class-index order.
    pub fn probabilities(&self, x: &Array2<f64>, classes: usize) -> Array2<f64> {
        match self {
            Classifier::LogisticRegression { model } => {
                // The model's columns follow its own class list; map them to class indices.
                let raw = logistic_probabilities(model, x);
                let mut out = Array2::zeros((x.nrows(), classes));
                for (column, class) in model.classes().iter().enumerate() {
                    out.column_mut(*class).assign(&raw.column(column));
                }
                out
            }
            Classifier::RandomForest { trees, features } => {
                let mut votes = Array2::<f64>::zeros((x.nrows(), classes));
                for (tree, columns) in trees.iter().zip(features) {
                    let predicted: Array1<usize> = tree_predict(tree, &x.select(Axis(1), columns));
                    for (row, class) in predicted.iter().enumerate() {
                        votes[[row, *class]] += 1.0;
                    }
                }
                votes / trees.len().max(1) as f64
            }
        }
    }
}

/// One algorithm's cross-validated result.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Candidate {
    pub algorithm: String,
    /// ROC AUC of each fold (binary: positive class; multi-class: mean one-vs-rest).
    pub fold_auc: Vec<f64>,
    pub mean_auc: f64,
    pub macro_f1: f64,
    pub accuracy: f64,
    /// Time to fit all folds.
    pub seconds: f64,
}

/// A feature's weight in the chosen model, for people to read.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Importance {
    pub feature: String,
    pub weight: f64,
}

/// Everything training produces: the artifact to store and what to show.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TabularModel {
    pub target: String,
    pub classes: Vec<String>,
    pub spec: FeatureSpec,
    pub classifier: Classifier,
    /// A logistic regression on the same features, kept to explain single predictions.
    pub explainer: Logistic,
    pub evaluation: Evaluation,
    pub candidates: Vec<Candidate>,
    pub importances: Vec<Importance>,
}

/// The fold of each row: within each class, the k-th row (in file order) goes to fold k mod 5.
pub fn stratified_folds(labels: &[usize], folds: usize) -> Vec<usize> {
    let mut seen: HashMap<usize, usize> = HashMap::new();
    labels
        .iter()
        .map(|label| {
            let k = seen.entry(*label).or_insert(0);
            let fold = *k % folds;
            *k += 1;
            fold
        })
        .collect()
}

pub(crate) fn fit_logistic(x: &Array2<f64>, y: &Array1<usize>) -> Result<Logistic, MlError> {
    abcall_learn::fit_logistic(x, y, 1.0, 200)
        .map_err(|e| MlError::Training(format!("logistic regression: {e}")))
}

/// The forest grown for tabular targets: enough trees for stable vote shares, shallow enough
/// to train in seconds on a few thousand customers.
const FOREST: ForestParams = ForestParams {
    trees: 40,
    max_depth: 8,
    min_weight_leaf: 5.0,
    bootstrap_proportion: 0.8,
    feature_proportion: 0.6,
    seed: 7,
};

fn fit(algorithm: &str, x: &Array2<f64>, y: &Array1<usize>) -> Result<Classifier, MlError> {
    match algorithm {
        "logistic_regression" => Ok(Classifier::LogisticRegression {
            model: fit_logistic(x, y)?,
        }),
        _ => {
            let (trees, features) = fit_forest(x, y, FOREST)
                .map_err(|e| MlError::Training(format!("random forest: {e}")))?;
            Ok(Classifier::RandomForest { trees, features })
        }
    }
}

pub const ALGORITHMS: [&str; 2] = ["logistic_regression", "random_forest"];

/// Trains a classifier of `target` on every row of `table`: cross-validates each algorithm,
/// keeps the best (binary targets by mean ROC AUC, others by macro-F1) and refits it on all rows.
/// `progress(done, total, what)` is called between steps.
pub fn train(
    table: &Table,
    schema: &DatasetSchema,
    target: &str,
    algorithms: &[&str],
    mut progress: impl FnMut(usize, usize, &str),
) -> Result<TabularModel, MlError> {
    let target_index = table
        .columns
        .iter()
        .position(|c| c == target)
        .ok_or_else(|| MlError::Training(format!("no column {target:?}")))?;
    let values: Vec<Option<String>> = table.rows.iter().map(|r| r[target_index].clone()).collect();
    let (classes, labels) = class_labels(&values, target)?;
    let steps = algorithms.len() * FOLDS + 2;
    let selection = select_by_cross_validation(
        &classes,
        &labels,
        algorithms,
        |algorithm, train_rows, test_rows| {
            let spec = FeatureSpec::fit(schema, table, train_rows, target);
            let x_train = spec.matrix(table, train_rows);
            let y_train: Array1<usize> = train_rows.iter().map(|&r| labels[r]).collect();
            let classifier = fit(algorithm, &x_train, &y_train)?;
            Ok(classifier.probabilities(&spec.matrix(table, test_rows), classes.len()))
        },
        &mut progress,
    )?;
    let (candidates, best, evaluation) =
        (selection.candidates, selection.best, selection.evaluation);
    let step = steps - 1;

    progress(step, steps, &format!("fitting {best} on every row"));
    let all: Vec<usize> = (0..labels.len()).collect();
    let spec = FeatureSpec::fit(schema, table, &all, target);
    let x = spec.matrix(table, &all);
    let y: Array1<usize> = labels.iter().copied().collect();
    let classifier = fit(&best, &x, &y)?;
    let explainer = match &classifier {
        Classifier::LogisticRegression { model } => model.clone(),
        Classifier::RandomForest { .. } => fit_logistic(&x, &y)?,
    };
    let importances = importances(&spec, &classifier, &explainer, classes.len());
    progress(steps, steps, "done");
    Ok(TabularModel {
        target: target.to_owned(),
        classes,
        spec,
        classifier,
        explainer,
        evaluation,
        candidates,
        importances,
    })
}

/// The outcome of comparing algorithms by cross-validation.
pub struct Selection {
    pub candidates: Vec<Candidate>,
    /// The winner: binary targets by mean ROC AUC, others by macro-F1.
    pub best: String,
    /// The winner's held-out predictions, evaluated together.
    pub evaluation: Evaluation,
}

/// Runs every algorithm over the stratified folds: `fold_probabilities(algorithm, train, test)`
/// fits on the train rows and returns class probabilities for the test rows.
pub fn select_by_cross_validation(
    classes: &[String],
    labels: &[usize],
    algorithms: &[&str],
    mut fold_probabilities: impl FnMut(&str, &[usize], &[usize]) -> Result<Array2<f64>, MlError>,
    progress: &mut impl FnMut(usize, usize, &str),
) -> Result<Selection, MlError> {
    for (class, name) in classes.iter().enumerate() {
        let count = labels.iter().filter(|l| **l == class).count();
        if count < FOLDS {
            return Err(MlError::Training(format!(
                "class {name:?} has {count} rows; at least {FOLDS} are needed"
            )));
        }
    }
    let folds = stratified_folds(labels, FOLDS);
    let steps = algorithms.len() * FOLDS + 2;
    let mut step = 0;
    let mut candidates = Vec::new();
    let mut held_out: HashMap<String, Vec<Vec<f64>>> = HashMap::new();
    for algorithm in algorithms {
        let started = Instant::now();
        let mut predictions = vec![Vec::new(); labels.len()];
        let mut fold_auc = Vec::new();
        for fold in 0..FOLDS {
            progress(
                step,
                steps,
                &format!("{algorithm}: fold {} of {FOLDS}", fold + 1),
            );
            step += 1;
            let train_rows: Vec<usize> = (0..labels.len()).filter(|&r| folds[r] != fold).collect();
            let test_rows: Vec<usize> = (0..labels.len()).filter(|&r| folds[r] == fold).collect();
            let p = fold_probabilities(algorithm, &train_rows, &test_rows)?;
            let truth: Vec<usize> = test_rows.iter().map(|&r| labels[r]).collect();
            let rows: Vec<Vec<f64>> = p.rows().into_iter().map(|r| r.to_vec()).collect();
            fold_auc.push(evaluate(classes, &truth, &rows).roc_auc);
            for (r, probabilities) in test_rows.iter().zip(rows) {
                predictions[*r] = probabilities;
            }
        }
        let overall = evaluate(classes, labels, &predictions);
        candidates.push(Candidate {
            algorithm: (*algorithm).to_owned(),
            mean_auc: fold_auc.iter().sum::<f64>() / FOLDS as f64,
            fold_auc,
            macro_f1: overall.macro_f1,
            accuracy: overall.accuracy,
            seconds: started.elapsed().as_secs_f64(),
        });
        held_out.insert((*algorithm).to_owned(), predictions);
    }
    let binary = classes.len() == 2;
    let best = candidates
        .iter()
        .max_by(|a, b| {
            let key = |c: &Candidate| if binary { c.mean_auc } else { c.macro_f1 };
            key(a).total_cmp(&key(b))
        })
        .ok_or_else(|| MlError::Training("no algorithm to compare".into()))?
        .algorithm
        .clone();
    let evaluation = evaluate(classes, labels, &held_out[&best]);
    Ok(Selection {
        candidates,
        best,
        evaluation,
    })
}

/// Class names (sorted) and each row's class index; every row must have a value.
pub fn class_labels(
    values: &[Option<String>],
    target: &str,
) -> Result<(Vec<String>, Vec<usize>), MlError> {
    let mut classes: Vec<String> = values.iter().flatten().cloned().collect();
    classes.sort();
    classes.dedup();
    let class_of: HashMap<&str, usize> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let labels = values
        .iter()
        .map(|v| {
            v.as_deref()
                .and_then(|v| class_of.get(v).copied())
                .ok_or_else(|| MlError::Training(format!("a row has no {target}")))
        })
        .collect::<Result<_, _>>()?;
    Ok((classes, labels))
}

/// The effect of each feature on the last class's score (binary: the positive class) in the
/// logistic model, per standardised unit: the difference between its two columns of weights.
fn logistic_effects(model: &Logistic, classes: usize) -> Vec<f64> {
    let params = model.params();
    let column = |class: usize| {
        model
            .classes()
            .iter()
            .position(|c| *c == class)
            .map(|i| params.column(i).to_owned())
    };
    match (column(classes - 1), column(0)) {
        (Some(last), Some(first)) => (last - first).to_vec(),
        _ => vec![0.0; params.nrows()],
    }
}

fn importances(
    spec: &FeatureSpec,
    classifier: &Classifier,
    explainer: &Logistic,
    classes: usize,
) -> Vec<Importance> {
    let names = spec.names();
    let weights: Vec<f64> = match classifier {
        Classifier::LogisticRegression { .. } => logistic_effects(explainer, classes),
        Classifier::RandomForest { trees, features } => {
            let mut total = vec![0.0; names.len()];
            for (tree, columns) in trees.iter().zip(features) {
                for (weight, column) in tree_importance(tree).iter().zip(columns) {
                    total[*column] += weight / trees.len() as f64;
                }
            }
            total
        }
    };
    let mut ranked: Vec<Importance> = names
        .into_iter()
        .zip(weights)
        .map(|(feature, weight)| Importance { feature, weight })
        .collect();
    ranked.sort_by(|a, b| b.weight.abs().total_cmp(&a.weight.abs()));
    ranked.truncate(15);
    ranked
}

/// One reason behind a prediction: a feature of the record and how much it pushed the score of
/// the predicted positive class (logistic contribution, in log-odds).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reason {
    pub feature: String,
    pub effect: f64,
}

/// A scored record.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Prediction {
    pub label: String,
    /// Binary: probability of the positive (second) class; otherwise of `label`.
    pub probability: f64,
    pub probabilities: Vec<(String, f64)>,
    /// The features that raised the score most, strongest first.
    pub reasons: Vec<Reason>,
}

impl TabularModel {
    /// Scores one record, read through `value(column)`.
    pub fn predict<'a>(&self, value: impl Fn(&str) -> Option<&'a str>) -> Prediction {
        let mut features = Vec::with_capacity(self.spec.width());
        self.spec.encode(value, &mut features);
        let x = Array2::from_shape_vec((1, features.len()), features.clone())
            .expect("one row of the spec's width");
        let p = self.classifier.probabilities(&x, self.classes.len());
        let row: Vec<f64> = p.row(0).to_vec();
        let best = row
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        let binary = self.classes.len() == 2;
        let effects = logistic_effects(&self.explainer, self.classes.len());
        let mut reasons: Vec<Reason> = self
            .spec
            .names()
            .into_iter()
            .zip(features.iter().zip(&effects))
            .map(|(feature, (x, w))| Reason {
                feature,
                effect: x * w,
            })
            .filter(|r| r.effect > 0.0)
            .collect();
        reasons.sort_by(|a, b| b.effect.total_cmp(&a.effect));
        reasons.truncate(3);
        Prediction {
            label: self.classes[best].clone(),
            probability: if binary { row[1] } else { row[best] },
            probabilities: self.classes.iter().cloned().zip(row).collect(),
            reasons,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::dataset::{DatasetKind, Roles, infer, read_csv};

    #[test]
    fn folds_are_stratified_in_file_order() {
        assert_eq!(
            stratified_folds(&[0, 0, 1, 0, 1, 1, 0, 0, 0], 5),
            vec![0, 1, 0, 2, 1, 2, 3, 4, 0]
        );
    }

    #[test]
    fn a_learnable_target_is_learnt_and_explained() {
        let mut text = String::from("id,plan,tenure,paperless,churn\n");
        for i in 0..200 {
            let monthly = i % 3 != 0;
            let tenure = if monthly { i % 12 } else { 24 + i % 48 };
            // Month-to-month customers with short tenure leave; a little noise.
            let churn = monthly && tenure < 8 || i % 17 == 0;
            text.push_str(&format!(
                "C{i},{},{tenure},{},{}\n",
                if monthly { "mensual" } else { "anual" },
                if i % 2 == 0 { "yes" } else { "no" },
                if churn { "Yes" } else { "No" }
            ));
        }
        let table = read_csv(&text).unwrap();
        let roles = Roles {
            target: Some("churn".into()),
            ..Roles::default()
        };
        let schema = infer(&table, DatasetKind::Tabular, &roles).unwrap();
        let mut steps = 0;
        let model = train(&table, &schema, "churn", &ALGORITHMS, |_, _, _| steps += 1).unwrap();
        assert_eq!(model.classes, ["No", "Yes"]);
        assert_eq!(steps, ALGORITHMS.len() * FOLDS + 2);
        assert!(model.evaluation.roc_auc > 0.85, "{:?}", model.candidates);
        assert!(!model.spec.names().iter().any(|n| n.starts_with("id")));
        let cell = |plan: &'static str, tenure: &'static str| {
            move |column: &str| match column {
                "plan" => Some(plan),
                "tenure" => Some(tenure),
                _ => None,
            }
        };
        let risky = model.predict(cell("mensual", "1"));
        let loyal = model.predict(cell("anual", "60"));
        assert_eq!(risky.label, "Yes");
        assert!(risky.probability > loyal.probability);
        assert!(
            risky
                .reasons
                .iter()
                .any(|r| r.feature == "plan=mensual" || r.feature == "tenure"),
            "{:?}",
            risky.reasons
        );
        // The artifact round-trips through MessagePack, as the registry stores it.
        let bytes = rmp_serde::to_vec_named(&model).unwrap();
        let back: TabularModel = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(
            back.predict(cell("mensual", "1")).probability,
            risky.probability
        );
    }
}

#[cfg(test)]
mod timing {
    use super::*;
    use crate::domain::dataset::{DatasetKind, Roles, infer, read_csv};

    /// `cargo test --lib training_time -- --ignored --nocapture`: how long one fit takes here.
    #[test]
    #[ignore]
    fn training_time() {
        let text = std::fs::read_to_string("data/churn/telco_churn_train.csv").unwrap();
        let table = read_csv(&text).unwrap();
        let roles = Roles {
            target: Some("Churn".into()),
            ..Roles::default()
        };
        let schema = infer(&table, DatasetKind::Tabular, &roles).unwrap();
        let rows: Vec<usize> = (0..table.rows.len()).collect();
        let spec = FeatureSpec::fit(&schema, &table, &rows, "Churn");
        let x = spec.matrix(&table, &rows);
        let values: Vec<Option<String>> = table
            .rows
            .iter()
            .map(|r| r.last().cloned().flatten())
            .collect();
        let (_, labels) = class_labels(&values, "Churn").unwrap();
        let y: Array1<usize> = labels.into_iter().collect();
        for algorithm in ALGORITHMS {
            let started = Instant::now();
            fit(algorithm, &x, &y).unwrap();
            eprintln!(
                "{algorithm}: {:?} on {} x {}",
                started.elapsed(),
                x.nrows(),
                x.ncols()
            );
        }
    }
}
