//! Billing rules: billing months in the tenant's time zone, plans and price lists as ABCall's back
//! office enters them, how an invoice's lines and totals follow from the month's usage, and the
//! invoice lifecycle (draft → issued → paid, or issued → void with a credit note).

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::incident::Channel;
use super::money::{self, Currency, Overflow};
use super::validation::{Errors, FieldError, required_text};

/// A billing month, `YYYY-MM`, counted in the tenant's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    year: i16,
    month: i8,
}

impl Period {
    /// Parses `YYYY-MM` (years 2000 to 2999).
    pub fn parse(value: &str) -> Option<Period> {
        let (year, month) = value.split_once('-')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        let year: i16 = year.parse().ok()?;
        let month: i8 = month.parse().ok()?;
        ((2000..=2999).contains(&year) && (1..=12).contains(&month))
            .then_some(Period { year, month })
    }

    /// The month `at` falls in, on the tenant's wall clock.
    pub fn containing(at: Timestamp, tz: &TimeZone) -> Period {
        let date = tz.to_datetime(at).date();
        Period {
            year: date.year(),
            month: date.month(),
        }
    }

    pub fn first_day(self) -> Date {
        Date::new(self.year, self.month, 1).expect("a parsed period is a real month")
    }

    pub fn last_day(self) -> Date {
        self.first_day().last_of_month()
    }

    /// The instant the month starts and the instant the next one starts, in `tz`.
    pub fn bounds(self, tz: &TimeZone) -> (Timestamp, Timestamp) {
        let start = self.first_day();
        let next = start
            .checked_add(jiff::Span::new().months(1))
            .expect("months of 2000-2999 have a successor");
        let at = |date: Date| {
            tz.to_ambiguous_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
                .compatible()
                .expect("midnight of a real date exists in every zone")
        };
        (at(start), at(next))
    }

    /// Whether the whole month lies before `now` in `tz`.
    pub fn has_ended(self, now: Timestamp, tz: &TimeZone) -> bool {
        self.bounds(tz).1 <= now
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Period::parse(&text)
            .ok_or_else(|| serde::de::Error::custom("expected a month as YYYY-MM, e.g. 2026-11"))
    }
}

impl utoipa::PartialSchema for Period {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^2\d{3}-(0[1-9]|1[0-2])$"))
            .examples([serde_json::json!("2026-11")])
            .into()
    }
}

impl utoipa::ToSchema for Period {}

const MAX_FEE_MINOR: i64 = 1_000_000_000_000;

/// A short lowercase code: letters, digits and hyphens (plan ids, issuer codes).
fn code(errors: &mut Errors, field: &str, value: &str) -> String {
    let value = value.trim();
    let ok = (2..=40).contains(&value.len())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !value.starts_with('-');
    if !ok {
        errors.add(
            field,
            "must be 2 to 40 letters, digits or hyphens, e.g. estandar-pen",
        );
    }
    value.to_owned()
}

fn fee(errors: &mut Errors, field: &str, amount_minor: i64) {
    if !(0..=MAX_FEE_MINOR).contains(&amount_minor) {
        errors.add(
            field,
            format!("must be between 0 and {MAX_FEE_MINOR} minor units"),
        );
    }
}

/// A plan: the fixed monthly fee every client on it pays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// e.g. `estandar-pen`
    pub id: String,
    pub name: String,
    pub currency: Currency,
    pub monthly_fee_minor: i64,
}

impl Plan {
    pub fn validate(mut self) -> Result<Plan, Vec<FieldError>> {
        let mut errors = Errors::new();
        self.id = code(&mut errors, "id", &self.id);
        self.name = required_text(&mut errors, "name", &self.name, 120).unwrap_or_default();
        fee(&mut errors, "monthly_fee_minor", self.monthly_fee_minor);
        errors.finish(|| self)
    }
}

/// What the back office sets on a tenant's billing account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountTerms {
    pub plan_id: String,
    /// e.g. `IGV` (Peru), `IVA` (Colombia, Chile)
    pub tax_name: String,
    /// Tax rate in basis points: 1800 = 18%.
    pub tax_rate_bp: i64,
    /// The ABCall entity that issues the invoices; numbering is sequential per issuer.
    pub issuer: String,
}

