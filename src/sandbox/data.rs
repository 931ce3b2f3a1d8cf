//! Deterministic seeded PSA data, held compactly and shared by both vendor imitations.
//!
//! Records keep only indexes and numbers; each vendor module renders its own JSON shape on
//! demand, so 100k companies cost a few megabytes and a page renders only the rows it returns.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How many records of each kind to generate.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct DataSizes {
    pub companies: usize,
    pub contacts_per_company: usize,
    /// ConnectWise agreements; the same rows are Autotask contracts.
    pub agreements: usize,
    /// Catalog items; recurring ones are also Autotask services.
    pub products: usize,
    pub tickets: usize,
}

impl Default for DataSizes {
    /// A small set that still crosses ConnectWise's default page of 25 (BR-06).
    fn default() -> Self {
        Self {
            companies: 40,
            contacts_per_company: 2,
            agreements: 60,
            products: 30,
            tickets: 20,
        }
    }
}

/// Seconds since the Unix epoch, UTC.
pub type Epoch = i64;

/// 2021-01-01T00:00:00Z: every generated date falls after it.
const BASE_EPOCH: Epoch = 1_609_459_200;
const DAY: Epoch = 86_400;

#[derive(Debug, Clone)]
pub struct Company {
    pub name: String,
    pub identifier: String,
    pub city: u8,
    /// ConnectWise location (territory) id, 1..=4.
    pub territory: u8,
    /// 1 Client, 2 Prospect, 3 Vendor.
    pub type_id: u8,
    pub active: bool,
    pub deleted: bool,
    pub entered: Epoch,
    pub updated: Epoch,
    pub phone: u32,
    pub seats: u16,
}

