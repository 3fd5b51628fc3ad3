//! The calls waiting for an agent (`Store::enqueue_call` and friends) on both engines: one
//! line per campaign that every node computes alike.

use c2c_store::testing::engines;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_orders_by_priority_then_arrival_and_forgets_the_expired() {
    for e in engines().await {
        let s = &e.store;
        let now = 1_000;
        let put = |id: &'static str, node: &'static str, priority: i64, since: i64| {
            s.enqueue_call("sales", id, node, priority, since, now + 60)
        };
        put("c1", "n1", 0, 100).await.expect("c1");
        put("c2", "n2", 0, 200).await.expect("c2");
        put("vip", "n2", 5, 300).await.expect("vip");
        s.enqueue_call("support", "other", "n1", 9, 50, now + 60)
            .await
            .expect("another campaign");
        let at = |id| s.queue_position(id, now);
        assert_eq!(
            at("vip").await.expect("pos"),
            Some(1),
            "{}: priority first",
            e.name
        );
        assert_eq!(at("c1").await.expect("pos"), Some(2), "{}", e.name);
        assert_eq!(at("c2").await.expect("pos"), Some(3), "{}", e.name);
        assert_eq!(
            at("other").await.expect("pos"),
            Some(1),
            "{}: own line",
            e.name
        );
        assert_eq!(at("nope").await.expect("pos"), None, "{}", e.name);
        // A call put in again keeps its place.
        put("c1", "n1", 0, 999).await.expect("again");
        assert_eq!(at("c1").await.expect("pos"), Some(2), "{}", e.name);
        assert_eq!(s.queue_length("sales", now).await.expect("len"), 3);

        s.dequeue_call("vip").await.expect("dequeue");
        assert_eq!(at("c1").await.expect("pos"), Some(1), "{}", e.name);
        // Past its longest wait a row no longer counts.
        s.enqueue_call("sales", "stale", "n3", 9, 1, now - 1)
            .await
            .expect("stale");
        assert_eq!(
            at("c1").await.expect("pos"),
            Some(1),
            "{}: stale is ignored",
            e.name
        );
        assert_eq!(s.queue_length("sales", now).await.expect("len"), 2);

        assert_eq!(
            s.release_node_queue("n2").await.expect("release"),
            1,
            "{}",
            e.name
        );
        assert_eq!(at("c2").await.expect("pos"), None, "{}", e.name);
        assert_eq!(at("c1").await.expect("pos"), Some(1), "{}", e.name);
        e.finish().await;
    }
}
