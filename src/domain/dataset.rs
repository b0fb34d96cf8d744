//! Tenant training data: a table read from CSV or JSON Lines, its inferred schema, and the rules a
//! dataset must meet before it is stored. Pure functions: the store writes what passes here.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

pub use super::upload::FileFormat;
use super::validation::FieldError;

/// What the data is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DatasetKind {
    /// A text column and one or more label columns (risk, category, sentiment, …).
    TextLabels,
    /// One row per customer, any columns, one target column (e.g. churn).
    Tabular,
}

impl DatasetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetKind::TextLabels => "text_labels",
            DatasetKind::Tabular => "tabular",
        }
    }

    pub fn parse(value: &str) -> Option<DatasetKind> {
        [DatasetKind::TextLabels, DatasetKind::Tabular]
            .into_iter()
            .find(|k| k.as_str() == value)
    }
}

/// A table: column names and rows of cells, `None` where the value is missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    /// The 1-based file line of each row, for error messages.
    pub lines: Vec<u64>,
}

/// How a column's values were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    Numeric,
    Boolean,
    Categorical,
    Text,
    /// Every value distinct and not a number (a customer id): never used as a feature.
    Identifier,
}

/// One column as inferred from the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ColumnSchema {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// Rows where the value is blank (or NA, null, …).
    pub missing: usize,
    /// Distinct non-missing values (counted up to 10,000).
    pub distinct: usize,
    /// For categorical and boolean columns: the values and how often each occurs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categories: Option<BTreeMap<String, usize>>,
    /// For numeric columns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    /// A few values as they appear.
    pub examples: Vec<String>,
}

/// What an upload declares about its columns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Roles {
    /// Tabular: the column to predict.
    pub target: Option<String>,
    /// Text labels: the column with the text.
    pub text_column: Option<String>,
    /// Text labels: the columns with labels (at least one).
    pub label_columns: Vec<String>,
}

/// The inferred schema shown back to the uploader and kept with the dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DatasetSchema {
    pub rows: usize,
    pub columns: Vec<ColumnSchema>,
    pub target: Option<String>,
    pub text_column: Option<String>,
    pub label_columns: Vec<String>,
}

impl DatasetSchema {
    pub fn column(&self, name: &str) -> Option<&ColumnSchema> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Cells read as missing.
pub fn is_missing(value: &str) -> bool {
    let value = value.trim();
    value.is_empty()
        || ["na", "n/a", "nan", "null", "none"]
            .iter()
            .any(|m| value.eq_ignore_ascii_case(m))
}

/// The value of a boolean cell, if it is one.
pub fn boolean_value(value: &str) -> Option<bool> {
    match value.trim().to_lowercase().as_str() {
        "yes" | "true" | "si" | "sí" | "y" | "1" => Some(true),
        "no" | "false" | "n" | "0" => Some(false),
        _ => None,
    }
}

pub fn numeric_value(value: &str) -> Option<f64> {
    value.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Most distinct values a column may have and still be categorical (rather than text).
pub const MAX_CATEGORIES: usize = 100;
const DISTINCT_CAP: usize = 10_000;

/// Reads CSV (header row first) into a table; a row with the wrong number of fields is an error
/// naming its line.
pub fn read_csv(text: &str) -> Result<Table, Vec<FieldError>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| vec![FieldError::new("", format!("unreadable CSV header: {e}"))])?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    check_columns(&columns)?;
    let mut table = Table {
        columns,
        ..Table::default()
    };
    let mut errors = Vec::new();
    for record in reader.records() {
        match record {
            Ok(record) => {
                table.lines.push(record.position().map_or(0, |p| p.line()));
                table.rows.push(
                    record
                        .iter()
                        .map(|v| (!is_missing(v)).then(|| v.trim().to_owned()))
                        .collect(),
                );
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                let message = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("has {len} fields, the header has {expected_len}"),
                    _ => e.to_string(),
                };
                errors.push(FieldError::new("", message).at_line(line));
            }
        }
    }
    if errors.is_empty() {
        Ok(table)
    } else {
        Err(errors)
    }
}

