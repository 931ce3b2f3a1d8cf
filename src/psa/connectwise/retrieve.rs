//! Retrieval: customers, agreements, the additions of every active agreement, and catalog
//! products, fetched a bounded number of pages at a time and streamed page by page into the
//! sink, so memory follows the page size and the concurrency, not the size of the PSA.

use futures::future::BoxFuture;
use futures::stream::{FuturesOrdered, StreamExt};
use serde::de::DeserializeOwned;

use super::api::{Api, Query};
use super::checks::parent_sentence;
use super::permissions::AGREEMENTS;
use super::wire::{Addition, CatalogItem, Company, Count, CwAgreement};
use crate::psa::PsaError;
use crate::psa::records::{AgreementLine, Customer, Phase, Product, RecordSink};

/// ConnectWise's largest page.
pub const PAGE_SIZE: usize = 1000;

/// A list endpoint with its filter; pages are numbered from 1.
#[derive(Debug, Clone)]
struct Listing {
    path: String,
    query: Query,
}

impl Listing {
    fn new(path: &str, conditions: Option<&str>, fields: &str) -> Self {
        let mut query: Query = vec![("fields", fields.to_string())];
        if let Some(c) = conditions {
            query.push(("conditions", c.to_string()));
        }
        Self {
            path: path.to_string(),
            query,
        }
    }

    /// The total, or `None` when the server offers no count for this list.
    async fn count(&self, api: &Api) -> Result<Option<u64>, PsaError> {
        let query: Query = self
            .query
            .iter()
            .filter(|(k, _)| *k == "conditions")
            .cloned()
            .collect();
        match api
            .get_json::<Count>(&format!("{}/count", self.path), &query)
            .await
        {
            Ok(c) => Ok(Some(c.count)),
            Err(PsaError::ResourceNotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn page<T: DeserializeOwned>(&self, api: &Api, page: u32) -> Result<Vec<T>, PsaError> {
        let mut query = self.query.clone();
        query.push(("pageSize", PAGE_SIZE.to_string()));
        query.push(("page", page.to_string()));
        api.get_json(&self.path, &query).await
    }
}

/// A page being fetched, tagged with its number.
type PageFetch<'a, T> = BoxFuture<'a, (u32, Result<Vec<T>, PsaError>)>;

// Limitation: navigable paging by page number; rows inserted or deleted mid-run can shift a row
// across a page boundary (forward-only paging by id would not, but is not used yet).
/// Pages of one listing, in order, with at most `limit` requests in flight. The count plans
/// the pages; a full last page means rows were added meanwhile, so paging goes on until a
/// short page (which is also how a list without a count is read).
struct Pages<'a, T> {
    api: &'a Api,
    listing: Listing,
    in_flight: FuturesOrdered<PageFetch<'a, T>>,
    next: u32,
    last: u32,
    limit: usize,
}

impl<'a, T: DeserializeOwned + Send + 'a> Pages<'a, T> {
    fn new(api: &'a Api, listing: Listing, total: Option<u64>, limit: usize) -> Self {
        let last = match total {
            Some(n) => n.div_ceil(PAGE_SIZE as u64).max(1) as u32,
            None => 1,
        };
        Self {
            api,
            listing,
            in_flight: FuturesOrdered::new(),
            next: 1,
            last,
            limit: limit.max(1),
        }
    }

    async fn next_page(&mut self) -> Option<Result<Vec<T>, PsaError>> {
        self.fill();
        let (number, result) = self.in_flight.next().await?;
        if let Ok(rows) = &result
            && number == self.last
            && rows.len() >= PAGE_SIZE
        {
            self.last += 1;
        }
        Some(result)
    }

    fn fill(&mut self) {
        while self.in_flight.len() < self.limit && self.next <= self.last {
            let (api, listing, number) = (self.api, self.listing.clone(), self.next);
            self.in_flight.push_back(Box::pin(async move {
                (number, listing.page(api, number).await)
            }));
            self.next += 1;
        }
    }
}

// Limitation: the ids of active agreements are kept for the additions phase (a few bytes each,
// so memory grows with the agreement count, not with record size).
/// An active agreement whose additions are wanted, with what a 403 message needs.
struct Active {
    id: i64,
    parent: Option<(i64, Option<String>)>,
}

pub async fn run(api: &Api, limit: usize, sink: &mut dyn RecordSink) -> Result<(), PsaError> {
    customers(api, limit, sink).await?;
    let active = agreements(api, limit, sink).await?;
    agreement_lines(api, &active, limit, sink).await?;
    products(api, limit, sink).await
}

async fn customers(api: &Api, limit: usize, sink: &mut dyn RecordSink) -> Result<(), PsaError> {
    let listing = Listing::new(
        "company/companies",
        Some("deletedFlag=false"),
        "id,identifier,name,status,deletedFlag",
    );
    let mut pages = start::<Company>(api, listing, Phase::Customers, limit, sink).await?;
    while let Some(page) = pages.next_page().await {
        let rows = page?
            .into_iter()
            .filter(|c| !c.deleted_flag)
            .map(Customer::from)
            .collect();
        sink.customers(rows).await?;
    }
    Ok(())
}

async fn agreements(
    api: &Api,
    limit: usize,
    sink: &mut dyn RecordSink,
) -> Result<Vec<Active>, PsaError> {
    let fields = "id,name,type,company,parentAgreement,billingCycle,agreementStatus,cancelledFlag,noEndingDateFlag,startDate,endDate";
    let listing = Listing::new("finance/agreements", None, fields);
    let mut pages = start::<CwAgreement>(api, listing, Phase::Agreements, limit, sink).await?;
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let mut active = Vec::new();
    while let Some(page) = pages.next_page().await {
        let page = page?;
        active.extend(page.iter().filter(|a| a.is_active(&today)).map(|a| Active {
            id: a.id,
            parent: a.parent_id().map(|p| {
                (
                    p,
                    a.parent_agreement
                        .as_ref()
                        .and_then(|r| r.type_name.clone()),
                )
            }),
        }));
        sink.agreements(page.into_iter().map(CwAgreement::into_record).collect())
            .await?;
    }
    Ok(active)
}

async fn products(api: &Api, limit: usize, sink: &mut dyn RecordSink) -> Result<(), PsaError> {
    let listing = Listing::new(
        "procurement/catalog",
        None,
        "id,identifier,description,price,inactiveFlag",
    );
    let mut pages = start::<CatalogItem>(api, listing, Phase::Products, limit, sink).await?;
    while let Some(page) = pages.next_page().await {
        sink.products(page?.into_iter().map(Product::from).collect())
            .await?;
    }
    Ok(())
}

/// Counts the listing, tells the sink, and plans the pages.
async fn start<'a, T: DeserializeOwned + Send + 'a>(
    api: &'a Api,
    listing: Listing,
    phase: Phase,
    limit: usize,
    sink: &mut dyn RecordSink,
) -> Result<Pages<'a, T>, PsaError> {
    let total = listing.count(api).await?;
    if let Some(n) = total {
        sink.expect(phase, n).await?;
    }
    Ok(Pages::new(api, listing, total, limit))
}

