//! Bulk imports: the 50 m rule decided for whole batches, across batch
//! borders, against existing machines and against registrations racing them.

use super::*;

/// Counts the pairs of machines closer than 50 m (haversine, like the service).
fn pairs_within_50_m(machines: &[(f64, f64)]) -> usize {
    let km = |a: (f64, f64), b: (f64, f64)| {
        let (la1, la2) = (a.1.to_radians(), b.1.to_radians());
        let (dla, dlo) = ((b.1 - a.1).to_radians(), (b.0 - a.0).to_radians());
        let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
        2.0 * 6371.0 * h.sqrt().asin()
    };
    let mut close = 0;
    for (i, a) in machines.iter().enumerate() {
        for b in &machines[i + 1..] {
            if km(*a, *b) <= 0.05 {
                close += 1;
            }
        }
    }
    close
}

on_both_backends!(
    a_bulk_import_keeps_the_50_m_rule_across_batches,
    a_bulk_import_keeps_the_50_m_rule_across_batches_on_mongodb,
    a_bulk_import_keeps_the_50_m_rule_across_batches_on
);

async fn a_bulk_import_keeps_the_50_m_rule_across_batches_on(api: &Api) {
    let admin = format!("Bearer {}", admin_token());
    let admin = [("Authorization", admin.as_str())];
    let (_, _, token) = api.identity().await;
    // An existing machine the import meets.
    let existing = api
        .post(
            "/api/v1/cvms",
            &[("x-ident", &token)],
            json!({"longitude": 8.0, "latitude": 49.0}),
        )
        .await;
    assert_eq!(existing.0, 201, "{}", existing.1);
    // A grid ~200 m apart (no two within 50 m), 1,897 points, plus: one entry
    // 10 m from the existing machine, and two entries 10 m apart that land in
    // different batches (positions 5 and 1,500 of the list).
    let mut entries: Vec<Value> = (0..1_897)
        .map(|i| {
            let (col, row) = (i % 44, i / 44);
            json!({"longitude": 8.01 + f64::from(col) * 0.003, "latitude": 49.01 + f64::from(row) * 0.002})
        })
        .collect();
    entries.insert(5, json!({"longitude": 9.0, "latitude": 50.0, "score": 3}));
    entries.insert(1_500, json!({"longitude": 9.0001, "latitude": 50.00003, "score": 4}));
    entries.push(json!({"longitude": 8.0001, "latitude": 49.00005, "score": 7}));
    assert_eq!(entries.len(), 1_900);
    let imported = api
        .post("/api/v1/kmc/cvms/import/manual", &admin, json!({"cvms": entries}))
        .await;
    assert_eq!(imported.0, 201, "{}", imported.1);
    // A registration racing the import near one of its grid points.
    let racing = api
        .post(
            "/api/v1/cvms",
            &[("x-ident", &token)],
            json!({"longitude": 8.0101, "latitude": 49.0101}),
        )
        .await;
    assert!([201, 429].contains(&racing.0.as_u16()), "{}", racing.1);

    // 1 existing + 1,897 grid + 1 pair = 1,899 machines, whatever the race did.
    let expected = 1 + 1_897 + 1;
    let page = eventually(Duration::from_secs(60), || async {
        let page = api.get("/api/v1/kmc/cvms?perPage=1", &admin).await.1;
        (page["info"]["totalElements"] == expected).then_some(page)
    })
    .await;
    assert_eq!(page["info"]["totalElements"], expected);
    let mut positions = Vec::new();
    for page in 0..(expected as usize).div_ceil(50) {
        let body = api.get(&format!("/api/v1/cvms?perPage=50&page={page}"), &[]).await.1;
        for m in body["content"].as_array().unwrap() {
            positions.push((m["longitude"].as_f64().unwrap(), m["latitude"].as_f64().unwrap()));
        }
    }
    assert_eq!(positions.len(), expected as usize);
    assert_eq!(pairs_within_50_m(&positions), 0);
    // The existing machine was synchronized (moved and rescored), not duplicated;
    // the pair's second entry synchronized the first.
    let near_existing = api
        .get("/api/v1/cvms?filter=bbox=='7.99,48.99,8.001,49.001'", &[])
        .await
        .1;
    assert_eq!(near_existing["info"]["totalElements"], 1, "{near_existing}");
    assert_eq!(near_existing["content"][0]["score"], 7);
    assert_eq!(near_existing["content"][0]["imported"], false);
    let pair = api
        .get("/api/v1/cvms?filter=bbox=='8.99,49.99,9.01,50.01'", &[])
        .await
        .1;
    assert_eq!(pair["info"]["totalElements"], 1, "{pair}");
    assert_eq!(pair["content"][0]["score"], 4);
    assert_eq!(pair["content"][0]["longitude"], 9.0001);
}