impl AccountTerms {
    pub fn validate(mut self) -> Result<AccountTerms, Vec<FieldError>> {
        let mut errors = Errors::new();
        self.plan_id = code(&mut errors, "plan_id", &self.plan_id);
        self.tax_name =
            required_text(&mut errors, "tax_name", &self.tax_name, 20).unwrap_or_default();
        if !(0..=10_000).contains(&self.tax_rate_bp) {
            errors.add("tax_rate_bp", "must be between 0 and 10000 (100%)");
        }
        self.issuer = code(&mut errors, "issuer", &self.issuer).to_ascii_uppercase();
        errors.finish(|| self)
    }
}

/// Fee per registered PQR for every channel, in the account's currency's minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelPrices {
    pub phone: i64,
    pub email: i64,
    pub chat: i64,
    pub chatbot: i64,
    pub app: i64,
    pub web: i64,
}

impl ChannelPrices {
    pub fn get(&self, channel: Channel) -> i64 {
        match channel {
            Channel::Phone => self.phone,
            Channel::Email => self.email,
            Channel::Chat => self.chat,
            Channel::Chatbot => self.chatbot,
            Channel::App => self.app,
            Channel::Web => self.web,
        }
    }

    /// Every channel at its price.
    pub fn entries(&self) -> impl Iterator<Item = (Channel, i64)> + '_ {
        Channel::ALL.into_iter().map(|c| (c, self.get(c)))
    }
}

impl Default for ChannelPrices {
    /// What a new tenant starts with (PEN céntimos), until the back office enters its negotiated
    /// rates.
    fn default() -> Self {
        Self {
            phone: 350,
            email: 120,
            chat: 150,
            chatbot: 40,
            app: 80,
            web: 80,
        }
    }
}

/// A new negotiated price list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPriceList {
    /// When the prices start to apply; now when absent. Never in the past: PQRs already
    /// registered keep the price they were billed at.
    #[serde(default)]
    pub effective_from: Option<Timestamp>,
    pub prices: ChannelPrices,
}

impl NewPriceList {
    /// The start instant, checked against `now`.
    pub fn validate(&self, now: Timestamp) -> Result<Timestamp, Vec<FieldError>> {
        let mut errors = Errors::new();
        let from = self.effective_from.unwrap_or(now);
        if from < now {
            errors.add(
                "effective_from",
                "must not be in the past: registered PQRs keep the price they were billed at",
            );
        }
        for (channel, amount) in self.prices.entries() {
            fee(&mut errors, &format!("prices.{}", channel.as_str()), amount);
        }
        errors.finish(|| from)
    }
}

/// The PQRs of one channel registered at one unit price within a month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub channel: Channel,
    pub unit_price_minor: i64,
    pub count: i64,
}

/// One invoice line: a channel's PQRs at one unit price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InvoiceLine {
    pub channel: Channel,
    /// In Spanish, as printed on the invoice.
    pub description: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub amount_minor: i64,
}

/// What an invoice adds up to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InvoiceAmounts {
    pub plan_fee_minor: i64,
    pub lines: Vec<InvoiceLine>,
    /// PQRs billed (the sum of the lines' quantities).
    pub incidents: i64,
    pub subtotal_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
}

fn channel_label(channel: Channel) -> &'static str {
    match channel {
        Channel::Phone => "teléfono",
        Channel::Email => "correo electrónico",
        Channel::Chat => "chat",
        Channel::Chatbot => "chatbot",
        Channel::App => "aplicación móvil",
        Channel::Web => "web",
    }
}

/// Lines (by channel, then unit price) and totals of a month: plan fee plus every line, then tax
/// on that subtotal.
pub fn amounts(
    plan_fee_minor: i64,
    usage: &[Usage],
    tax_rate_bp: i64,
) -> Result<InvoiceAmounts, Overflow> {
    let mut usage: Vec<Usage> = usage.iter().copied().filter(|u| u.count > 0).collect();
    usage.sort_by_key(|u| {
        (
            Channel::ALL.iter().position(|c| *c == u.channel),
            u.unit_price_minor,
        )
    });
    let lines = usage
        .iter()
        .map(|u| {
            Ok(InvoiceLine {
                channel: u.channel,
                description: format!("PQR registradas por {}", channel_label(u.channel)),
                quantity: u.count,
                unit_price_minor: u.unit_price_minor,
                amount_minor: money::times(u.unit_price_minor, u.count)?,
            })
        })
        .collect::<Result<Vec<_>, Overflow>>()?;
    let incidents = money::sum(lines.iter().map(|l| l.quantity))?;
    let subtotal_minor =
        money::sum(std::iter::once(plan_fee_minor).chain(lines.iter().map(|l| l.amount_minor)))?;
    let tax_minor = money::tax(subtotal_minor, tax_rate_bp)?;
    let total_minor = money::sum([subtotal_minor, tax_minor])?;
    Ok(InvoiceAmounts {
        plan_fee_minor,
        lines,
        incidents,
        subtotal_minor,
        tax_minor,
        total_minor,
    })
}

