//! Word error rate: word-level edit distance between a reference and a hypothesis, over the
//! reference length, after the same normalisation on both sides (lower case; accents and ñ
//! folded to plain letters; punctuation removed; numbers kept as written). Normalising both
//! sides alike means a transcript is not punished for writing "Perú," where the reference has
//! "peru" — while "tres" versus "3" still counts as an error, as it would for a reader.

/// Edit counts of one comparison; add them up over a corpus for a corpus-level rate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WordErrors {
    pub substitutions: usize,
    pub deletions: usize,
    pub insertions: usize,
    /// Words in the normalised reference.
    pub reference_words: usize,
}

impl WordErrors {
    pub fn errors(&self) -> usize {
        self.substitutions + self.deletions + self.insertions
    }

    /// Errors per reference word; an empty reference scores 0 against an empty hypothesis and
    /// 1 otherwise.
    pub fn rate(&self) -> f64 {
        match (self.reference_words, self.errors()) {
            (0, 0) => 0.0,
            (0, _) => 1.0,
            (words, errors) => errors as f64 / words as f64,
        }
    }
}

impl std::ops::Add for WordErrors {
    type Output = WordErrors;
    fn add(self, other: WordErrors) -> WordErrors {
        WordErrors {
            substitutions: self.substitutions + other.substitutions,
            deletions: self.deletions + other.deletions,
            insertions: self.insertions + other.insertions,
            reference_words: self.reference_words + other.reference_words,
        }
    }
}

fn fold(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ñ' => 'n',
        'ç' => 'c',
        'ý' | 'ÿ' => 'y',
        other => other,
    }
}

/// The words of a text after normalisation.
pub fn normalise(text: &str) -> Vec<String> {
    let chars: Vec<char> = text
        .chars()
        .flat_map(char::to_lowercase)
        .map(fold)
        .collect();
    let mut cleaned = String::with_capacity(chars.len());
    for (i, &c) in chars.iter().enumerate() {
        if c.is_alphanumeric() {
            cleaned.push(c);
        } else if matches!(c, '.' | ',')
            && i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(char::is_ascii_digit)
        {
            // A separator inside a number ("1.500", "3,5") is kept, so the number stays one word.
            cleaned.push(c);
        } else {
            cleaned.push(' ');
        }
    }
    cleaned.split_whitespace().map(str::to_owned).collect()
}

/// Minimum substitutions, deletions and insertions turning the reference into the hypothesis.
pub fn word_errors(reference: &str, hypothesis: &str) -> WordErrors {
    let (r, h) = (normalise(reference), normalise(hypothesis));
    // Row-by-row dynamic programme; each cell keeps (cost, subs, dels, ins) of its best path.
    type Cell = (usize, usize, usize, usize);
    let mut previous: Vec<Cell> = (0..=h.len()).map(|j| (j, 0, 0, j)).collect();
    for i in 1..=r.len() {
        let mut current: Vec<Cell> = vec![(i, 0, i, 0)];
        for j in 1..=h.len() {
            let (c, s, d, n) = previous[j - 1];
            let diagonal = if r[i - 1] == h[j - 1] {
                (c, s, d, n)
            } else {
                (c + 1, s + 1, d, n)
            };
            let (c, s, d, n) = previous[j];
            let deletion = (c + 1, s, d + 1, n);
            let (c, s, d, n) = current[j - 1];
            let insertion = (c + 1, s, d, n + 1);
            let best = [diagonal, deletion, insertion]
                .into_iter()
                .min_by_key(|cell| cell.0)
                .unwrap_or(diagonal);
            current.push(best);
        }
        previous = current;
    }
    let (_, substitutions, deletions, insertions) = previous[h.len()];
    WordErrors {
        substitutions,
        deletions,
        insertions,
        reference_words: r.len(),
    }
}

/// Word error rate of one hypothesis against its reference.
pub fn wer(reference: &str, hypothesis: &str) -> f64 {
    word_errors(reference, hypothesis).rate()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_folds_case_accents_and_punctuation_but_not_numbers() {
        assert_eq!(
            normalise("¡Hola, Señor Núñez! ¿Cómo está?"),
            ["hola", "senor", "nunez", "como", "esta"]
        );
        assert_eq!(
            normalise("Pagó 1.500 soles, o 3,5 por día."),
            ["pago", "1.500", "soles", "o", "3,5", "por", "dia"]
        );
        assert_eq!(normalise("fin. 20 de mayo"), ["fin", "20", "de", "mayo"]);
        assert_eq!(normalise("  \n\t "), Vec::<String>::new());
        assert_eq!(
            normalise("tres"),
            ["tres"],
            "numbers are not spelled out or in"
        );
    }

    #[test]
    fn identical_texts_after_normalisation_score_zero() {
        assert_eq!(wer("el módem no enciende", "El modem, no enciende."), 0.0);
    }

    #[test]
    fn counts_each_kind_of_edit() {
        let e = word_errors("a b c d", "a x c d e");
        assert_eq!((e.substitutions, e.deletions, e.insertions), (1, 0, 1));
        assert_eq!(e.rate(), 0.5);
        let e = word_errors("a b c d", "a d");
        assert_eq!((e.substitutions, e.deletions, e.insertions), (0, 2, 0));
        assert_eq!(e.reference_words, 4);
    }

    #[test]
    fn empty_sides() {
        assert_eq!(wer("", ""), 0.0);
        assert_eq!(wer("", "ruido"), 1.0);
        assert_eq!(wer("hola mundo", ""), 1.0);
        assert_eq!(
            wer("uno", "uno dos tres"),
            2.0,
            "insertions can exceed the reference"
        );
    }

    #[test]
    fn corpus_rates_add_counts_not_rates() {
        let total = word_errors("a b c d", "a b c d") + word_errors("e f", "e g");
        assert_eq!(total.reference_words, 6);
        assert!((total.rate() - 1.0 / 6.0).abs() < 1e-12);
    }
}
