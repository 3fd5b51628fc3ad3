//! The spool against a real SQLite store: what goes in comes out, in order, after a restart,
//! and nothing is lost while the database is away.

use c2c_store::{CallWrite, NewCall, Store};

use super::*;

fn new_call(id: &str) -> CallWrite {
    CallWrite::Insert(Box::new(NewCall {
        id: id.to_owned(),
        org: "o1".into(),
        campaign: "sales".into(),
        session_id: "ws_1".into(),
        number: "+15550100000".into(),
        destination: "+4930123456".into(),
        trunk: "main".into(),
        sip_call_id: String::new(),
        started_at: 1_000,
        node: "node_a".into(),
    }))
}

fn event(detail: &str) -> CallWrite {
    CallWrite::Event {
        at_ms: 1_000_500,
        kind: "state".into(),
        peer: String::new(),
        detail: detail.to_owned(),
    }
}

fn end() -> CallWrite {
    CallWrite::End {
        at: 1_060,
        disposition: "hangup_remote".into(),
        sip_status: None,
    }
}

async fn store_in(dir: &Path) -> Store {
    Store::open_sqlite_in(dir).await.expect("store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spooled_writes_survive_a_restart_and_arrive_in_order() {
    let dir = tempfile::tempdir().expect("dir");
    let spool = Spool::open(dir.path()).expect("spool");
    assert!(!spool
        .append_if_pending("c1", &[event("x")])
        .await
        .expect("append"));
    assert!(
        !spool.is_pending().await,
        "an empty spool takes nothing it was not given"
    );
    spool
        .append("c1", &[new_call("c1"), event("answered")])
        .await
        .expect("append");
    // Once anything waits, later writes queue behind it.
    assert!(spool
        .append_if_pending("c1", &[end()])
        .await
        .expect("append"));
    drop(spool);

    // The node restarts: the spool is still there, and goes in when the database answers.
    let spool = Spool::open(dir.path()).expect("spool again");
    assert!(spool.is_pending().await);
    assert_eq!(
        spool.calls().await.expect("calls"),
        HashSet::from(["c1".to_owned()])
    );
    let store = store_in(dir.path()).await;
    assert!(spool.replay(&store).await.expect("replay"));
    let call = store
        .call("o1", "c1")
        .await
        .expect("get")
        .expect("the record");
    assert_eq!(call.disposition.as_deref(), Some("hangup_remote"));
    assert_eq!(call.ended_at, Some(1_060));
    let events = store.call_events("c1").await.expect("events");
    assert!(events.iter().any(|e| e.detail == "answered"), "{events:?}");
    assert!(!spool.is_pending().await);
    assert_eq!(
        std::fs::metadata(dir.path().join(FILE))
            .expect("file")
            .len(),
        0
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_still_away_keeps_the_spool_and_a_cut_line_is_skipped() {
    let dir = tempfile::tempdir().expect("dir");
    let spool = Spool::open(dir.path()).expect("spool");
    spool.append("c1", &[new_call("c1")]).await.expect("append");
    // A crash in the middle of an append leaves a line cut short.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join(FILE))
        .expect("open");
    file.write_all(b"{\"call\":\"c2\",\"wri").expect("cut line");
    file.write_all(b"\n").expect("newline");
    spool.append("c1", &[end()]).await.expect("append");

    let away = store_in(dir.path()).await;
    away.close().await;
    assert!(
        !spool.replay(&away).await.expect("replay"),
        "nothing can go in"
    );
    assert!(spool.is_pending().await, "and nothing is lost");

    let store = store_in(dir.path()).await;
    assert!(spool.replay(&store).await.expect("replay"));
    let call = store
        .call("o1", "c1")
        .await
        .expect("get")
        .expect("the record");
    assert_eq!(call.disposition.as_deref(), Some("hangup_remote"));
    assert!(!spool.is_pending().await);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_cut_short_by_a_crash_resumes_where_it_was() {
    let dir = tempfile::tempdir().expect("dir");
    let spool = Spool::open(dir.path()).expect("spool");
    spool.append("c1", &[new_call("c1")]).await.expect("append");
    spool.append("c1", &[event("once")]).await.expect("append");
    let first_len = {
        let text = std::fs::read_to_string(dir.path().join(FILE)).expect("read");
        text.find('\n').expect("a line") as u64 + 1
    };
    // As if a replay applied the first entry and the node died before the second.
    let store = store_in(dir.path()).await;
    store
        .apply_call_writes("c1", &[new_call("c1")])
        .await
        .expect("first entry");
    std::fs::write(dir.path().join(DONE_FILE), first_len.to_string()).expect("done");
    let spool = Spool::open(dir.path()).expect("spool again");
    assert!(spool.replay(&store).await.expect("replay"));
    let events = store.call_events("c1").await.expect("events");
    assert_eq!(
        events.iter().filter(|e| e.detail == "once").count(),
        1,
        "{events:?}"
    );
    assert!(!dir.path().join(DONE_FILE).exists());
    store.close().await;
}
