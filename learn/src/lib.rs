//! linfa's learners, instantiated here for `f64` features and `usize` class indices.
//!
//! linfa's solvers and trees are generic, so their code is compiled in the crate that names the
//! concrete types. Naming them here, behind plain functions, lets this small crate be built with
//! `opt-level = 3` in every profile (see the workspace's Cargo.toml) while the service crate keeps
//! fast unoptimised debug builds: training a random forest in a test is then ~7× faster.

use linfa::DatasetBase;
use linfa::prelude::{Fit, Predict};
use linfa_ensemble::EnsembleLearnerParams;
use ndarray::{Array1, Array2};
use rand::SeedableRng;

pub use linfa_logistic::MultiFittedLogisticRegression;
pub use linfa_trees::DecisionTree;

/// A fitted multinomial logistic regression.
pub type Logistic = MultiFittedLogisticRegression<f64, usize>;
/// A fitted decision tree.
pub type Tree = DecisionTree<f64, usize>;

/// Fits a multinomial logistic regression (L2 penalty `alpha`, L-BFGS).
pub fn fit_logistic(
    x: &Array2<f64>,
    y: &Array1<usize>,
    alpha: f64,
    max_iterations: u64,
) -> Result<Logistic, String> {
    linfa_logistic::MultiLogisticRegression::default()
        .alpha(alpha)
        .max_iterations(max_iterations)
        .fit(&DatasetBase::new(x.clone(), y.clone()))
        .map_err(|e| e.to_string())
}

/// Class probabilities, columns in the model's own class order (`model.classes()`).
pub fn logistic_probabilities(model: &Logistic, x: &Array2<f64>) -> Array2<f64> {
    model.predict_probabilities(x)
}

/// How a random forest is grown.
#[derive(Debug, Clone, Copy)]
pub struct ForestParams {
    pub trees: usize,
    pub max_depth: usize,
    pub min_weight_leaf: f32,
    /// Share of the rows drawn (with replacement) for each tree.
    pub bootstrap_proportion: f64,
    /// Share of the features each tree sees.
    pub feature_proportion: f64,
    pub seed: u64,
}

/// Grows a forest of bagged trees on random feature subsets; returns each tree with the columns
/// it was trained on.
pub fn fit_forest(
    x: &Array2<f64>,
    y: &Array1<usize>,
    params: ForestParams,
) -> Result<(Vec<Tree>, Vec<Vec<usize>>), String> {
    let forest = EnsembleLearnerParams::new_fixed_rng(
        DecisionTree::params()
            .max_depth(Some(params.max_depth))
            .min_weight_leaf(params.min_weight_leaf),
        rand::rngs::SmallRng::seed_from_u64(params.seed),
    )
    .ensemble_size(params.trees)
    .bootstrap_proportion(params.bootstrap_proportion)
    .feature_proportion(params.feature_proportion)
    .fit(&DatasetBase::new(x.clone(), y.clone()))
    .map_err(|e| e.to_string())?;
    Ok((forest.models, forest.model_features))
}

/// The class a tree predicts for each row of `x` (already restricted to the tree's columns).
pub fn tree_predict(tree: &Tree, x: &Array2<f64>) -> Array1<usize> {
    tree.predict(x)
}

/// Each of the tree's columns' share of its impurity decrease.
pub fn tree_importance(tree: &Tree) -> Vec<f64> {
    tree.feature_importance()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learners_fit_and_predict() {
        let x = Array2::from_shape_fn((40, 2), |(i, j)| if j == 0 { (i % 2) as f64 } else { 0.0 });
        let y: Array1<usize> = (0..40).map(|i| i % 2).collect();
        let logistic = fit_logistic(&x, &y, 0.1, 100).unwrap();
        let p = logistic_probabilities(&logistic, &x);
        assert!(p[[1, 1]] > 0.5 && p[[0, 1]] < 0.5);
        let params = ForestParams {
            trees: 5,
            max_depth: 3,
            min_weight_leaf: 1.0,
            bootstrap_proportion: 1.0,
            feature_proportion: 1.0,
            seed: 1,
        };
        let (trees, features) = fit_forest(&x, &y, params).unwrap();
        assert_eq!(trees.len(), 5);
        assert_eq!(
            tree_predict(&trees[0], &x.select(ndarray::Axis(1), &features[0]))[1],
            1
        );
    }
}
