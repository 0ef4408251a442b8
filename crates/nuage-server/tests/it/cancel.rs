//! A client that goes away while its put waits for the fsync must not stall
//! anyone else: the next put on the same shard is acknowledged promptly.

use std::time::Duration;

use serde_json::json;

use crate::{TestServer, call, kinesis};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_dropped_during_its_fsync_does_not_stall_the_shard() {
    let server = TestServer::start().await;
    let mut h2 = server.h2().await;
    let (status, _) = call(
        &mut h2,
        kinesis("CreateStream", json!({"StreamName": "s", "ShardCount": 1})),
    )
    .await;
    assert_eq!(status, 200);
    let put = || {
        kinesis(
            "PutRecord",
            json!({"StreamName": "s", "PartitionKey": "k", "Data": "aGVsbG8="}),
        )
    };
    // Requests cancelled after 0-2 ms (an HTTP/2 reset, as when a client
    // times out): some land while their put leads an fsync.
    for round in 0..300u64 {
        let mut sender = h2.clone();
        let cancel_after = Duration::from_micros((round * 7919) % 2000);
        let _ = tokio::time::timeout(cancel_after, async move {
            sender.ready().await.unwrap();
            sender.send_request(put()).await
        })
        .await;
        let (status, reply) = tokio::time::timeout(Duration::from_secs(10), call(&mut h2, put()))
            .await
            .unwrap_or_else(|_| {
                panic!("round {round}: a put after a cancelled one got no answer in 10 s")
            });
        assert_eq!(status, 200, "round {round}: {reply}");
        assert_eq!(reply["ShardId"], "shardId-000000000000");
    }
}