#[derive(Debug, Clone)]
pub struct Contact {
    pub company: u32,
    pub first: u8,
    pub last: u8,
    pub inactive: bool,
    pub updated: Epoch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgreementStatus {
    Active,
    Cancelled,
    Expired,
    Inactive,
}

impl AgreementStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Cancelled => "Cancelled",
            Self::Expired => "Expired",
            Self::Inactive => "Inactive",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Agreement {
    pub company: u32,
    /// Index into [`AGREEMENT_TYPES`].
    pub type_idx: u8,
    pub parent: Option<u32>,
    pub name: String,
    pub status: AgreementStatus,
    pub start: Epoch,
    pub end: Option<Epoch>,
    pub bill_amount: f64,
    pub updated: Epoch,
}

#[derive(Debug, Clone)]
pub struct Addition {
    pub agreement: u32,
    pub product: u32,
    pub quantity: u32,
    pub effective: Epoch,
    pub cancelled: Option<Epoch>,
}

#[derive(Debug, Clone)]
pub struct Product {
    pub identifier: String,
    pub description: String,
    pub price: f64,
    pub cost: f64,
    pub recurring: bool,
    pub inactive: bool,
    /// 1 Microsoft 365, 2 Hardware, 3 Services.
    pub category: u8,
    pub manufacturer: &'static str,
}

#[derive(Debug, Clone)]
pub struct Ticket {
    pub company: u32,
    pub title: String,
    pub created: Epoch,
    pub complete: bool,
}

/// Agreement (contract) types: name, whether inactive, Autotask `contractType` code.
pub const AGREEMENT_TYPES: &[(&str, bool, u8)] = &[
    ("Managed Services", false, 7),
    ("M365 Licensing", false, 7),
    ("Block Time", false, 4),
    ("Backup & DR", false, 3),
    ("Hardware as a Service", false, 7),
    ("Legacy Support (retired)", true, 1),
];
const MANAGED: u8 = 0;
const M365: u8 = 1;

pub const LOCATIONS: &[&str] = &["Sydney", "Melbourne", "London", "Seattle"];
pub const COMPANY_TYPES: &[&str] = &["Client", "Prospect", "Vendor"];
pub const CITIES: &[(&str, &str, &str, &str)] = &[
    ("Sydney", "NSW", "2000", "AU"),
    ("Melbourne", "VIC", "3000", "AU"),
    ("London", "", "EC1A 1BB", "GB"),
    ("Seattle", "WA", "98101", "US"),
    ("Zürich", "ZH", "8001", "CH"),
    ("Auckland", "", "1010", "NZ"),
];
pub const FIRST_NAMES: &[&str] = &[
    "Mia", "Noah", "Zoë", "Liam", "Aroha", "Søren", "Priya", "José", "Chen", "Olivia", "Ngaio",
    "Amélie",
];
pub const LAST_NAMES: &[&str] = &[
    "Chen", "Smith", "O'Brien", "Müller", "Nguyen", "García", "Kowalski", "Tanaka", "Brown",
    "Ngata",
];

/// Names that exercise escaping and Unicode handling, placed at the start of the list.
const SPECIAL_COMPANIES: &[&str] = &[
    "Contoso Dental Pty Ltd",
    "Ænima & <Sons>",
    "<script>alert('sync365')</script> Holdings",
    "Zürich Bäckerei GmbH",
    "東京テック株式会社",
    "O'Brien & Søn \"Quoted\" Ltd",
    "Ōtautahi Plumbing 🚰",
];
const NAME_HEADS: &[&str] = &[
    "Fabrikam",
    "Northwind",
    "Tailspin",
    "Wingtip",
    "Adventure",
    "Litware",
    "Proseware",
    "Woodgrove",
    "Alpine",
    "Blue Yonder",
    "Coho",
    "Lucerne",
    "Margie's",
    "Trey",
    "Wide World",
    "Humongous",
];
const NAME_TRADES: &[&str] = &[
    "Dental",
    "Legal",
    "Accounting",
    "Logistics",
    "Plumbing",
    "Bakery",
    "Architects",
    "Medical",
    "Café",
];
const NAME_TAILS: &[&str] = &["Pty Ltd", "Ltd", "LLC", "GmbH", "Inc.", "& Co", "Group"];

/// Microsoft 365 licences: identifier, name, monthly price, cost.
const M365_PRODUCTS: &[(&str, &str, f64, f64)] = &[
    (
        "M365-BUS-PREM",
        "Microsoft 365 Business Premium",
        36.3,
        30.25,
    ),
    (
        "M365-BUS-STD",
        "Microsoft 365 Business Standard",
        18.7,
        15.6,
    ),
    ("M365-BUS-BASIC", "Microsoft 365 Business Basic", 9.0, 7.5),
    ("EXO-P1", "Exchange Online (Plan 1)", 6.0, 5.0),
    ("EXO-P2", "Exchange Online (Plan 2)", 12.0, 10.0),
    ("M365-E3", "Microsoft 365 E3", 54.75, 45.6),
    ("M365-E5", "Microsoft 365 E5", 86.1, 71.75),
    ("TEAMS-ESS", "Microsoft Teams Essentials", 6.0, 5.0),
    ("DEF-BUS", "Microsoft Defender for Business", 4.5, 3.75),
    (
        "M365-APPS-BUS",
        "Microsoft 365 Apps for business",
        12.4,
        10.3,
    ),
    ("PBI-PRO", "Power BI Pro", 15.0, 12.5),
    ("ENTRA-P1", "Microsoft Entra ID P1", 9.0, 7.5),
];
const OTHER_PRODUCTS: &[(&str, &str, u8, &str)] = &[
    ("Dell Latitude 5440", "LAT5440", 2, "Dell"),
    ("Managed Backup 1 TB", "BKP-1TB", 3, "Datto"),
    ("Ubiquiti Switch 24", "USW-24", 2, "Ubiquiti"),
    ("Onsite Support Hour", "SVC-HOUR", 3, "Sandbox MSP"),
    ("Firewall Monitoring", "FW-MON", 3, "Sandbox MSP"),
];

/// All generated records. Index `i` in each vector is the record's local id `i + 1`.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub companies: Vec<Company>,
    pub contacts: Vec<Contact>,
    pub agreements: Vec<Agreement>,
    pub additions: Vec<Addition>,
    /// `additions_of[a]..additions_of[a + 1]` are the additions of agreement `a`.
    pub additions_of: Vec<u32>,
    pub products: Vec<Product>,
    pub tickets: Vec<Ticket>,
}

