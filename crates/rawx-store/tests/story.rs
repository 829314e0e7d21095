//! One story, told to every backend: what a controller asks of its store, in the order it asks.
//! SQLite always runs; PostgreSQL runs against a fresh database on the server named by
//! `RAWX_TEST_PG` (default `postgres://postgres@127.0.0.1:5432`; `rawx_testkit::PgDb`, dropped
//! afterwards), and fails loudly when that server cannot be reached unless `RAWX_SKIP_PG=1`
//! says to skip it.

use rawx_model::filter::{parse_list_query, Filter};
use rawx_model::resources::{
    CREDENTIALS, CREDENTIAL_TYPES, GROUPS, GROUP_HOSTS, HOSTS, INVENTORIES, ORGANIZATIONS,
};
use rawx_model::schema::ColumnType;
use rawx_model::validate::{validate, Mode};
use rawx_model::Row;
use rawx_store::{DbError, DynStore};
use serde_json::{json, Value};

fn row(res: &'static rawx_model::Resource, v: Value) -> Row {
    validate(res, &v, Mode::Create).expect("valid input")
}

fn params(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

async fn story(store: DynStore) {
    store.migrate().await.unwrap();
    store.migrate().await.expect("migrating twice is a no-op");

    let ops = store
        .insert(&ORGANIZATIONS, &row(&ORGANIZATIONS, json!({"name": "Ops"})))
        .await
        .unwrap();
    let dev = store
        .insert(&ORGANIZATIONS, &row(&ORGANIZATIONS, json!({"name": "Dev"})))
        .await
        .unwrap();
    match store
        .insert(&ORGANIZATIONS, &row(&ORGANIZATIONS, json!({"name": "Ops"})))
        .await
    {
        Err(DbError::Unique(cols)) => assert_eq!(cols, vec!["name"]),
        other => panic!("duplicate name must be refused, got {other:?}"),
    }
    let lab = store
        .insert(
            &INVENTORIES,
            &row(&INVENTORIES, json!({"name": "Lab", "organization": ops})),
        )
        .await
        .unwrap();
    store
        .insert(
            &INVENTORIES,
            &row(&INVENTORIES, json!({"name": "Lab", "organization": dev})),
        )
        .await
        .expect("same name in another organization");
    match store
        .insert(
            &INVENTORIES,
            &row(&INVENTORIES, json!({"name": "X", "organization": 999})),
        )
        .await
    {
        Err(DbError::ForeignKey(_)) => {}
        other => panic!("unknown organization must be refused, got {other:?}"),
    }

    let hosts: Vec<Row> = (0..60)
        .map(|i| {
            row(
                &HOSTS,
                json!({"name": format!("web{i:02}"), "inventory": lab, "variables": "a: 1"}),
            )
        })
        .collect();
    let ids = store.insert_many(&HOSTS, &hosts).await.unwrap();
    assert_eq!(ids.len(), hosts.len());
    for (i, id) in ids.iter().enumerate() {
        let got = store.get(&HOSTS, *id).await.unwrap();
        assert_eq!(
            got["name"], hosts[i]["name"],
            "insert_many's ids follow the rows"
        );
        assert!(got["created"].is_string() && got["modified"].is_string());
    }
    let names = store
        .project(
            &HOSTS,
            &Filter::eq("inventory", ColumnType::Int, json!(lab)),
            &["name", "id"],
            &[("name", true)],
        )
        .await
        .unwrap();
    assert_eq!(names.len(), 60);
    assert_eq!(names[0].len(), 2, "only the asked columns: {:?}", names[0]);
    assert_eq!(names[0]["name"], json!("web59"));
    assert!(names[0]["id"].is_i64());
    let mut bad = hosts[..2].to_vec();
    bad[1] = row(&HOSTS, json!({"name": "web00", "inventory": lab}));
    bad[0] = row(&HOSTS, json!({"name": "fresh", "inventory": lab}));
    assert!(store.insert_many(&HOSTS, &bad).await.is_err());
    let all = store
        .list_all(&HOSTS, &Filter::All(vec![]), &[("name", true)])
        .await
        .unwrap();
    assert_eq!(all.len(), 60, "list_all reads past one page");
    assert_eq!(all[0]["name"], json!("web59"));
    let fresh = parse_list_query(&HOSTS, &params("name=fresh")).unwrap();
    assert_eq!(
        store.count(&HOSTS, &fresh.filter).await.unwrap(),
        0,
        "a failed batch writes nothing"
    );

    let q = parse_list_query(&HOSTS, &params("inventory__organization__name=Ops&name__icontains=WEB1&order_by=-name&page_size=4&page=2")).unwrap();
    let page = store.list(&HOSTS, &q).await.unwrap();
    assert_eq!(page.count, 10);
    let names: Vec<&str> = page
        .rows
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["web15", "web14", "web13", "web12"]);
    assert_eq!(page.rows[0]["enabled"], json!(true));
    assert_eq!(page.rows[0]["variables"], json!("a: 1"));
    assert!(page.rows[0]["created"].as_str().unwrap().ends_with('Z'));

    for (query, n) in [
        ("name__startswith=web0", 10),
        ("name__endswith=9", 6),
        ("name__contains=eb5", 10),
        ("name__in=web01,web02,nope", 2),
        ("name__regex=^web[0-1]5$", 2),
        ("name__iregex=^WEB5", 10),
        ("id__gt=0&not__name__startswith=web", 0),
        ("last_job__isnull=true", 60),
        ("enabled=false", 0),
        ("search=web33", 1),
        ("or__name=web01&or__name=web02", 2),
    ] {
        let q = parse_list_query(&HOSTS, &params(query)).unwrap();
        assert_eq!(store.count(&HOSTS, &q.filter).await.unwrap(), n, "{query}");
    }

    let web1 = store
        .find(
            &HOSTS,
            &Filter::eq("name", ColumnType::Text, json!("web01")),
        )
        .await
        .unwrap()
        .unwrap();
    let web1_id = web1["id"].as_i64().unwrap();
    let mut change = Row::new();
    change.insert("enabled".into(), json!(false));
    store.update(&HOSTS, web1_id, &change).await.unwrap();
    let got = store.get(&HOSTS, web1_id).await.unwrap();
    assert_eq!(got["enabled"], json!(false));
    assert_eq!(got["name"], json!("web01"));
    assert!(matches!(
        store.update(&HOSTS, 99999, &change).await,
        Err(DbError::NotFound)
    ));

    let g = store
        .insert(
            &GROUPS,
            &row(&GROUPS, json!({"name": "web", "inventory": lab})),
        )
        .await
        .unwrap();
    store.link(&GROUP_HOSTS, g, web1_id).await.unwrap();
    store
        .link(&GROUP_HOSTS, g, web1_id)
        .await
        .expect("linking twice is fine");
    assert_eq!(
        store.linked(&GROUP_HOSTS, true, g).await.unwrap(),
        vec![web1_id]
    );
    let q = parse_list_query(&HOSTS, &params("groups__name=web")).unwrap();
    assert_eq!(store.count(&HOSTS, &q.filter).await.unwrap(), 1);
    store.unlink(&GROUP_HOSTS, g, web1_id).await.unwrap();
    assert!(store
        .linked(&GROUP_HOSTS, false, web1_id)
        .await
        .unwrap()
        .is_empty());

    // A credential type in use cannot go; deleting an inventory takes its hosts with it.
    let ct = store
        .insert(
            &CREDENTIAL_TYPES,
            &row(&CREDENTIAL_TYPES, json!({"name": "T", "kind": "cloud"})),
        )
        .await
        .unwrap();
    store
        .insert(
            &CREDENTIALS,
            &row(
                &CREDENTIALS,
                json!({"name": "c", "credential_type": ct, "organization": ops}),
            ),
        )
        .await
        .unwrap();
    let r = store.delete(&CREDENTIAL_TYPES, ct).await;
    assert!(matches!(r, Err(DbError::ForeignKey(_))), "{r:?}");
    store.link(&GROUP_HOSTS, g, web1_id).await.unwrap();
    store.delete(&INVENTORIES, lab).await.unwrap();
    assert_eq!(store.count(&HOSTS, &Filter::All(vec![])).await.unwrap(), 0);
    assert!(matches!(
        store.get(&GROUPS, g).await,
        Err(DbError::NotFound)
    ));
    assert!(matches!(
        store.delete(&INVENTORIES, lab).await,
        Err(DbError::NotFound)
    ));
    store.ping().await.unwrap();
}

#[tokio::test]
async fn sqlite_story() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("rawx.db").display());
    story(rawx_store::open(&url).await.unwrap()).await;
}

/// Against a fresh database on the test server (`RAWX_TEST_PG`), dropped afterwards.
#[tokio::test]
async fn postgres_story() {
    let Some(db) = rawx_testkit::PgDb::create("story") else {
        return;
    };
    story(rawx_store::open(&db.url).await.unwrap()).await;
}
