//! Full-text search rules shared by both stores: how text is folded (lower case, accents off, so
//! "facturacion" finds "facturación"), how a client's query becomes terms, and the snippet that
//! shows where a hit matched.

use unicode_normalization::char::decompose_canonical;

use super::validation::FieldError;

/// Most terms a query may have.
pub const MAX_TERMS: usize = 12;
/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 300;

/// One character folded: its base letter (accents dropped), in lower case. Keeps one character
/// for one, so positions in folded text are positions in the original.
pub fn fold_char(c: char) -> char {
    let mut base = c;
    decompose_canonical(c, |part| {
        if base == c && !is_combining(part) {
            base = part;
        }
    });
    base.to_lowercase().next().unwrap_or(base)
}

fn is_combining(c: char) -> bool {
    ('\u{0300}'..='\u{036f}').contains(&c)
}

/// `text` folded character by character.
pub fn fold(text: &str) -> String {
    text.chars().map(fold_char).collect()
}

/// A word to find: whole, or as the start of a word (`factur*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// Folded letters and digits only.
    pub word: String,
    pub prefix: bool,
}

/// A client's query as terms that must all occur. Words are runs of letters and digits; a `*`
/// right after a word makes it a prefix. Anything else (quotes, operators) is a separator, so
/// no query can reach the index's own syntax.
pub fn parse_query(query: &str) -> Result<Vec<Term>, FieldError> {
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(FieldError::new(
            "q",
            format!("must be at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    let mut terms: Vec<Term> = Vec::new();
    let mut word = String::new();
    let mut chars = query.chars().peekable();
    while let Some(c) = chars.next() {
        if !c.is_alphanumeric() {
            continue;
        }
        word.push(fold_char(c));
        if chars.peek().is_none_or(|next| !next.is_alphanumeric()) {
            let term = Term {
                word: std::mem::take(&mut word),
                prefix: chars.peek() == Some(&'*'),
            };
            if !terms.contains(&term) {
                terms.push(term);
            }
        }
    }
    if terms.is_empty() {
        return Err(FieldError::new("q", "must contain at least one word"));
    }
    if terms.len() > MAX_TERMS {
        return Err(FieldError::new(
            "q",
            format!("may have at most {MAX_TERMS} words"),
        ));
    }
    Ok(terms)
}

/// Whether `folded[at..]` starts a word matching `term`.
fn matches_at(folded: &[char], at: usize, term: &Term) -> bool {
    let word: Vec<char> = term.word.chars().collect();
    if at > 0 && folded[at - 1].is_alphanumeric() {
        return false;
    }
    if folded.len() < at + word.len() || folded[at..at + word.len()] != word[..] {
        return false;
    }
    term.prefix
        || folded
            .get(at + word.len())
            .is_none_or(|next| !next.is_alphanumeric())
}

/// About `width` characters of `text` around the first place a term matches (the start of the
/// text when none does), with `…` where it was cut.
pub fn snippet(text: &str, terms: &[Term], width: usize) -> String {
    let original: Vec<char> = text.chars().collect();
    let folded: Vec<char> = original.iter().map(|c| fold_char(*c)).collect();
    let hit = (0..folded.len()).find(|at| terms.iter().any(|t| matches_at(&folded, *at, t)));
    let start = match hit {
        Some(at) => at.saturating_sub(width / 3),
        None => 0,
    };
    // Start and end on word boundaries where possible.
    let mut start = start;
    while start > 0 && start < original.len() && original[start - 1].is_alphanumeric() {
        start -= 1;
    }
    let mut end = (start + width).min(original.len());
    while end < original.len() && end > start && original[end].is_alphanumeric() {
        end -= 1;
    }
    if end == start {
        end = (start + width).min(original.len());
    }
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.extend(original[start..end].iter());
    let trimmed = out.trim_end().to_owned();
    if end < original.len() {
        format!("{trimmed}…")
    } else {
        trimmed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(query: &str) -> Vec<(String, bool)> {
        parse_query(query)
            .unwrap()
            .into_iter()
            .map(|t| (t.word, t.prefix))
            .collect()
    }

    #[test]
    fn folding_drops_accents_and_case_and_keeps_positions() {
        assert_eq!(fold("Facturación AÑO Über"), "facturacion ano uber");
        let text = "Señal débil en Cañete";
        assert_eq!(fold(text).chars().count(), text.chars().count());
    }

    #[test]
    fn queries_become_terms_and_cannot_carry_syntax() {
        assert_eq!(
            words("Cobro DUPLICADO factur* \"OR\" cobro"),
            [
                ("cobro".into(), false),
                ("duplicado".into(), false),
                ("factur".into(), true),
                ("or".into(), false)
            ]
        );
        assert_eq!(
            words("tenant_token:t1 NEAR(x)"),
            words("tenant token t1 near x")
        );
        assert_eq!(parse_query(" *** ").unwrap_err().field, "q");
        assert_eq!(parse_query(&"palabra ".repeat(13)).unwrap().len(), 1);
        let many: String = (0..13).map(|i| format!("w{i} ")).collect();
        assert_eq!(parse_query(&many).unwrap_err().field, "q");
        assert!(parse_query(&"x".repeat(301)).is_err());
    }

    #[test]
    fn snippets_show_the_first_match_in_the_original_text() {
        let text = "Buenos días. Llamo porque en la última factura aparece un cobro duplicado \
                    del servicio de televisión, y ya pagué el mes completo.";
        let terms = parse_query("COBRO").unwrap();
        let cut = snippet(text, &terms, 40);
        assert!(cut.contains("cobro duplicado"), "{cut}");
        assert!(cut.starts_with('…') && cut.ends_with('…'), "{cut}");
        let accented = snippet(text, &parse_query("ultima").unwrap(), 200);
        assert_eq!(accented, text);
        let prefix = snippet(text, &parse_query("televis*").unwrap(), 30);
        assert!(prefix.contains("televisión"), "{prefix}");
        // Part of a longer word is not a match without `*`.
        let none = snippet(text, &parse_query("cobr").unwrap(), 20);
        assert!(none.starts_with("Buenos"), "{none}");
    }
}
