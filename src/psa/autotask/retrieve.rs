//! Retrieval: companies, contracts, contract services with their current units, services and
//! products, streamed page by page into the sink, phase after phase.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::api::Api;
use super::model::{self, Labels};
use super::query::{Pager, body, cond, count, every};
use crate::psa::records::Phase;
use crate::psa::{AgreementLine, PsaError, RecordSink};

/// Runs every phase. The budget is read first, which also proves the credentials still work.
// Limitation: a run stopped by the budget reserve keeps no cursor; the next run starts again
// from the first page (Autotask's cursors are not meant to be kept for an hour).
// Limitation: ContractServiceBundles and their units are not retrieved; bundles have no
// record shape in `RecordSink` yet.
pub async fn run(
    api: Arc<Api>,
    sink: &mut dyn RecordSink,
    today: NaiveDate,
) -> Result<(), PsaError> {
    api.budget.record(api.threshold().await?)?;
    let labels = Labels::fetch(&api).await?;
    expect_totals(&api, sink, &labels).await?;
    let customers = customers(&api, sink, &labels).await?;
    let contracts = agreements(&api, sink, &labels, &customers).await?;
    drop(customers);
    agreement_lines(&api, sink, &contracts, today).await?;
    catalog(&api, sink).await
}

/// Only active companies of the Customer type: they are who the MSP bills. Leads, prospects,
/// vendors and cancelled or inactive companies never carry licences to map.
fn customer_filter(labels: &Labels) -> Vec<Value> {
    vec![
        cond("eq", "isActive", json!(true)),
        cond("in", "companyType", json!(labels.customer_types)),
    ]
}

// Limitation: totals for contracts and contract services can exceed what is delivered, because
// filtering them to customers needs ids that only the later phases have.
/// Counts first, for progress bars. The counts of contracts and contract services include
/// those of non-customers, which are skipped later: the totals are upper bounds.
async fn expect_totals(
    api: &Api,
    sink: &mut dyn RecordSink,
    labels: &Labels,
) -> Result<(), PsaError> {
    let (companies, contracts, lines, services, products) = futures::try_join!(
        count(api, "Companies", customer_filter(labels)),
        count(api, "Contracts", vec![every()]),
        count(api, "ContractServices", vec![every()]),
        count(api, "Services", vec![every()]),
        count(api, "Products", vec![every()]),
    )?;
    sink.expect(Phase::Customers, companies).await?;
    sink.expect(Phase::Agreements, contracts).await?;
    sink.expect(Phase::AgreementLines, lines).await?;
    sink.expect(Phase::Products, services + products).await
}

/// Streams the customers and keeps their ids (a few bytes each) to keep later phases to them.
async fn customers(
    api: &Arc<Api>,
    sink: &mut dyn RecordSink,
    labels: &Labels,
) -> Result<HashSet<i64>, PsaError> {
    let query = body(customer_filter(labels), model::COMPANY_FIELDS);
    let mut pager = Pager::<model::CompanyRow>::new(api.clone(), "Companies", query);
    let mut ids = HashSet::new();
    while let Some(page) = pager.next_page().await? {
        ids.extend(page.iter().map(|c| c.id));
        sink.customers(page.into_iter().map(|row| labels.customer(row)).collect())
            .await?;
    }
    Ok(ids)
}

/// All contracts (every status, so the portal can show ended ones) of the retrieved customers.
async fn agreements(
    api: &Arc<Api>,
    sink: &mut dyn RecordSink,
    labels: &Labels,
    customers: &HashSet<i64>,
) -> Result<HashSet<i64>, PsaError> {
    let query = body(vec![every()], model::CONTRACT_FIELDS);
    let mut pager = Pager::<model::ContractRow>::new(api.clone(), "Contracts", query);
    let mut ids = HashSet::new();
    while let Some(page) = pager.next_page().await? {
        let page: Vec<_> = page
            .into_iter()
            .filter(|c| customers.contains(&c.companyid))
            .collect();
        ids.extend(page.iter().map(|c| c.id));
        sink.agreements(page.into_iter().map(|row| labels.agreement(row)).collect())
            .await?;
    }
    Ok(ids)
}

