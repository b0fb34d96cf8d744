//! How big a query may be, checked before anything runs. Nested fields (customer → incidents →
//! customer …) would let one small request fan out into millions of rows; the depth and
//! complexity limits refuse such a query with an error that says what to change.
//!
//! - **Depth** counts nested data fields; introspection (`__schema`, `__type`, `__typename`) does
//!   not count, so the usual tools' introspection queries (about 13 levels of `ofType`) still work.
//!   The schema's own `limit_depth` (see `mod.rs`) bounds every query, introspection included,
//!   at [`MAX_TOTAL_DEPTH`].
//! - **Complexity** is async-graphql's: 1 per field, and a list field costs `first` (50 when not
//!   given) times its items' fields ([`list_cost`]); `kpis` adds [`KPIS_COST`]. It is checked here rather than with the
//!   schema's `limit_complexity` so that the error can say the query's cost and the limit.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult, ValidationResult, Variables};

use super::error::LimitError;
use crate::store::incidents::{DEFAULT_PAGE, MAX_PAGE};

/// Deepest nesting of data fields: `customers { items { incidents { items { id } } } }` is 5.
pub const MAX_DEPTH: usize = 10;

/// Bound on every query, introspection included.
pub const MAX_TOTAL_DEPTH: usize = 20;

/// Most a query may cost: a full page (200) of incidents with every field is about 7,000.
pub const MAX_COMPLEXITY: usize = 10_000;

/// What `kpis` costs on top of its fields: it runs several aggregate queries over the range, so
/// one request may not repeat it (with aliases) more than a few times.
pub const KPIS_COST: usize = 1_000;

/// Fragments spread within fragments deeper than this are refused (bounds the walk below).
const MAX_FRAGMENT_NESTING: usize = 32;

/// The complexity of a list field: its items' fields times the page size asked for. `first` is
/// clamped to the page sizes the API allows (an out-of-range `first` is refused when the field
/// runs), and the product saturates so that no query overflows the sum.
pub fn list_cost(first: Option<i32>, child_complexity: usize) -> usize {
    let first = first.map_or(DEFAULT_PAGE, |f| f.clamp(1, MAX_PAGE as i32) as u32) as usize;
    first
        .saturating_mul(child_complexity)
        .saturating_add(1)
        .min(1 << 40)
}

/// Registers the checks on the schema.
pub struct Limits;

impl ExtensionFactory for Limits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(LimitsExtension)
    }
}

struct LimitsExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for LimitsExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let depth = data_depth(&document).map_err(LimitError::into_server_error)?;
        if depth > MAX_DEPTH {
            return Err(LimitError::TooDeep {
                depth,
                max: MAX_DEPTH,
            }
            .into_server_error());
        }
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        if result.complexity > MAX_COMPLEXITY {
            return Err(vec![
                LimitError::TooComplex {
                    complexity: result.complexity,
                    max: MAX_COMPLEXITY,
                }
                .into_server_error(),
            ]);
        }
        Ok(result)
    }
}

/// The deepest nesting of data fields over every operation of the document, following fragments.
pub fn data_depth(document: &ExecutableDocument) -> Result<usize, LimitError> {
    let mut walk = DepthWalk {
        document,
        known: HashMap::new(),
        visiting: HashSet::new(),
    };
    let mut depth = 0;
    for (_, operation) in document.operations.iter() {
        depth = depth.max(walk.selection_set(&operation.node.selection_set.node)?);
    }
    Ok(depth)
}

struct DepthWalk<'d> {
    document: &'d ExecutableDocument,
    /// Depth of each fragment already walked, so a fragment spread many times is walked once.
    known: HashMap<&'d str, usize>,
    /// Fragments being walked; a cycle is left to validation, which refuses it.
    visiting: HashSet<&'d str>,
}

impl<'d> DepthWalk<'d> {
    fn selection_set(&mut self, set: &'d SelectionSet) -> Result<usize, LimitError> {
        let mut deepest = 0;
        for item in &set.items {
            let depth = match &item.node {
                Selection::Field(field) => {
                    if field.node.name.node.starts_with("__") {
                        0
                    } else {
                        1 + self.selection_set(&field.node.selection_set.node)?
                    }
                }
                Selection::InlineFragment(fragment) => {
                    self.selection_set(&fragment.node.selection_set.node)?
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    self.fragment(name)?
                }
            };
            deepest = deepest.max(depth);
        }
        Ok(deepest)
    }

    fn fragment(&mut self, name: &'d str) -> Result<usize, LimitError> {
        if let Some(depth) = self.known.get(name) {
            return Ok(*depth);
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            return Ok(0); // unknown: validation reports it
        };
        if self.visiting.contains(name) {
            return Ok(0);
        }
        if self.visiting.len() >= MAX_FRAGMENT_NESTING {
            return Err(LimitError::FragmentsTooNested {
                max: MAX_FRAGMENT_NESTING,
            });
        }
        self.visiting.insert(name);
        let depth = self.selection_set(&fragment.node.selection_set.node);
        self.visiting.remove(name);
        let depth = depth?;
        self.known.insert(name, depth);
        Ok(depth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(query: &str) -> Result<usize, LimitError> {
        data_depth(&async_graphql::parser::parse_query(query).unwrap())
    }

    #[test]
    fn depth_counts_nested_data_fields() {
        assert_eq!(depth("{ a }").unwrap(), 1);
        assert_eq!(depth("{ a { b { c } } d }").unwrap(), 3);
        assert_eq!(
            depth("query { a { ...F } } fragment F on T { b { ... on U { c } } }").unwrap(),
            3
        );
    }

    #[test]
    fn introspection_does_not_count() {
        let query = "{ __schema { types { fields { type { ofType { ofType { ofType { ofType \
            { ofType { ofType { ofType { name } } } } } } } } } } } a { __typename } }";
        assert_eq!(depth(query).unwrap(), 1);
    }

    #[test]
    fn deep_fragment_chains_are_refused_and_cycles_do_not_loop() {
        let mut query = String::from("{ ...F0 }");
        for i in 0..40 {
            query.push_str(&format!(" fragment F{i} on Q {{ a ...F{} }}", i + 1));
        }
        query.push_str(" fragment F40 on Q { a }");
        assert!(matches!(
            depth(&query),
            Err(LimitError::FragmentsTooNested { .. })
        ));
        let cycle = "{ ...A } fragment A on Q { x { ...B } } fragment B on Q { y { ...A } }";
        assert_eq!(depth(cycle).unwrap(), 2);
    }

    #[test]
    fn list_cost_scales_with_first_and_saturates() {
        assert_eq!(list_cost(Some(10), 3), 31);
        assert_eq!(list_cost(None, 2), 101);
        assert_eq!(list_cost(Some(-5), 2), 3);
        assert_eq!(list_cost(Some(100_000), 1), 201);
        assert_eq!(list_cost(Some(200), usize::MAX), 1 << 40);
    }
}