impl Dataset {
    /// Generates the data for a seed; the same seed and sizes always give the same data.
    pub fn generate(seed: u64, sizes: DataSizes) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let companies: Vec<Company> = (0..sizes.companies).map(|i| company(&mut rng, i)).collect();
        let contacts = contacts(&mut rng, &companies, sizes.contacts_per_company);
        let products = (0..sizes.products)
            .map(|i| product(&mut rng, i))
            .collect::<Vec<_>>();
        let agreements = agreements(&mut rng, companies.len(), sizes.agreements);
        let (additions, additions_of) = additions(&mut rng, &agreements, &products);
        let tickets = tickets(&mut rng, companies.len(), sizes.tickets);
        Self {
            companies,
            contacts,
            agreements,
            additions,
            additions_of,
            products,
            tickets,
        }
    }

    /// The additions of one agreement (by index), with their global indexes.
    pub fn additions_of(&self, agreement: usize) -> std::ops::Range<usize> {
        let start = self.additions_of.get(agreement).copied().unwrap_or(0) as usize;
        let end = self.additions_of.get(agreement + 1).copied().unwrap_or(0) as usize;
        start..end.max(start)
    }
}

fn company(rng: &mut ChaCha8Rng, i: usize) -> Company {
    let name = match SPECIAL_COMPANIES.get(i) {
        Some(special) => (*special).to_string(),
        None => generated_company_name(rng, i),
    };
    let entered = BASE_EPOCH + rng.random_range(0..900) * DAY + rng.random_range(0..DAY);
    Company {
        identifier: identifier_for(&name, i),
        name,
        city: rng.random_range(0..CITIES.len()) as u8,
        territory: rng.random_range(1..=LOCATIONS.len()) as u8,
        type_id: if i % 10 == 9 {
            2
        } else if i % 17 == 16 {
            3
        } else {
            1
        },
        active: i % 9 != 8,
        deleted: i % 13 == 12,
        entered,
        updated: entered + rng.random_range(0..400) * DAY,
        phone: rng.random_range(20_000_000..99_999_999),
        seats: rng.random_range(1..250),
    }
}

fn generated_company_name(rng: &mut ChaCha8Rng, i: usize) -> String {
    let head = NAME_HEADS[rng.random_range(0..NAME_HEADS.len())];
    let trade = NAME_TRADES[rng.random_range(0..NAME_TRADES.len())];
    let tail = NAME_TAILS[rng.random_range(0..NAME_TAILS.len())];
    // The number keeps names unique, like a real MSP's "Fabrikam Dental (2)".
    format!("{head} {trade} {tail} {i}")
}

/// ConnectWise identifiers are short ASCII keys (max 30), unique per company.
fn identifier_for(name: &str, i: usize) -> String {
    let letters: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(20)
        .collect();
    format!(
        "{}{}",
        if letters.is_empty() {
            "Company"
        } else {
            &letters
        },
        i + 1
    )
}

fn contacts(rng: &mut ChaCha8Rng, companies: &[Company], per: usize) -> Vec<Contact> {
    let mut out = Vec::with_capacity(companies.len() * per);
    for (c, company) in companies.iter().enumerate() {
        for k in 0..per {
            out.push(Contact {
                company: c as u32,
                first: rng.random_range(0..FIRST_NAMES.len()) as u8,
                last: rng.random_range(0..LAST_NAMES.len()) as u8,
                inactive: k > 0 && rng.random_bool(0.15),
                updated: company.updated,
            });
        }
    }
    out
}

fn product(rng: &mut ChaCha8Rng, i: usize) -> Product {
    if let Some((id, name, price, cost)) = M365_PRODUCTS.get(i) {
        return Product {
            identifier: (*id).into(),
            description: (*name).into(),
            price: *price,
            cost: *cost,
            recurring: true,
            inactive: false,
            category: 1,
            manufacturer: "Microsoft",
        };
    }
    let (name, id, category, maker) = OTHER_PRODUCTS[i % OTHER_PRODUCTS.len()];
    let price = (rng.random_range(1_000..200_000) as f64) / 100.0;
    Product {
        identifier: format!("{id}-{}", i + 1),
        description: format!("{name} ({})", i + 1),
        price,
        cost: (price * 0.8 * 100.0).round() / 100.0,
        recurring: category == 3,
        inactive: i % 11 == 10,
        category,
        manufacturer: maker,
    }
}

/// Every third agreement is a Managed Services parent, followed by an M365 child of the same
/// company and a standalone agreement of some other type.
fn agreements(rng: &mut ChaCha8Rng, companies: usize, count: usize) -> Vec<Agreement> {
    let mut out: Vec<Agreement> = Vec::with_capacity(count);
    for i in 0..count {
        let company = if companies == 0 {
            0
        } else {
            ((i / 3) % companies) as u32
        };
        let (type_idx, parent) = match i % 3 {
            0 => (MANAGED, None),
            1 => (M365, Some((i - 1) as u32)),
            _ => (rng.random_range(1..AGREEMENT_TYPES.len()) as u8, None),
        };
        out.push(agreement(rng, i, company, type_idx, parent));
    }
    out
}

