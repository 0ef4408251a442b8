//! The windows of TUMBLE, HOP and CUMULATE, with the examples of Flink's
//! "Windowing TVF" documentation (bidtime 2020-04-15 08:05 ... 08:17).

use nuage_flow::window::{WindowKind, rewrite};

const MIN: i64 = 60_000_000_000;

fn windows(sql: &str, at_minute: i64) -> Vec<(i64, i64)> {
    let window = rewrite(sql, "w").unwrap().window.unwrap();
    let mut out = Vec::new();
    window.windows_of(at_minute * MIN, |s, e| out.push((s / MIN, e / MIN)));
    out
}

#[test]
fn tumble_hop_and_cumulate_give_flinks_windows() {
    // 08:05 is minute 485 of the day.
    let tumble =
        "SELECT * FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(bidtime), INTERVAL '10' MINUTES))";
    assert_eq!(windows(tumble, 485), [(480, 490)]);
    assert_eq!(windows(tumble, 490), [(490, 500)]);
    // HOP(slide 5, size 10): 08:05 is in [08:00, 08:10) and [08:05, 08:15).
    let hop = "SELECT * FROM TABLE(HOP(TABLE bid, DESCRIPTOR(bidtime), INTERVAL '5' MINUTES, INTERVAL '10' MINUTES))";
    assert_eq!(windows(hop, 485), [(480, 490), (485, 495)]);
    assert_eq!(windows(hop, 487), [(480, 490), (485, 495)]);
    // CUMULATE(step 2, size 10): 08:05 is in [08:00, 08:06), [08:00, 08:08), [08:00, 08:10).
    let cumulate = "SELECT * FROM TABLE(CUMULATE(TABLE bid, DESCRIPTOR(bidtime), INTERVAL '2' MINUTES, INTERVAL '10' MINUTES))";
    assert_eq!(windows(cumulate, 485), [(480, 486), (480, 488), (480, 490)]);
    // An offset moves the windows: TUMBLE 10 min with offset 1 min.
    let offset = "SELECT * FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(bidtime), INTERVAL '10' MINUTES, INTERVAL '1' MINUTES))";
    assert_eq!(windows(offset, 485), [(481, 491)]);
    // Named arguments, as Flink also accepts.
    let named = "SELECT * FROM TABLE(TUMBLE(DATA => TABLE bid, TIMECOL => DESCRIPTOR(bidtime), SIZE => INTERVAL '10' MINUTES))";
    assert_eq!(windows(named, 485), [(480, 490)]);
}

#[test]
fn the_rewrite_replaces_the_function_and_plural_units() {
    let sql = "INSERT INTO out SELECT window_start, COUNT(*) FROM TABLE(\n  TUMBLE(TABLE bid, DESCRIPTOR(bidtime), INTERVAL '10' MINUTES)) GROUP BY window_start";
    let rewritten = rewrite(sql, "__w").unwrap();
    assert_eq!(
        rewritten.text,
        "INSERT INTO out SELECT window_start, COUNT(*) FROM __w GROUP BY window_start"
    );
    let w = rewritten.window.unwrap();
    assert_eq!(
        (w.kind, w.size, w.table.as_str()),
        (WindowKind::Tumble, 10 * MIN, "bid")
    );
    let plain = rewrite("SELECT ts + INTERVAL '2' HOURS FROM t", "__w").unwrap();
    assert_eq!(plain.text, "SELECT ts + INTERVAL '2' HOUR FROM t");
    assert!(plain.window.is_none());
}

#[test]
fn windows_flink_refuses_are_refused() {
    let e = rewrite(
        "SELECT * FROM TABLE(HOP(TABLE bid, DESCRIPTOR(bidtime), INTERVAL '3' MINUTES, INTERVAL '10' MINUTES))",
        "w",
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("integral multiple of slide"), "{e}");
    let e = rewrite(
        "SELECT * FROM TABLE(TUMBLE(TABLE bid, INTERVAL '3' MINUTES))",
        "w",
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("TUMBLE takes (TABLE t, DESCRIPTOR(time_column), size"),
        "{e}"
    );
}
