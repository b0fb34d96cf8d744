//! The GraphQL API at `/graphql`: customers, PQRs, KPIs and invoices in one typed graph, for
//! clients that want to fetch related data in one round trip (a customer with its open PQRs).
//!
//! It is a second face of the same service, not a second service: the HTTP handler authenticates
//! the API key as REST does, resolvers call the same store and report functions with the same
//! role checks and tenant scoping, and mutations validate with the same domain rules. Calls are
//! not here yet because the service does not have them yet.
//!
//! The schema's SDL is committed at `schema/abcall.graphql`; a test fails when the code's schema
//! differs from it, so a change to the API is always a visible change to that file
//! (`ABCALL_UPDATE_SDL=1 cargo test --lib graphql` rewrites it).

mod access;
mod error;
pub mod limits;
mod mutation;
mod query;
mod types;

use std::sync::{Arc, LazyLock};

use async_graphql::{EmptySubscription, Schema};

use crate::App;
use crate::domain::access::Principal;
use crate::http::extract::Caller;

pub type AbcallSchema = Schema<query::Query, mutation::Mutation, EmptySubscription>;

/// Built once: the schema holds no state, the app and caller travel with each request.
static SCHEMA: LazyLock<AbcallSchema> = LazyLock::new(|| {
    Schema::build(
        query::Query::default(),
        mutation::Mutation,
        EmptySubscription,
    )
    .extension(limits::Limits)
    .limit_depth(limits::MAX_TOTAL_DEPTH)
    .finish()
});

/// The schema in SDL, as committed at `schema/abcall.graphql`.
pub fn sdl() -> String {
    SCHEMA.sdl()
}

/// Runs one request for an authenticated caller.
pub async fn execute(
    app: Arc<App>,
    principal: Principal,
    request: async_graphql::Request,
) -> async_graphql::Response {
    SCHEMA
        .execute(request.data(app).data(Caller(principal)))
        .await
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    fn committed_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema/abcall.graphql")
    }

    /// The committed SDL is the API's contract: any change to the schema must show up in
    /// `schema/abcall.graphql` in the same commit, where a reviewer sees it.
    #[test]
    fn committed_sdl_matches_the_schema() {
        let path = committed_path();
        let current = super::sdl();
        if std::env::var_os("ABCALL_UPDATE_SDL").is_some_and(|v| v == "1") {
            std::fs::write(&path, &current).expect("write schema/abcall.graphql");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != current {
            let first_difference = committed
                .lines()
                .zip(current.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| committed.lines().count().min(current.lines().count()));
            let show = |text: &str| {
                text.lines()
                    .skip(first_difference.saturating_sub(2))
                    .take(5)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            panic!(
                "the GraphQL schema differs from the committed {} (first at line {}).\n\
                 committed:\n{}\n\ncurrent:\n{}\n\n\
                 If the change is intended, rewrite the file with \
                 `ABCALL_UPDATE_SDL=1 cargo test --lib graphql::tests` and commit it.",
                path.display(),
                first_difference + 1,
                show(&committed),
                show(&current),
            );
        }
    }

    async fn refusal(query: &str) -> (String, String) {
        let response = super::SCHEMA.execute(query).await;
        assert_eq!(response.errors.len(), 1, "{:?}", response.errors);
        let error = &response.errors[0];
        let code = error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .map(|c| c.to_string())
            .unwrap_or_default();
        (code, error.message.clone())
    }

    /// Both limits refuse before any resolver runs: no app or caller is needed to be refused.
    #[tokio::test]
    async fn limits_refuse_before_anything_runs() {
        let deep = "{ customers { items { incidents { items { customer { incidents { items { \
            customer { incidents { items { id } } } } } } } } } } }";
        let (code, message) = refusal(deep).await;
        assert_eq!(code, "\"QUERY_TOO_DEEP\"");
        assert!(
            message.contains("11 levels") && message.contains("at most 10"),
            "{message}"
        );

        let wide = "{ customers(first: 200) { items { incidents(first: 200) { items { id } } } } }";
        let (code, message) = refusal(wide).await;
        assert_eq!(code, "\"QUERY_TOO_COMPLEX\"");
        assert!(message.contains("at most 10000"), "{message}");
    }
}