fn agreement(
    rng: &mut ChaCha8Rng,
    i: usize,
    company: u32,
    type_idx: u8,
    parent: Option<u32>,
) -> Agreement {
    let start = BASE_EPOCH + rng.random_range(0..1000) * DAY;
    let status = match i % 11 {
        10 => AgreementStatus::Cancelled,
        7 => AgreementStatus::Expired,
        _ if AGREEMENT_TYPES[type_idx as usize].1 => AgreementStatus::Inactive,
        _ => AgreementStatus::Active,
    };
    let type_name = AGREEMENT_TYPES[type_idx as usize].0;
    Agreement {
        company,
        type_idx,
        parent,
        name: if i == 4 {
            "Ænima & <Sons> – Microsoft 365".into()
        } else {
            format!("{type_name} #{}", i + 1)
        },
        status,
        start,
        end: (status == AgreementStatus::Expired).then_some(start + 365 * DAY),
        bill_amount: (rng.random_range(0..500_000) as f64) / 100.0,
        updated: start + rng.random_range(0..300) * DAY,
    }
}

fn additions(
    rng: &mut ChaCha8Rng,
    agreements: &[Agreement],
    products: &[Product],
) -> (Vec<Addition>, Vec<u32>) {
    let mut out = Vec::new();
    let mut offsets = Vec::with_capacity(agreements.len() + 1);
    for (a, agreement) in agreements.iter().enumerate() {
        offsets.push(out.len() as u32);
        let lines = if products.is_empty() {
            0
        } else {
            rng.random_range(1..=4)
        };
        for _ in 0..lines {
            out.push(addition(rng, a, agreement, products.len()));
        }
    }
    offsets.push(out.len() as u32);
    (out, offsets)
}

fn addition(rng: &mut ChaCha8Rng, a: usize, agreement: &Agreement, products: usize) -> Addition {
    let effective = agreement.start + rng.random_range(0..60) * DAY;
    // One line in seven was cancel-dated (BR-16's pre-existing manual additions).
    let cancelled = rng
        .random_bool(1.0 / 7.0)
        .then(|| effective + rng.random_range(30..300) * DAY);
    Addition {
        agreement: a as u32,
        product: rng.random_range(0..products.min(M365_PRODUCTS.len()).max(1)) as u32,
        quantity: rng.random_range(1..60),
        effective,
        cancelled,
    }
}

fn tickets(rng: &mut ChaCha8Rng, companies: usize, count: usize) -> Vec<Ticket> {
    (0..count)
        .map(|i| Ticket {
            company: if companies == 0 {
                0
            } else {
                (i % companies) as u32
            },
            title: format!("Licence count check #{}", i + 1),
            created: BASE_EPOCH + rng.random_range(0..1200) * DAY,
            complete: i % 3 == 0,
        })
        .collect()
}

/// ISO-8601 UTC without fractions, the format both APIs use for dates.
pub fn iso(epoch: Epoch) -> String {
    chrono::DateTime::from_timestamp(epoch, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A stable GUID-shaped string derived from a number, for `mobileGuid` and tenant ids.
pub fn guid(n: u64) -> String {
    let a = splitmix(n);
    let b = splitmix(a);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_data() {
        let a = Dataset::generate(7, DataSizes::default());
        let b = Dataset::generate(7, DataSizes::default());
        assert_eq!(a.companies[20].name, b.companies[20].name);
        assert_eq!(a.additions.len(), b.additions.len());
    }

    #[test]
    fn child_agreements_point_at_a_parent_of_the_same_company() {
        let data = Dataset::generate(1, DataSizes::default());
        let child = &data.agreements[1];
        let parent = &data.agreements[child.parent.unwrap() as usize];
        assert_eq!(child.company, parent.company);
        assert_eq!(
            AGREEMENT_TYPES[parent.type_idx as usize].0,
            "Managed Services"
        );
    }

    #[test]
    fn additions_index_covers_every_line() {
        let data = Dataset::generate(3, DataSizes::default());
        let total: usize = (0..data.agreements.len())
            .map(|a| data.additions_of(a).len())
            .sum();
        assert_eq!(total, data.additions.len());
    }
}
