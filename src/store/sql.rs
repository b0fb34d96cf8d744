//! A small builder for dynamic SQL (filters, bulk inserts) with numbered `$n` placeholders, which
//! both SQLite and PostgreSQL accept — sqlx's `QueryBuilder` does not number them for `Any`.

use sqlx::any::{Any, AnyArguments, AnyRow};
use sqlx::{Arguments, Encode, Type};

use crate::error::{Error, Result};

#[derive(Default)]
pub struct Sql {
    text: String,
    args: AnyArguments,
    count: usize,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            ..Self::default()
        }
    }

    /// Appends raw SQL (never user input).
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub fn bind<'q, T>(&mut self, value: T) -> &mut Self
    where
        T: Encode<'q, Any> + Type<Any> + 'q,
    {
        self.count += 1;
        self.text.push('$');
        self.text.push_str(&self.count.to_string());
        // Encoding into `Any` values only fails for types we never bind.
        self.args
            .add(value)
            .expect("binding a plain value into AnyArguments");
        self
    }

    /// Appends `(<p1>, <p2>, …)` bound to `values`, for `IN` lists.
    pub fn bind_list<'q, T>(&mut self, values: impl IntoIterator<Item = T>) -> &mut Self
    where
        T: Encode<'q, Any> + Type<Any> + 'q,
    {
        self.text.push('(');
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(value);
        }
        self.text.push(')');
        self
    }

    pub async fn fetch_all<'e, E>(self, executor: E) -> Result<Vec<AnyRow>>
    where
        E: sqlx::Executor<'e, Database = Any>,
    {
        sqlx::query_with(sqlx::AssertSqlSafe(self.text), self.args)
            .fetch_all(executor)
            .await
            .map_err(Error::from)
    }

    pub async fn execute<'e, E>(self, executor: E) -> Result<u64>
    where
        E: sqlx::Executor<'e, Database = Any>,
    {
        Ok(sqlx::query_with(sqlx::AssertSqlSafe(self.text), self.args)
            .execute(executor)
            .await?
            .rows_affected())
    }
}