/// The same document with every amount negated: what a credit note cancelling it says.
pub fn negated(amounts: &InvoiceAmounts) -> InvoiceAmounts {
    InvoiceAmounts {
        plan_fee_minor: -amounts.plan_fee_minor,
        lines: amounts
            .lines
            .iter()
            .map(|l| InvoiceLine {
                amount_minor: -l.amount_minor,
                quantity: -l.quantity,
                ..l.clone()
            })
            .collect(),
        incidents: -amounts.incidents,
        subtotal_minor: -amounts.subtotal_minor,
        tax_minor: -amounts.tax_minor,
        total_minor: -amounts.total_minor,
    }
}

/// Invoice or credit note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Invoice,
    CreditNote,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Invoice => "invoice",
            DocumentKind::CreditNote => "credit_note",
        }
    }

    pub fn parse(value: &str) -> Option<DocumentKind> {
        [DocumentKind::Invoice, DocumentKind::CreditNote]
            .into_iter()
            .find(|k| k.as_str() == value)
    }

    /// The numbering series of the kind, as on Peruvian electronic invoices (F001, FC01).
    pub fn series(self) -> &'static str {
        match self {
            DocumentKind::Invoice => "F001",
            DocumentKind::CreditNote => "FC01",
        }
    }

    /// The printed number of the `n`-th document of this kind: `F001-00000042`.
    pub fn number(self, n: i64) -> String {
        format!("{}-{n:08}", self.series())
    }
}

/// Where an invoice is in its life. Only a draft changes; an issued document is frozen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    Draft,
    Issued,
    Paid,
    Void,
}

impl InvoiceStatus {
    pub const ALL: [InvoiceStatus; 4] = [
        InvoiceStatus::Draft,
        InvoiceStatus::Issued,
        InvoiceStatus::Paid,
        InvoiceStatus::Void,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Draft => "draft",
            InvoiceStatus::Issued => "issued",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Void => "void",
        }
    }

    pub fn parse(value: &str) -> Option<InvoiceStatus> {
        InvoiceStatus::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// A bank transfer received against an issued invoice.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    pub amount_minor: i64,
    /// The bank's operation number; one payment per reference and invoice.
    pub reference: String,
    /// The date the transfer arrived (`YYYY-MM-DD`).
    pub received_on: Date,
}