/// Reads JSON Lines of flat objects (strings, numbers, booleans, null) into a table; the columns
/// are every key seen, in order of first appearance.
pub fn read_jsonl(text: &str) -> Result<Table, Vec<FieldError>> {
    let mut columns: Vec<String> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    // (line, [(column position, cell)]) per object, placed into rows once every key is known.
    type Cells = Vec<(usize, Option<String>)>;
    let mut objects: Vec<(u64, Cells)> = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let number = i as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        let object = match serde_json::from_str::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(object)) => object,
            Ok(_) => {
                errors.push(FieldError::new("", "must be a JSON object").at_line(number));
                continue;
            }
            Err(e) => {
                errors.push(FieldError::new("", format!("not JSON: {e}")).at_line(number));
                continue;
            }
        };
        let mut cells = Vec::with_capacity(object.len());
        for (key, value) in object {
            let cell = match value {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => (!is_missing(&s)).then(|| s.trim().to_owned()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                serde_json::Value::Bool(b) => Some(b.to_string()),
                _ => {
                    errors.push(
                        FieldError::new(key, "must be a string, number, boolean or null")
                            .at_line(number),
                    );
                    continue;
                }
            };
            let position = *index.entry(key.clone()).or_insert_with(|| {
                columns.push(key);
                columns.len() - 1
            });
            cells.push((position, cell));
        }
        objects.push((number, cells));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    check_columns(&columns)?;
    let mut table = Table {
        columns,
        ..Table::default()
    };
    for (line, cells) in objects {
        let mut row = vec![None; table.columns.len()];
        for (position, cell) in cells {
            row[position] = cell;
        }
        table.rows.push(row);
        table.lines.push(line);
    }
    Ok(table)
}