/// Contract services page by page; each page's current units are fetched by a separate task
/// while the next page is read, at most `lanes` at a time (the units endpoint's thread limit
/// is enforced by its lane; this bound keeps memory to a few pages).
async fn agreement_lines(
    api: &Arc<Api>,
    sink: &mut dyn RecordSink,
    contracts: &HashSet<i64>,
    today: NaiveDate,
) -> Result<(), PsaError> {
    let query = body(vec![every()], model::SERVICE_LINE_FIELDS);
    let mut pager = Pager::<model::ContractServiceRow>::new(api.clone(), "ContractServices", query);
    let mut pending: JoinSet<Result<Vec<AgreementLine>, PsaError>> = JoinSet::new();
    while let Some(page) = pager.next_page().await? {
        let page: Vec<_> = page
            .into_iter()
            .filter(|s| contracts.contains(&s.contractid))
            .collect();
        if page.is_empty() {
            continue;
        }
        if pending.len() >= api.concurrency() {
            deliver(&mut pending, sink).await?;
        }
        pending.spawn(with_current_units(api.clone(), page, today));
    }
    while !pending.is_empty() {
        deliver(&mut pending, sink).await?;
    }
    Ok(())
}

/// Hands one finished page of lines to the sink. Returning early drops the `JoinSet`, which
/// aborts the remaining tasks.
async fn deliver(
    pending: &mut JoinSet<Result<Vec<AgreementLine>, PsaError>>,
    sink: &mut dyn RecordSink,
) -> Result<(), PsaError> {
    let Some(joined) = pending.join_next().await else {
        return Ok(());
    };
    let lines = joined.map_err(|e| PsaError::Upstream {
        host: "(local)".into(),
        detail: e.to_string(),
    })??;
    sink.agreement_lines(lines).await
}

// Limitation: "today" is the UTC date; a line with no unit row covering it (an ended contract,
// or data with one period per service) gets quantity 0 rather than its last known count.
/// The page's lines with the units of the period covering `today`. Several unit rows can
/// cover it (adjustments within a period); the one starting last is the current count.
async fn with_current_units(
    api: Arc<Api>,
    services: Vec<model::ContractServiceRow>,
    today: NaiveDate,
) -> Result<Vec<AgreementLine>, PsaError> {
    let ids: Vec<i64> = services.iter().map(|s| s.id).collect();
    let midnight = format!("{today}T00:00:00Z");
    let filter = vec![
        cond("in", "contractServiceID", json!(ids)),
        cond("lte", "startDate", json!(midnight)),
        cond("gte", "endDate", json!(midnight)),
    ];
    let mut pager = Pager::<model::UnitRow>::new(
        api,
        "ContractServiceUnits",
        body(filter, model::UNIT_FIELDS),
    );
    let mut current: HashMap<i64, (String, f64)> = HashMap::new();
    while let Some(page) = pager.next_page().await? {
        for unit in page {
            keep_latest(&mut current, unit);
        }
    }
    Ok(services
        .into_iter()
        .map(|s| {
            let units = current.get(&s.id).map(|c| c.1);
            model::line(s, units)
        })
        .collect())
}

fn keep_latest(current: &mut HashMap<i64, (String, f64)>, unit: model::UnitRow) {
    let start = unit.startdate.unwrap_or_default();
    let units = unit.units.unwrap_or(0.0);
    let entry = current
        .entry(unit.contractserviceid)
        .or_insert_with(|| (start.clone(), units));
    if start > entry.0 {
        *entry = (start, units);
    }
}

/// Services and products both land in the catalog: products are read by a separate task
/// while services are written, one page handed over at a time.
async fn catalog(api: &Arc<Api>, sink: &mut dyn RecordSink) -> Result<(), PsaError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let mut products = JoinSet::new();
    let mut pager = Pager::<model::ProductRow>::new(
        api.clone(),
        "Products",
        body(vec![every()], model::PRODUCT_FIELDS),
    );
    products.spawn(async move {
        while let Some(page) = pager.next_page().await? {
            if tx.send(page).await.is_err() {
                break;
            }
        }
        Ok::<(), PsaError>(())
    });
    let mut services = Pager::<model::ServiceRow>::new(
        api.clone(),
        "Services",
        body(vec![every()], model::SERVICE_FIELDS),
    );
    while let Some(page) = services.next_page().await? {
        sink.products(page.into_iter().map(model::service).collect())
            .await?;
    }
    while let Some(page) = rx.recv().await {
        sink.products(page.into_iter().map(model::product).collect())
            .await?;
    }
    match products.join_next().await {
        Some(joined) => joined.map_err(|e| PsaError::Upstream {
            host: "(local)".into(),
            detail: e.to_string(),
        })?,
        None => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_row_starting_last_is_the_current_count() {
        let mut current = HashMap::new();
        let row = |start: &str, units: f64| model::UnitRow {
            contractserviceid: 1,
            startdate: Some(start.into()),
            units: Some(units),
        };
        keep_latest(&mut current, row("2024-04-15T00:00:00Z", 12.0));
        keep_latest(&mut current, row("2024-04-01T00:00:00Z", 10.0));
        assert_eq!(current[&1].1, 12.0);
        keep_latest(&mut current, row("2024-04-20T00:00:00Z", 11.0));
        assert_eq!(current[&1].1, 11.0);
    }
}
