//! The pages of retrieved data. Records are written straight into the database with a live
//! run, so these tests do not depend on the retrieval worker (its own tests cover that).

use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use sync365::store::connections::{self, Identity, TestResult};
use sync365::store::entity::{agreement, agreement_line, customer, product, psa_connection};
use sync365::store::{runs, users};

use crate::helpers::TestApp;
use crate::integrations::admin_of;

/// A saved connection of `tenant`, without a PSA behind it.
pub async fn seed_connection(app: &TestApp, tenant: &str, account: &str) -> psa_connection::Model {
    let db = &app.state.db;
    let tenant_id = users::find_or_insert_tenant(db, tenant).await.unwrap().id;
    let identity = Identity {
        psa_type: "connectwise",
        host: "na".into(),
        account: account.into(),
        public_key: Some("SeededPublicKey1".into()),
    };
    let test = TestResult {
        at: sync365::store::now(),
        ok: true,
        message: "seeded".into(),
        checklist: "[]".into(),
        detected: "v2025.1".into(),
        api_root: "https://example.invalid/".into(),
        threshold: None,
    };
    connections::insert_connection(db, tenant_id, &identity, &test)
        .await
        .unwrap()
}

/// Makes a run the connection's live one and returns the connection as stored.
async fn ensure_live(app: &TestApp, c: &psa_connection::Model) -> psa_connection::Model {
    let db = &app.state.db;
    let current = psa_connection::Entity::find_by_id(c.id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    if current.live_run_id.is_some() {
        return current;
    }
    let run = runs::queue_run(db, c.tenant_id, c.id).await.unwrap();
    let mut active: psa_connection::ActiveModel = current.into();
    active.live_run_id = Set(Some(run.id));
    active.update(db).await.unwrap()
}

fn record_customer(
    c: &psa_connection::Model,
    run_id: i64,
    ext: &str,
    name: &str,
) -> customer::ActiveModel {
    customer::ActiveModel {
        connection_id: Set(c.id),
        tenant_id: Set(c.tenant_id),
        run_id: Set(run_id),
        external_id: Set(ext.into()),
        removed: Set(false),
        name: Set(name.into()),
        identifier: Set(Some(format!("ID-{ext}"))),
        status: Set(Some("Active".into())),
        ..Default::default()
    }
}

/// A customer in the connection's live snapshot; returns its id.
pub async fn seed_customer(app: &TestApp, c: &psa_connection::Model, name: &str) -> i64 {
    let c = ensure_live(app, c).await;
    let run_id = c.live_run_id.unwrap();
    let ext = format!("c{}", uuid::Uuid::new_v4().simple());
    record_customer(&c, run_id, &ext, name)
        .insert(&app.state.db)
        .await
        .unwrap()
        .id
}

/// One agreement with two lines (one removed) and the product the first line names.
async fn seed_agreement(app: &TestApp, c: &psa_connection::Model, customer_id: i64) {
    let db = &app.state.db;
    let cust = customer::Entity::find_by_id(customer_id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let base = |ext: &str| (c.id, c.tenant_id, cust.run_id, ext.to_string());
    let (connection_id, tenant_id, run_id, _) = base("");
    agreement::ActiveModel {
        connection_id: Set(connection_id),
        tenant_id: Set(tenant_id),
        run_id: Set(run_id),
        external_id: Set("a1".into()),
        removed: Set(false),
        customer_external_id: Set(cust.external_id.clone()),
        name: Set("Managed <b>365</b>".into()),
        parent_external_id: Set(None),
        agreement_type: Set(Some("Microsoft 365".into())),
        billing_cycle: Set(Some("Monthly".into())),
        status: Set(Some("Active".into())),
        start_date: Set(Some("2026-01-01".into())),
        end_date: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    for (ext, desc, removed, product) in [
        ("l1", "Business Premium seats", false, Some("p1")),
        ("l2", "Old seats", true, None),
    ] {
        agreement_line::ActiveModel {
            connection_id: Set(connection_id),
            tenant_id: Set(tenant_id),
            run_id: Set(run_id),
            external_id: Set(ext.into()),
            removed: Set(removed),
            agreement_external_id: Set("a1".into()),
            product_external_id: Set(product.map(str::to_string)),
            description: Set(desc.into()),
            quantity: Set(25.0),
            unit_price: Set(Some(22.5)),
            status: Set(Some("Active".into())),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
    }
    seed_product(
        app,
        c,
        run_id,
        "p1",
        "M365-BP",
        "Microsoft 365 Business Premium",
    )
    .await;
}

async fn seed_product(
    app: &TestApp,
    c: &psa_connection::Model,
    run_id: i64,
    ext: &str,
    ident: &str,
    desc: &str,
) {
    product::ActiveModel {
        connection_id: Set(c.id),
        tenant_id: Set(c.tenant_id),
        run_id: Set(run_id),
        external_id: Set(ext.into()),
        removed: Set(false),
        identifier: Set(Some(ident.into())),
        description: Set(desc.into()),
        price: Set(Some(22.5)),
        active: Set(true),
        ..Default::default()
    }
    .insert(&app.state.db)
    .await
    .unwrap();
}

#[tokio::test]
async fn customer_names_with_markup_are_shown_escaped() {
    let app = TestApp::signed_in_admin().await;
    let c = seed_connection(&app, "Contoso IT", "contoso").await;
    seed_customer(&app, &c, "<script>alert(1)</script>").await;
    seed_customer(&app, &c, "Ænima & <Sons>").await;
    let p = app.get("/customers").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(!p.body.contains("<script>alert(1)"));
    assert!(!p.body.contains("<Sons>"));
    assert!(p.body.contains("&lt;script&gt;") || p.body.contains("&#60;script&#62;"));
    let names: Vec<String> = p
        .html
        .select(&scraper::Selector::parse("#customers td a").unwrap())
        .map(|e| e.text().collect())
        .collect();
    assert!(names.contains(&"Ænima & <Sons>".to_string()), "{names:?}");
    assert!(names.contains(&"<script>alert(1)</script>".to_string()));
}

#[tokio::test]
async fn only_the_live_snapshot_of_the_tenants_own_connections_is_listed() {
    let app = TestApp::signed_in_admin().await;
    let c = seed_connection(&app, "Contoso IT", "contoso").await;
    seed_customer(&app, &c, "Live Customer").await;
    let stale_run = runs::queue_run(&app.state.db, c.tenant_id, c.id)
        .await
        .unwrap();
    record_customer(&c, stale_run.id + 1000, "stale", "Staging Customer")
        .insert(&app.state.db)
        .await
        .unwrap();
    let other = seed_connection(&app, "Fabrikam", "fabrikam").await;
    let theirs = seed_customer(&app, &other, "Fabrikam Customer").await;
    let p = app.get("/customers").await;
    assert!(p.text("#customers").contains("Live Customer"));
    assert!(!p.body.contains("Staging Customer"));
    assert!(!p.body.contains("Fabrikam Customer"));
    let resp = app.get_raw(&format!("/customers/{theirs}")).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn customers_can_be_searched_by_name_and_paged() {
    let app = TestApp::signed_in_admin().await;
    let c = seed_connection(&app, "Contoso IT", "contoso").await;
    for i in 0..55 {
        seed_customer(&app, &c, &format!("Customer {i:02}")).await;
    }
    seed_customer(&app, &c, "Northwind 100% Traders").await;
    let first = app.get("/customers").await;
    assert_eq!(
        first
            .html
            .select(&scraper::Selector::parse("tr.customer").unwrap())
            .count(),
        50
    );
    assert!(first.has("#next-page") && !first.has("#prev-page"));
    let second = app.get("/customers?page=2").await;
    assert_eq!(
        second
            .html
            .select(&scraper::Selector::parse("tr.customer").unwrap())
            .count(),
        6
    );
    let found = app.get("/customers?q=northwind%20100%25").await;
    assert_eq!(
        found.text("#customers tbody"),
        found.text("#customers tr.customer")
    );
    assert!(found.text("#customers").contains("Northwind 100% Traders"));
    let none = app.get("/customers?q=%25%25zz").await;
    assert!(none.has("#no-customers"));
}

#[tokio::test]
async fn a_customer_page_shows_its_agreements_and_lines_with_removed_ones_marked() {
    let app = TestApp::signed_in_admin().await;
    let c = seed_connection(&app, "Contoso IT", "contoso").await;
    let id = seed_customer(&app, &c, "Adatum").await;
    seed_agreement(&app, &c, id).await;
    let p = app.get(&format!("/customers/{id}")).await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(p.text("#customer-name"), "Adatum");
    assert_eq!(p.text(".agreement-name"), "Managed <b>365</b>");
    assert!(!p.body.contains("<b>365</b>"));
    let first = p.text("tr.line");
    assert!(first.contains("M365-BP") && first.contains("25") && first.contains("22.50"));
    assert!(p.text("tr.line.removed").contains("Old seats"));
}

#[tokio::test]
async fn the_products_page_lists_the_live_catalog() {
    let app = TestApp::signed_in_admin().await;
    let c = seed_connection(&app, "Contoso IT", "contoso").await;
    let c = ensure_live(&app, &c).await;
    let run = c.live_run_id.unwrap();
    seed_product(
        &app,
        &c,
        run,
        "p1",
        "M365-BP",
        "Microsoft 365 Business Premium",
    )
    .await;
    seed_product(&app, &c, run, "p2", "EXO-P1", "Exchange Online <Plan 1>").await;
    let p = app.get("/products").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.text("#products").contains("Exchange Online <Plan 1>"));
    assert!(!p.body.contains("<Plan 1>"));
    let found = app.get("/products?q=m365").await;
    assert!(found.text("#products").contains("Business Premium"));
    assert!(!found.text("#products").contains("Exchange"));
}

#[tokio::test]
async fn members_may_read_the_data_pages_and_the_nav_links_them() {
    let app = TestApp::spawn().await;
    admin_of(&app, "Contoso IT", "admin@contoso.test").await;
    let member = app.another_browser();
    member
        .create_user(
            Some("Contoso IT"),
            "m@contoso.test",
            crate::helpers::ADMIN_PASSWORD,
            "member",
            false,
        )
        .await;
    member
        .sign_in("m@contoso.test", crate::helpers::ADMIN_PASSWORD)
        .await;
    let p = member.get("/customers").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.has("nav a[href='/customers']") && p.has("nav a[href='/products']"));
    assert_eq!(member.get("/products").await.status, StatusCode::OK);
}