fn check_columns(columns: &[String]) -> Result<(), Vec<FieldError>> {
    let mut seen = HashSet::new();
    let mut errors = Vec::new();
    for (i, name) in columns.iter().enumerate() {
        if name.is_empty() {
            errors.push(FieldError::new(format!("columns[{i}]"), "has no name").at_line(1));
        } else if !seen.insert(name) {
            errors.push(FieldError::new(name.clone(), "appears twice in the header").at_line(1));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Infers each column's type and checks the declared roles against the data: required columns
/// exist, and no row lacks its target, text or label. Errors name the line and column.
pub fn infer(
    table: &Table,
    kind: DatasetKind,
    roles: &Roles,
) -> Result<DatasetSchema, Vec<FieldError>> {
    let mut errors = Vec::new();
    let position = |name: &str| table.columns.iter().position(|c| c == name);
    let mut required: Vec<(&str, &str)> = Vec::new();
    match kind {
        DatasetKind::Tabular => match &roles.target {
            Some(target) => required.push(("target", target)),
            None => errors.push(FieldError::new(
                "target",
                "a tabular dataset needs a target column",
            )),
        },
        DatasetKind::TextLabels => {
            match &roles.text_column {
                Some(text) => required.push(("text_column", text)),
                None => errors.push(FieldError::new(
                    "text_column",
                    "a text_labels dataset needs a text column",
                )),
            }
            if roles.label_columns.is_empty() {
                errors.push(FieldError::new(
                    "label_columns",
                    "a text_labels dataset needs at least one label column",
                ));
            }
            required.extend(
                roles
                    .label_columns
                    .iter()
                    .map(|l| ("label_columns", l.as_str())),
            );
        }
    }
    let mut checked: Vec<(&str, usize)> = Vec::new();
    for (field, name) in required {
        match position(name) {
            Some(index) => checked.push((name, index)),
            None => errors.push(FieldError::new(
                field,
                format!(
                    "the data has no column {name:?} (it has: {})",
                    table.columns.join(", ")
                ),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if table.rows.is_empty() {
        return Err(vec![FieldError::new("", "the file holds no rows")]);
    }
    for (row, line) in table.rows.iter().zip(&table.lines) {
        for (name, index) in &checked {
            if row[*index].is_none() {
                errors.push(FieldError::new(*name, "is missing").at_line(*line));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut columns: Vec<ColumnSchema> = (0..table.columns.len())
        .map(|i| infer_column(table, i))
        .collect();
    // The roles decide how their columns are read, whatever the values look like.
    for column in &mut columns {
        if roles.text_column.as_deref() == Some(column.name.as_str()) {
            column.kind = ColumnType::Text;
            column.categories = None;
        }
    }
    let targets: Vec<&String> = roles.target.iter().chain(&roles.label_columns).collect();
    for target in targets {
        let column = columns
            .iter_mut()
            .find(|c| &c.name == target)
            .expect("checked above");
        if column.distinct < 2 {
            errors.push(FieldError::new(
                target.clone(),
                "has a single value: there is nothing to learn",
            ));
        }
        if column.kind != ColumnType::Categorical && column.kind != ColumnType::Boolean {
            if column.distinct > MAX_CATEGORIES {
                errors.push(FieldError::new(
                    target.clone(),
                    format!(
                        "has {} distinct values; a target needs at most {MAX_CATEGORIES} classes",
                        column.distinct
                    ),
                ));
            } else {
                column.kind = ColumnType::Categorical;
                column.categories = Some(counts(table, position(target).expect("exists")));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(DatasetSchema {
        rows: table.rows.len(),
        columns,
        target: roles.target.clone(),
        text_column: roles.text_column.clone(),
        label_columns: roles.label_columns.clone(),
    })
}

fn counts(table: &Table, index: usize) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for value in table.rows.iter().filter_map(|r| r[index].as_ref()) {
        *counts.entry(value.clone()).or_insert(0) += 1;
    }
    counts
}

fn infer_column(table: &Table, index: usize) -> ColumnSchema {
    let values: Vec<&str> = table
        .rows
        .iter()
        .filter_map(|r| r[index].as_deref())
        .collect();
    let missing = table.rows.len() - values.len();
    let mut distinct_values: HashSet<&str> = HashSet::new();
    for value in &values {
        if distinct_values.len() >= DISTINCT_CAP {
            break;
        }
        distinct_values.insert(value);
    }
    let distinct = distinct_values.len();
    let examples: Vec<String> = values.iter().take(3).map(|v| (*v).to_owned()).collect();
    let numbers: Option<Vec<f64>> = values.iter().map(|v| numeric_value(v)).collect();
    let all_boolean = !values.is_empty() && values.iter().all(|v| boolean_value(v).is_some());
    let mut schema = ColumnSchema {
        name: table.columns[index].clone(),
        kind: ColumnType::Text,
        missing,
        distinct,
        categories: None,
        min: None,
        max: None,
        mean: None,
        examples,
    };
    if all_boolean && distinct <= 2 {
        schema.kind = ColumnType::Boolean;
        schema.categories = Some(counts(table, index));
    } else if let Some(numbers) = numbers.filter(|n| !n.is_empty()) {
        schema.kind = ColumnType::Numeric;
        schema.min = numbers.iter().copied().reduce(f64::min);
        schema.max = numbers.iter().copied().reduce(f64::max);
        schema.mean = Some(numbers.iter().sum::<f64>() / numbers.len() as f64);
    } else if distinct == values.len() && values.len() > MAX_CATEGORIES {
        schema.kind = ColumnType::Identifier;
    } else if distinct <= MAX_CATEGORIES {
        schema.kind = ColumnType::Categorical;
        schema.categories = Some(counts(table, index));
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    const TELCO: &str = "customerID,tenure,Contract,SeniorCitizen,TotalCharges,Churn\n\
        7590-VHVEG,1,Month-to-month,0,29.85,No\n\
        5575-GNVDE,34,One year,0,1889.5,No\n\
        3668-QPYBK,2,Month-to-month,1, ,Yes\n";

    fn tabular(target: &str) -> Roles {
        Roles {
            target: Some(target.into()),
            ..Roles::default()
        }
    }

    #[test]
    fn types_are_inferred_with_blank_numbers_as_missing() {
        let table = read_csv(TELCO).unwrap();
        let schema = infer(&table, DatasetKind::Tabular, &tabular("Churn")).unwrap();
        let kind = |name: &str| schema.column(name).unwrap().kind;
        assert_eq!(kind("tenure"), ColumnType::Numeric);
        assert_eq!(kind("Contract"), ColumnType::Categorical);
        assert_eq!(kind("SeniorCitizen"), ColumnType::Boolean);
        assert_eq!(kind("Churn"), ColumnType::Boolean);
        let total = schema.column("TotalCharges").unwrap();
        assert_eq!((total.kind, total.missing), (ColumnType::Numeric, 1));
        assert_eq!(total.max, Some(1889.5));
        assert_eq!(schema.rows, 3);
    }

    #[test]
    fn many_distinct_strings_are_an_identifier() {
        let mut text = String::from("id,plan,churn\n");
        for i in 0..150 {
            text.push_str(&format!("C-{i},p{},{}\n", i % 3, i % 2));
        }
        let table = read_csv(&text).unwrap();
        let schema = infer(&table, DatasetKind::Tabular, &tabular("churn")).unwrap();
        assert_eq!(schema.column("id").unwrap().kind, ColumnType::Identifier);
        assert_eq!(schema.column("plan").unwrap().kind, ColumnType::Categorical);
    }

    #[test]
    fn broken_rows_are_reported_by_line() {
        let errors = read_csv("a,b,target\n1,2,x\n1,2\n3,4,y,5\n").unwrap_err();
        let lines: Vec<Option<u64>> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![Some(3), Some(4)]);
        assert!(errors[0].message.contains("has 2 fields, the header has 3"));

        let table = read_csv("a,target\n1,x\n2,\n3,y\n").unwrap();
        let errors = infer(&table, DatasetKind::Tabular, &tabular("target")).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(
            (errors[0].field.as_str(), errors[0].line),
            ("target", Some(3))
        );
    }

    #[test]
    fn declared_columns_must_exist_and_targets_must_vary() {
        let table = read_csv("text,label\nhola,a\nchau,a\n").unwrap();
        let roles = Roles {
            text_column: Some("texto".into()),
            label_columns: vec!["label".into()],
            ..Roles::default()
        };
        let errors = infer(&table, DatasetKind::TextLabels, &roles).unwrap_err();
        assert_eq!(errors[0].field, "text_column");
        let roles = Roles {
            text_column: Some("text".into()),
            label_columns: vec!["label".into()],
            ..Roles::default()
        };
        let errors = infer(&table, DatasetKind::TextLabels, &roles).unwrap_err();
        assert_eq!(errors[0].field, "label");
        assert!(errors[0].message.contains("single value"));
    }

    #[test]
    fn jsonl_rows_become_a_table_with_every_key() {
        let text = "{\"text\":\"me cobraron de más\",\"risk\":\"alto\"}\n\n\
                    {\"text\":\"gracias\",\"risk\":\"bajo\",\"extra\":1}\n";
        let table = read_jsonl(text).unwrap();
        assert_eq!(table.columns, ["text", "risk", "extra"]);
        assert_eq!(table.rows[0][2], None);
        assert_eq!(table.lines, [1, 3]);
        let errors = read_jsonl("{\"a\":1}\n[1]\n{\"a\":{\"b\":1}}\n").unwrap_err();
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[1].field, "a");
        assert_eq!(errors[1].line, Some(3));
    }
}
