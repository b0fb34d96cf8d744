//! Money as integer minor units with an ISO currency — never floats — and the few operations
//! billing needs on it: checked sums, tax in basis points rounded half up, and display.

use serde::{Deserialize, Serialize};

/// Currencies ABCall bills in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Currency {
    PEN,
    COP,
    CLP,
    USD,
}

impl Currency {
    pub const ALL: [Currency; 4] = [Currency::PEN, Currency::COP, Currency::CLP, Currency::USD];

    pub fn as_str(self) -> &'static str {
        match self {
            Currency::PEN => "PEN",
            Currency::COP => "COP",
            Currency::CLP => "CLP",
            Currency::USD => "USD",
        }
    }

    pub fn parse(value: &str) -> Option<Currency> {
        Currency::ALL.into_iter().find(|c| c.as_str() == value)
    }

    /// Digits after the decimal point of one major unit (the Chilean peso has none).
    pub fn minor_digits(self) -> u32 {
        match self {
            Currency::CLP => 0,
            Currency::PEN | Currency::COP | Currency::USD => 2,
        }
    }

    /// `amount_minor` as the major amount with thousands separators, e.g. `1,234.50` or `380,000`.
    pub fn format(self, amount_minor: i64) -> String {
        let digits = self.minor_digits();
        let unit = 10i128.pow(digits);
        let amount = i128::from(amount_minor);
        let (major, minor) = (amount.abs() / unit, amount.abs() % unit);
        let major = major.to_string();
        let mut grouped = String::with_capacity(major.len() + major.len() / 3);
        for (i, c) in major.chars().enumerate() {
            if i > 0 && (major.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        let sign = if amount < 0 { "-" } else { "" };
        if digits == 0 {
            format!("{sign}{grouped}")
        } else {
            format!("{sign}{grouped}.{minor:0width$}", width = digits as usize)
        }
    }
}

/// An amount in minor units (céntimos, centavos; CLP has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: Currency,
}

/// An amount too large for the ledger (beyond ±9.2 × 10^18 minor units).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("amount out of range")]
pub struct Overflow;

/// `price × quantity`, refusing to wrap.
pub fn times(unit_minor: i64, quantity: i64) -> Result<i64, Overflow> {
    unit_minor.checked_mul(quantity).ok_or(Overflow)
}

/// Sum of amounts, refusing to wrap.
pub fn sum(amounts: impl IntoIterator<Item = i64>) -> Result<i64, Overflow> {
    amounts
        .into_iter()
        .try_fold(0i64, |acc, x| acc.checked_add(x).ok_or(Overflow))
}

/// Tax on `base_minor` at `rate_bp` basis points (1800 = 18%), rounded half away from zero to
/// the minor unit, as tax authorities in the region round per document.
pub fn tax(base_minor: i64, rate_bp: i64) -> Result<i64, Overflow> {
    let product = i128::from(base_minor) * i128::from(rate_bp);
    let rounded = if product >= 0 {
        (product + 5_000) / 10_000
    } else {
        (product - 5_000) / 10_000
    };
    i64::try_from(rounded).map_err(|_| Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_the_currency_minor_units() {
        assert_eq!(Currency::PEN.format(123_450), "1,234.50");
        assert_eq!(Currency::PEN.format(5), "0.05");
        assert_eq!(Currency::PEN.format(-120), "-1.20");
        assert_eq!(Currency::CLP.format(380_000), "380,000");
        assert_eq!(Currency::COP.format(160_000_000), "1,600,000.00");
        assert_eq!(Currency::USD.format(0), "0.00");
    }

    #[test]
    fn tax_rounds_half_away_from_zero() {
        assert_eq!(tax(10_000, 1_800), Ok(1_800));
        // 0.18 × 1.25 = 0.225 → 0.23; 0.18 × 1.24 = 0.2232 → 0.22
        assert_eq!(tax(125, 1_800), Ok(23));
        assert_eq!(tax(124, 1_800), Ok(22));
        assert_eq!(tax(-125, 1_800), Ok(-23));
        assert_eq!(tax(999, 0), Ok(0));
    }

    #[test]
    fn arithmetic_refuses_to_wrap() {
        assert_eq!(times(i64::MAX, 2), Err(Overflow));
        assert_eq!(sum([i64::MAX, 1]), Err(Overflow));
        assert_eq!(sum([1, 2, 3]), Ok(6));
        assert_eq!(tax(i64::MAX, 10_000), Ok(i64::MAX));
    }

    #[test]
    fn currency_codes_round_trip() {
        for currency in Currency::ALL {
            assert_eq!(Currency::parse(currency.as_str()), Some(currency));
        }
        assert_eq!(Currency::parse("EUR"), None);
    }
}