impl NewPayment {
    /// Checks the payment against what is still owed.
    pub fn validate(mut self, outstanding_minor: i64) -> Result<NewPayment, Vec<FieldError>> {
        let mut errors = Errors::new();
        if self.amount_minor <= 0 {
            errors.add("amount_minor", "must be positive");
        } else if self.amount_minor > outstanding_minor {
            errors.add(
                "amount_minor",
                format!("exceeds the {outstanding_minor} minor units still owed"),
            );
        }
        self.reference =
            required_text(&mut errors, "reference", &self.reference, 80).unwrap_or_default();
        errors.finish(|| self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lima() -> TimeZone {
        TimeZone::get("America/Lima").unwrap()
    }

    #[test]
    fn periods_parse_strictly() {
        assert_eq!(Period::parse("2026-11").unwrap().to_string(), "2026-11");
        for bad in [
            "2026-13", "2026-1", "26-11", "2026/11", "1999-12", "2026-00", "",
        ] {
            assert_eq!(Period::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn months_follow_the_tenant_wall_clock() {
        // 2026-12-01 03:00Z is still 30 November 22:00 in Lima (UTC-5).
        let at: Timestamp = "2026-12-01T03:00:00Z".parse().unwrap();
        assert_eq!(Period::containing(at, &lima()).to_string(), "2026-11");
        assert_eq!(
            Period::containing(at, &TimeZone::UTC).to_string(),
            "2026-12"
        );
        let (start, end) = Period::parse("2026-11").unwrap().bounds(&lima());
        assert_eq!(start.to_string(), "2026-11-01T05:00:00Z");
        assert_eq!(end.to_string(), "2026-12-01T05:00:00Z");
        let december = Period::parse("2026-12").unwrap();
        assert_eq!(
            december.bounds(&lima()).1.to_string(),
            "2027-01-01T05:00:00Z"
        );
        assert!(!Period::parse("2026-11").unwrap().has_ended(at, &lima()));
        assert!(Period::parse("2026-10").unwrap().has_ended(at, &lima()));
    }

    #[test]
    fn invoice_totals_are_the_sum_of_their_lines() {
        let usage = [
            Usage {
                channel: Channel::Web,
                unit_price_minor: 80,
                count: 7,
            },
            Usage {
                channel: Channel::Phone,
                unit_price_minor: 400,
                count: 2,
            },
            Usage {
                channel: Channel::Phone,
                unit_price_minor: 350,
                count: 3,
            },
            Usage {
                channel: Channel::Email,
                unit_price_minor: 120,
                count: 0,
            },
        ];
        let a = amounts(150_000, &usage, 1_800).unwrap();
        let described: Vec<_> = a
            .lines
            .iter()
            .map(|l| (l.channel, l.quantity, l.unit_price_minor, l.amount_minor))
            .collect();
        assert_eq!(
            described,
            [
                (Channel::Phone, 3, 350, 1_050),
                (Channel::Phone, 2, 400, 800),
                (Channel::Web, 7, 80, 560),
            ]
        );
        assert_eq!(a.incidents, 12);
        assert_eq!(a.subtotal_minor, 150_000 + 1_050 + 800 + 560);
        assert_eq!(a.tax_minor, 27_434); // 18% of 152,410 = 27,433.8
        assert_eq!(a.total_minor, 152_410 + 27_434);
        assert_eq!(a.lines[0].description, "PQR registradas por teléfono");
        let credit = negated(&a);
        assert_eq!(credit.total_minor, -a.total_minor);
        assert_eq!(credit.lines[2].amount_minor, -560);
    }

    #[test]
    fn a_month_without_pqrs_bills_the_plan_fee() {
        let a = amounts(150_000, &[], 1_800).unwrap();
        assert!(a.lines.is_empty());
        assert_eq!(
            (a.subtotal_minor, a.tax_minor, a.total_minor),
            (150_000, 27_000, 177_000)
        );
    }

    #[test]
    fn overflowing_amounts_are_refused() {
        let usage = [Usage {
            channel: Channel::Web,
            unit_price_minor: i64::MAX / 2,
            count: 3,
        }];
        assert_eq!(amounts(0, &usage, 0), Err(Overflow));
    }

    #[test]
    fn document_numbers_are_zero_padded_per_series() {
        assert_eq!(DocumentKind::Invoice.number(42), "F001-00000042");
        assert_eq!(DocumentKind::CreditNote.number(1), "FC01-00000001");
    }

    #[test]
    fn price_lists_never_start_in_the_past() {
        let now: Timestamp = "2026-11-15T12:00:00Z".parse().unwrap();
        let list = NewPriceList {
            effective_from: Some("2026-11-15T11:59:59Z".parse().unwrap()),
            prices: ChannelPrices {
                web: -1,
                ..ChannelPrices::default()
            },
        };
        let fields: Vec<_> = list
            .validate(now)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["effective_from", "prices.web"]);
        let now_list = NewPriceList {
            effective_from: None,
            prices: ChannelPrices::default(),
        };
        assert_eq!(now_list.validate(now), Ok(now));
    }

    #[test]
    fn payments_cannot_exceed_what_is_owed() {
        let payment = |amount_minor, reference: &str| NewPayment {
            amount_minor,
            reference: reference.into(),
            received_on: jiff::civil::date(2026, 12, 5),
        };
        assert!(payment(100, "OP-1").validate(100).is_ok());
        let fields = |p: NewPayment| -> Vec<String> {
            p.validate(100)
                .unwrap_err()
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(fields(payment(101, "OP-1")), ["amount_minor"]);
        assert_eq!(fields(payment(0, " ")), ["amount_minor", "reference"]);
    }

    #[test]
    fn terms_and_plans_name_their_bad_fields() {
        let terms = AccountTerms {
            plan_id: "x".into(),
            tax_name: "".into(),
            tax_rate_bp: 10_001,
            issuer: "abcall-pe".into(),
        };
        let fields: Vec<_> = terms
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["plan_id", "tax_name", "tax_rate_bp"]);
        let ok = AccountTerms {
            plan_id: "estandar-pen".into(),
            tax_name: "IGV".into(),
            tax_rate_bp: 1_800,
            issuer: "abcall-pe".into(),
        };
        assert_eq!(ok.validate().unwrap().issuer, "ABCALL-PE");
        let plan = Plan {
            id: "premium pen".into(),
            name: "Premium".into(),
            currency: Currency::PEN,
            monthly_fee_minor: -1,
        };
        let fields: Vec<_> = plan
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["id", "monthly_fee_minor"]);
    }
}
