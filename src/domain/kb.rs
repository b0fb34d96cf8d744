//! Knowledge-base articles: what a tenant writes for its agents and bots, validated once, and
//! cut into chunks small enough to embed well (the whole text is kept; nothing is dropped).

use serde::{Deserialize, Serialize};

use super::validation::{
    Errors, FieldError, default_language, language_tag, optional_text, required_text,
};

/// An article as the tenant sends it (create, replace, or one line of an import).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleInput {
    /// The tenant's own id for the article; re-importing with the same id replaces it.
    pub external_id: Option<String>,
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// BCP 47 language of the text, e.g. "es" (default) or "en".
    #[serde(default = "default_language")]
    pub language: String,
    /// Product or service it is about, e.g. "internet_hogar".
    pub product: Option<String>,
    /// Topic, e.g. "facturacion".
    pub category: Option<String>,
}

/// A validated article; only [`ArticleInput::parse`] builds one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArticleData {
    pub external_id: Option<String>,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub language: String,
    pub product: Option<String>,
    pub category: Option<String>,
}

pub const MAX_BODY_CHARS: usize = 50_000;

impl ArticleInput {
    pub fn parse(self) -> Result<ArticleData, Vec<FieldError>> {
        let mut errors = Errors::new();
        let external_id =
            optional_text(&mut errors, "external_id", self.external_id.as_deref(), 100);
        let title = required_text(&mut errors, "title", &self.title, 200);
        let body = required_text(&mut errors, "body", &self.body, MAX_BODY_CHARS);
        if self.tags.len() > 20 {
            errors.add("tags", "must have at most 20 tags");
        }
        let mut tags = Vec::new();
        for (i, tag) in self.tags.iter().enumerate() {
            if let Some(tag) = required_text(&mut errors, &format!("tags[{i}]"), tag, 40) {
                tags.push(tag.to_lowercase());
            }
        }
        let language = language_tag(&mut errors, "language", &self.language);
        let product = optional_text(&mut errors, "product", self.product.as_deref(), 60);
        let category = optional_text(&mut errors, "category", self.category.as_deref(), 60);
        match (title, body) {
            (Some(title), Some(body)) if errors.is_empty() => Ok(ArticleData {
                external_id,
                title,
                body,
                tags,
                language,
                product,
                category,
            }),
            _ => Err(errors.into_vec()),
        }
    }
}

/// Longest chunk body in characters (~250 tokens, well inside e5's 512-token window with the title).
pub const MAX_CHUNK_CHARS: usize = 1_200;

/// Cuts a body into chunks of at most `max_chars` characters: whole paragraphs packed together
/// where they fit, long paragraphs split at sentence ends, and words split only as a last resort.
/// Joining the chunks with single spaces gives back every word of the body, in order.
pub fn chunk_body(body: &str, max_chars: usize) -> Vec<String> {
    let mut pieces: Vec<String> = Vec::new();
    for paragraph in body.split('\n').map(str::trim).filter(|p| !p.is_empty()) {
        if paragraph.chars().count() <= max_chars {
            pieces.push(paragraph.to_owned());
        } else {
            pieces.extend(split_long(paragraph, max_chars));
        }
    }
    let mut chunks: Vec<String> = Vec::new();
    for piece in pieces {
        match chunks.last_mut() {
            Some(last) if last.chars().count() + 1 + piece.chars().count() <= max_chars => {
                last.push('\n');
                last.push_str(&piece);
            }
            _ => chunks.push(piece),
        }
    }
    chunks
}

/// Splits one long paragraph at sentence ends, then at spaces, then anywhere.
fn split_long(paragraph: &str, max_chars: usize) -> Vec<String> {
    let mut sentences: Vec<&str> = Vec::new();
    let mut start = 0;
    for (i, c) in paragraph.char_indices() {
        if matches!(c, '.' | '?' | '!' | ';') {
            let end = i + c.len_utf8();
            if paragraph[end..].starts_with(' ') {
                sentences.push(paragraph[start..end].trim());
                start = end;
            }
        }
    }
    sentences.push(paragraph[start..].trim());
    let mut out: Vec<String> = Vec::new();
    for sentence in sentences.into_iter().filter(|s| !s.is_empty()) {
        for part in split_words(sentence, max_chars) {
            match out.last_mut() {
                Some(last) if last.chars().count() + 1 + part.chars().count() <= max_chars => {
                    last.push(' ');
                    last.push_str(&part);
                }
                _ => out.push(part),
            }
        }
    }
    out
}