/// Additions of each active agreement, several agreements at a time, handed to the sink in
/// batches of about a page.
async fn agreement_lines(
    api: &Api,
    active: &[Active],
    limit: usize,
    sink: &mut dyn RecordSink,
) -> Result<(), PsaError> {
    let mut fetches = futures::stream::iter(active)
        .map(|a| additions_of(api, a))
        .buffered(limit.max(1));
    let mut batch: Vec<AgreementLine> = Vec::new();
    while let Some(lines) = fetches.next().await {
        batch.extend(lines?);
        if batch.len() >= PAGE_SIZE {
            sink.agreement_lines(std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        sink.agreement_lines(batch).await?;
    }
    Ok(())
}

// Limitation: one request per active agreement (ConnectWise has no bulk additions list), so
// 20k active agreements cost 20k requests; a `lastUpdated` filter for later runs is not built.
async fn additions_of(api: &Api, agreement: &Active) -> Result<Vec<AgreementLine>, PsaError> {
    let fields = "id,product,quantity,unitPrice,description,invoiceDescription,agreementStatus,cancelledDate,agreementId";
    let listing = Listing::new(
        &format!("finance/agreements/{}/additions", agreement.id),
        None,
        fields,
    );
    // One agreement rarely has a full page of additions, so its pages are read one at a time.
    let mut pages: Pages<'_, Addition> = Pages::new(api, listing, None, 1);
    let mut lines = Vec::new();
    while let Some(page) = pages.next_page().await {
        match page {
            Ok(rows) => lines.extend(rows.into_iter().map(|a| a.into_record(agreement.id))),
            // Deleted since the agreements were listed: nothing to retrieve.
            Err(PsaError::ResourceNotFound { .. }) => break,
            Err(PsaError::PermissionMissing { .. }) => return Err(additions_forbidden(agreement)),
            Err(e) => return Err(e),
        }
    }
    Ok(lines)
}

/// Names the agreement and its parent rather than a bare 403 (BR-13).
fn additions_forbidden(agreement: &Active) -> PsaError {
    let item = match &agreement.parent {
        Some((parent, type_name)) => parent_sentence(agreement.id, *parent, type_name.as_deref()),
        None => format!(
            "Finance > Agreements (the additions of agreement {} could not be read)",
            agreement.id
        ),
    };
    PsaError::PermissionMissing {
        item,
        fix: AGREEMENTS.fix(),
    }
}
