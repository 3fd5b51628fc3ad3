//! A campaign's recent handle times (`Store::campaign_handle_stats`) on both engines.

use c2c_store::testing::engines;
use c2c_store::{HandleStats, NewCall, Store};

/// Records a call of `campaign` started at `start`, answered and ended when given.
async fn call(
    s: &Store,
    id: &str,
    campaign: &str,
    start: i64,
    answered: Option<i64>,
    ended: Option<i64>,
) {
    s.insert_call(&NewCall {
        id: id.into(),
        org: "o1".into(),
        campaign: campaign.into(),
        session_id: format!("ws_{id}"),
        number: "+4930999000".into(),
        destination: "+4930123456".into(),
        trunk: "main".into(),
        sip_call_id: String::new(),
        started_at: start,
        node: "n1".into(),
    })
    .await
    .expect("insert call");
    if let Some(at) = answered {
        s.call_answered(id, at).await.expect("answered");
    }
    if let Some(at) = ended {
        s.end_call(id, at, "hangup_remote", Some(200))
            .await
            .expect("end");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handle_stats_average_the_answered_calls_that_ended_since() {
    for e in engines().await {
        let s = &e.store;
        let since = 10_000;
        assert_eq!(
            s.campaign_handle_stats("sales", since)
                .await
                .expect("stats"),
            HandleStats {
                answered: 0,
                avg_handle_s: None
            },
            "{}: no calls yet",
            e.name
        );
        // Counted: answered, ended at or after `since` (even when started before).
        call(s, "a", "sales", 9_950, Some(9_960), Some(10_020)).await; // 60 s
        call(s, "b", "sales", 10_100, Some(10_110), Some(10_230)).await; // 120 s
        call(s, "c", "sales", 10_200, Some(10_200), Some(10_200)).await; // 0 s

        // Not counted: ended before `since`, never answered, still up, another campaign,
        // an end that reads before the answer.
        call(s, "d", "sales", 9_000, Some(9_010), Some(9_999)).await;
        call(s, "e", "sales", 10_300, None, Some(10_330)).await;
        call(s, "f", "sales", 10_400, Some(10_410), None).await;
        call(s, "g", "support", 10_100, Some(10_110), Some(11_110)).await;
        call(s, "h", "sales", 10_500, Some(10_600), Some(10_550)).await;
        let stats = s
            .campaign_handle_stats("sales", since)
            .await
            .expect("stats");
        assert_eq!(stats.answered, 3, "{}: {stats:?}", e.name);
        assert_eq!(stats.avg_handle_s, Some(60.0), "{}: {stats:?}", e.name);
        let support = s
            .campaign_handle_stats("support", since)
            .await
            .expect("stats");
        assert_eq!(support.answered, 1, "{}", e.name);
        assert_eq!(support.avg_handle_s, Some(1000.0), "{}", e.name);
        assert_eq!(
            s.campaign_handle_stats("sales", 20_000)
                .await
                .expect("stats")
                .answered,
            0,
            "{}: nothing ended since",
            e.name
        );
        e.finish().await;
    }
}