fn split_words(text: &str, max_chars: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let mut word = word.to_owned();
        // A "word" longer than a chunk (a URL, say) is cut by characters.
        while word.chars().count() > max_chars {
            let cut: String = word.chars().take(max_chars).collect();
            word = word.chars().skip(max_chars).collect();
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            out.push(cut);
        }
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > max_chars {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&word);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Spanish and English words too common to say what a text is about.
const STOPWORDS: &[&str] = &[
    "que", "los", "las", "del", "por", "con", "una", "uno", "para", "como", "mas", "pero", "sus",
    "les", "este", "esta", "esto", "ese", "esa", "son", "fue", "hay", "muy", "mis", "tengo",
    "tiene", "desde", "cuando", "donde", "porque", "quiero", "puedo", "hace", "sin", "the", "and",
    "for", "you", "your", "are", "how", "what", "can", "with", "this", "that", "have", "not",
];

/// Lower-case, accent-free words of three or more letters that carry meaning.
pub fn terms(text: &str) -> Vec<String> {
    let folded: String = text
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'ä' => 'a',
            'é' | 'è' | 'ë' => 'e',
            'í' | 'ì' | 'ï' => 'i',
            'ó' | 'ò' | 'ö' => 'o',
            'ú' | 'ù' | 'ü' => 'u',
            'ñ' => 'n',
            c if c.is_alphanumeric() => c,
            _ => ' ',
        })
        .collect();
    let mut out: Vec<String> = Vec::new();
    for word in folded.split_whitespace() {
        if word.chars().count() >= 3 && !STOPWORDS.contains(&word) && !out.iter().any(|w| w == word)
        {
            out.push(word.to_owned());
        }
    }
    out
}

/// Share of the query's terms that appear in the passage (0 to 1). Words sharing their first five
/// letters count as the same (portabilidad / portar do not, reclamo / reclamos do).
pub fn keyword_overlap(query_terms: &[String], passage: &str) -> f32 {
    if query_terms.is_empty() {
        return 0.0;
    }
    let passage_terms = terms(passage);
    let stem = |w: &str| w.chars().take(5).collect::<String>();
    let found = query_terms
        .iter()
        .filter(|q| {
            passage_terms
                .iter()
                .any(|p| p == *q || (q.chars().count() >= 5 && stem(p) == stem(q)))
        })
        .count();
    found as f32 / query_terms.len() as f32
}

#[cfg(test)]
mod tests {
    #[test]
    fn terms_fold_accents_and_drop_common_words() {
        assert_eq!(
            super::terms("¿Por qué no tengo Internet desde ayer? Señal débil."),
            ["internet", "ayer", "senal", "debil"]
        );
    }

    #[test]
    fn overlap_counts_shared_terms_and_close_forms() {
        let query = super::terms("reclamo por internet caído");
        assert_eq!(
            super::keyword_overlap(&query, "Presente sus reclamos de Internet"),
            2.0 / 3.0
        );
        assert_eq!(super::keyword_overlap(&query, "Horario de tiendas"), 0.0);
        assert_eq!(super::keyword_overlap(&[], "lo que sea"), 0.0);
    }

    use super::*;

    fn words(text: &str) -> Vec<&str> {
        text.split_whitespace().collect()
    }

    #[test]
    fn short_articles_are_one_chunk() {
        let chunks = chunk_body("Reinicie el módem.\nEspere dos minutos.", MAX_CHUNK_CHARS);
        assert_eq!(chunks, ["Reinicie el módem.\nEspere dos minutos."]);
    }

    #[test]
    fn long_bodies_keep_every_word_within_the_limit() {
        let paragraph = "El técnico revisará la instalación y medirá la señal. ".repeat(60);
        let body = format!(
            "Primer párrafo corto.\n\n{paragraph}\nÚltimo párrafo.\n{}",
            "x".repeat(50)
        );
        for max in [40, 200, MAX_CHUNK_CHARS] {
            let chunks = chunk_body(&body, max);
            assert!(chunks.len() > 1);
            for chunk in &chunks {
                assert!(chunk.chars().count() <= max, "{max}: {chunk}");
            }
            // Nothing is dropped: the same characters, in order, apart from whitespace.
            let squeeze = |t: &str| t.split_whitespace().collect::<String>();
            assert_eq!(squeeze(&chunks.concat()), squeeze(&body), "{max}");
            if max >= 50 {
                // And no word is split when every word fits in a chunk.
                assert_eq!(words(&chunks.join(" ")), words(&body), "{max}");
            }
        }
    }

    #[test]
    fn a_word_longer_than_a_chunk_is_cut_not_lost() {
        let url = format!("https://andina.pe/{}", "a".repeat(100));
        let chunks = chunk_body(&url, 30);
        assert!(chunks.iter().all(|c| c.chars().count() <= 30));
        assert_eq!(chunks.concat(), url);
    }

    #[test]
    fn bad_articles_name_each_field() {
        let input: ArticleInput = serde_json::from_value(serde_json::json!({
            "title": " ", "body": "", "tags": ["ok", ""], "language": "es PE"
        }))
        .unwrap();
        let fields: Vec<_> = input
            .parse()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["title", "body", "tags[1]", "language"]);
    }
}
