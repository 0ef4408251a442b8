//! The object layer against a temporary lake. Expected orders and roll-ups
//! follow S3's documentation of ListObjectsV2 (keys in UTF-8 binary order;
//! a common prefix is the prefix up to the first delimiter after it, counted
//! once, and never returned again once a continuation has passed it).

use std::io::Read;

use bytes::Bytes;
use futures::stream;
use md5::{Digest, Md5};

use super::*;

fn body(
    data: &[u8],
) -> impl futures::Stream<Item = std::result::Result<Bytes, std::io::Error>> + Unpin {
    stream::iter(vec![Ok(Bytes::copy_from_slice(data))])
}

async fn lake() -> (tempfile::TempDir, Objects) {
    let dir = tempfile::tempdir().unwrap();
    let objects = Objects::open(dir.path()).unwrap();
    objects.create_bucket("b").await.unwrap();
    (dir, objects)
}

async fn put(objects: &Objects, key: &str, data: &[u8]) -> ObjectInfo {
    objects
        .put(
            "b",
            key,
            body(data),
            Meta::default(),
            &none(),
            |_, _| Ok(()),
        )
        .await
        .unwrap()
}

async fn names(objects: &Objects, query: ListQuery) -> (Vec<String>, bool) {
    let listing = objects.list("b", query).await.unwrap();
    let names = listing
        .entries
        .iter()
        .map(|e| e.name().to_string())
        .collect();
    (names, listing.truncated)
}

fn query(prefix: &str, delimiter: Option<&str>, after: Option<&str>, max: usize) -> ListQuery {
    ListQuery {
        prefix: prefix.into(),
        delimiter: delimiter.map(str::to_string),
        after: after.map(str::to_string),
        max,
    }
}

#[tokio::test]
async fn an_object_is_a_file_with_its_md5_as_etag() {
    let (dir, objects) = lake().await;
    let info = put(&objects, "raw/ratings.csv", b"hello").await;
    // `printf hello | md5sum`
    assert_eq!(
        info.meta.quoted_etag(),
        "\"5d41402abc4b2a76b9719d911017c592\""
    );
    assert_eq!(
        std::fs::read(dir.path().join("b/raw/ratings.csv")).unwrap(),
        b"hello"
    );
    let opened = objects.open_object("b", "raw/ratings.csv").await.unwrap();
    let mut text = String::new();
    opened.file.unwrap().read_to_string(&mut text).unwrap();
    assert_eq!(text, "hello");
    // Nothing is left in staging.
    assert_eq!(
        std::fs::read_dir(dir.path().join(".nuage-s3/tmp"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn a_file_written_by_another_writer_is_an_object() {
    let (dir, objects) = lake().await;
    std::fs::create_dir_all(dir.path().join("b/out")).unwrap();
    std::fs::write(dir.path().join("b/out/part-0.csv"), b"world").unwrap();
    let info = objects
        .open_object("b", "out/part-0.csv")
        .await
        .unwrap()
        .info;
    assert_eq!(info.meta.etag, "7d793037a0760186574b0282f2f435e7");
    assert_eq!(info.meta.content_type(), "binary/octet-stream");
}

#[tokio::test]
async fn listings_follow_key_order_not_folder_order() {
    let (_dir, objects) = lake().await;
    for key in ["b", "a/c/d", "a/b", "a-c", "a/"] {
        put(&objects, key, b"").await;
    }
    let (all, truncated) = names(&objects, query("", None, None, 1000)).await;
    assert_eq!(all, ["a-c", "a/", "a/b", "a/c/d", "b"]);
    assert!(!truncated);
    let (rolled, _) = names(&objects, query("", Some("/"), None, 1000)).await;
    assert_eq!(rolled, ["a-c", "a/", "b"]);
    let (inside, _) = names(&objects, query("a/", Some("/"), None, 1000)).await;
    assert_eq!(inside, ["a/", "a/b", "a/c/"]);
    let (partial, _) = names(&objects, query("a/c", None, None, 1000)).await;
    assert_eq!(partial, ["a/c/d"]);
    // One page at a time gives the same list.
    let mut after: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let (page, truncated) = names(&objects, query("", None, after.as_deref(), 2)).await;
        after = page.last().cloned();
        pages.extend(page);
        if !truncated {
            break;
        }
    }
    assert_eq!(pages, all);
}

#[tokio::test]
async fn common_prefixes_page_like_s3() {
    let (_dir, objects) = lake().await;
    for key in [
        "asdf",
        "boo/bar",
        "boo/baz/xyzzy",
        "cquux/thud",
        "cquux/bla",
    ] {
        put(&objects, key, b"x").await;
    }
    let mut after: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let (page, truncated) = names(&objects, query("", Some("/"), after.as_deref(), 1)).await;
        after = page.last().cloned();
        pages.push(page);
        if !truncated {
            break;
        }
    }
    assert_eq!(pages, [["asdf"], ["boo/"], ["cquux/"]]);
    // A delimiter other than '/' rolls keys up inside names too.
    let (rolled, _) = names(&objects, query("", Some("a"), None, 1000)).await;
    assert_eq!(rolled, ["a", "boo/ba", "cquux/bla", "cquux/thud"]);
}

#[tokio::test]
async fn deleting_removes_the_folders_it_empties() {
    let (dir, objects) = lake().await;
    put(&objects, "x/y/z.csv", b"1").await;
    objects
        .delete_object("b", "x/y/z.csv", None, false)
        .await
        .unwrap();
    assert!(!dir.path().join("b/x").exists());
    // Deleting what is not there succeeds, as in S3.
    objects
        .delete_object("b", "x/y/z.csv", None, false)
        .await
        .unwrap();
    let (all, _) = names(&objects, query("", None, None, 1000)).await;
    assert!(all.is_empty());
    objects.delete_bucket("b").await.unwrap();
    assert!(!objects.bucket_exists("b"));
}

#[tokio::test]
async fn keys_whose_paths_are_taken_or_impossible_are_kept_hidden() {
    let (dir, objects) = lake().await;
    // The keys of s3-tests' delimiter test: `foo/bar` is a file, so
    // `foo/bar/xyzzy` cannot be one.
    for key in ["foo/bar", "foo/bar/xyzzy", "quux/thud", "asdf"] {
        put(&objects, key, key.as_bytes()).await;
    }
    let (rolled, _) = names(&objects, query("", Some("/"), None, 1000)).await;
    assert_eq!(rolled, ["asdf", "foo/", "quux/"]);
    let (all, _) = names(&objects, query("", None, None, 1000)).await;
    assert_eq!(all, ["asdf", "foo/bar", "foo/bar/xyzzy", "quux/thud"]);
    let (inside, _) = names(&objects, query("foo/", Some("/"), None, 1000)).await;
    assert_eq!(inside, ["foo/bar", "foo/bar/"]);
    let mut text = String::new();
    let opened = objects.open_object("b", "foo/bar/xyzzy").await.unwrap();
    opened.file.unwrap().read_to_string(&mut text).unwrap();
    assert_eq!(text, "foo/bar/xyzzy");
    // SQL sees only the files at their paths.
    assert!(!dir.path().join("b/foo/bar/xyzzy").exists());
    // Paging goes through both.
    let (first, truncated) = names(&objects, query("", None, None, 2)).await;
    assert_eq!(
        (first.as_slice(), truncated),
        (&["asdf".to_string(), "foo/bar".to_string()][..], true)
    );
    let (rest, truncated) = names(&objects, query("", None, Some("foo/bar"), 2)).await;
    assert_eq!(
        (rest, truncated),
        (
            vec!["foo/bar/xyzzy".to_string(), "quux/thud".to_string()],
            false
        )
    );
    // Once the path is free, a new version goes to the path and the hidden one goes.
    objects
        .delete_object("b", "foo/bar", None, false)
        .await
        .unwrap();
    put(&objects, "foo/bar/xyzzy", b"v2").await;
    let (all, _) = names(&objects, query("foo/", None, None, 1000)).await;
    assert_eq!(all, ["foo/bar/xyzzy"]);
    assert_eq!(
        std::fs::read(dir.path().join("b/foo/bar/xyzzy")).unwrap(),
        b"v2"
    );
    // A folder where a file would go, and keys that are not paths.
    put(&objects, "foo", b"file named like a folder").await;
    for key in ["a//b", "../up", "/lead", "dir/"] {
        put(&objects, key, key.as_bytes()).await;
        let info = objects.open_object("b", key).await.unwrap().info;
        assert_eq!(info.meta.size, key.len() as u64, "{key}");
    }
    let (all, _) = names(&objects, query("", None, None, 1000)).await;
    assert_eq!(
        all,
        [
            "../up",
            "/lead",
            "a//b",
            "asdf",
            "dir/",
            "foo",
            "foo/bar/xyzzy",
            "quux/thud"
        ]
    );
    assert!(matches!(
        objects.delete_bucket("b").await,
        Err(ObjectError::BucketNotEmpty(_))
    ));
    for key in all {
        objects.delete_object("b", &key, None, false).await.unwrap();
    }
    objects.delete_bucket("b").await.unwrap();
}

#[tokio::test]
async fn a_failed_check_publishes_nothing() {
    let (dir, objects) = lake().await;
    put(&objects, "k", b"old").await;
    let refused = objects
        .put("b", "k", body(b"new"), Meta::default(), &none(), |_, _| {
            Err(ObjectError::BadDigest("no".into()))
        })
        .await;
    assert!(refused.is_err());
    assert_eq!(std::fs::read(dir.path().join("b/k")).unwrap(), b"old");
    assert_eq!(
        std::fs::read_dir(dir.path().join(".nuage-s3/tmp"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn large_bodies_are_written_in_blocks() {
    let (dir, objects) = lake().await;
    let data: Vec<u8> = (0..9 << 20).map(|i: u32| (i % 251) as u8).collect();
    let chunks: Vec<std::result::Result<Bytes, std::io::Error>> = data
        .chunks(100_000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let info = objects
        .put(
            "b",
            "big",
            stream::iter(chunks),
            Meta::default(),
            &none(),
            |_, _| Ok(()),
        )
        .await
        .unwrap();
    assert_eq!(info.meta.size, data.len() as u64);
    assert_eq!(info.meta.etag, meta::hex(&Md5::digest(&data)));
    assert_eq!(std::fs::read(dir.path().join("b/big")).unwrap(), data);
}

#[tokio::test]
async fn multipart_uploads_join_their_parts() {
    let (dir, objects) = lake().await;
    let id = objects
        .create_upload("b", "mp", Meta::default(), None)
        .await
        .unwrap();
    let first = vec![b'a'; multipart::MIN_PART_SIZE as usize];
    let p1 = objects
        .put_part("b", "mp", &id, 1, body(&first), |_, _| Ok(()))
        .await
        .unwrap();
    let p2 = objects
        .put_part("b", "mp", &id, 2, body(b"tail"), |_, _| Ok(()))
        .await
        .unwrap();
    let (_, parts) = objects.parts("b", "mp", &id).await.unwrap();
    assert_eq!(parts.len(), 2);
    let info = objects
        .complete(
            "b",
            "mp",
            &id,
            vec![(1, p1.etag.clone()), (2, p2.etag.clone())],
            &none(),
            |_, _, _, _| Ok(()),
        )
        .await
        .unwrap();
    // A retried Complete (same parts) answers the same; other parts do not.
    let again = objects
        .complete(
            "b",
            "mp",
            &id,
            vec![(1, p1.etag.clone()), (2, p2.etag.clone())],
            &none(),
            |_, _, _, _| Ok(()),
        )
        .await
        .unwrap();
    assert_eq!(again.meta.etag, info.meta.etag);
    let other = objects
        .complete(
            "b",
            "mp",
            &id,
            vec![(1, p1.etag.clone())],
            &none(),
            |_, _, _, _| Ok(()),
        )
        .await;
    assert!(matches!(other, Err(ObjectError::NoSuchUpload(_))));
    assert!(objects.uploads("b").await.unwrap().is_empty());
    // S3's multipart ETag: MD5 of the parts' binary MD5s, then "-<parts>".
    let mut md5s = Md5::digest(&first).to_vec();
    md5s.extend(Md5::digest(b"tail"));
    assert_eq!(
        info.meta.etag,
        format!("{}-2", meta::hex(&Md5::digest(&md5s)))
    );
    assert_eq!(
        info.meta.part_range(2),
        Some(first.len() as u64..first.len() as u64 + 4)
    );
    let stored = std::fs::read(dir.path().join("b/mp")).unwrap();
    assert_eq!(stored.len(), first.len() + 4);
    assert!(matches!(
        objects.abort("b", "mp", &id).await,
        Err(ObjectError::NoSuchUpload(_))
    ));
    assert!(objects.uploads("b").await.unwrap().is_empty());
}

fn none() -> WriteCondition {
    WriteCondition::default()
}

#[tokio::test]
async fn conditional_writes_follow_if_match_and_if_none_match() {
    let (dir, objects) = lake().await;
    let create = WriteCondition {
        if_none_match: Some("*".into()),
        ..Default::default()
    };
    let first = objects
        .put("b", "k", body(b"one"), Meta::default(), &create, |_, _| {
            Ok(())
        })
        .await
        .unwrap();
    let again = objects
        .put("b", "k", body(b"two"), Meta::default(), &create, |_, _| {
            Ok(())
        })
        .await;
    assert!(matches!(again, Err(ObjectError::PreconditionFailed(_))));
    let stale = WriteCondition {
        if_match: Some("\"0123\"".into()),
        ..Default::default()
    };
    let refused = objects
        .put("b", "k", body(b"two"), Meta::default(), &stale, |_, _| {
            Ok(())
        })
        .await;
    assert!(matches!(refused, Err(ObjectError::PreconditionFailed(_))));
    let current = WriteCondition {
        if_match: Some(format!("\"{}\"", first.meta.etag)),
        ..Default::default()
    };
    objects
        .put("b", "k", body(b"two"), Meta::default(), &current, |_, _| {
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(std::fs::read(dir.path().join("b/k")).unwrap(), b"two");
    let missing = objects
        .put(
            "b",
            "nope",
            body(b"x"),
            Meta::default(),
            &current,
            |_, _| Ok(()),
        )
        .await;
    assert!(matches!(missing, Err(ObjectError::NoSuchKey(_))));
}

/// Bucket settings of any size S3 allows (a bucket policy may take 20 KB;
/// ext4 keeps an extended attribute within 4 KB) are kept, replaced and
/// removed, and never show up as objects.
#[tokio::test]
async fn bucket_settings_of_any_size_are_kept() {
    let (dir, objects) = lake().await;
    let large = vec![b'p'; 20 * 1024];
    objects
        .set_bucket_setting("b", "policy", Some(large.clone()))
        .await
        .unwrap();
    assert_eq!(
        objects.bucket_setting("b", "policy").await.unwrap(),
        Some(large)
    );
    let (names, _) = names(&objects, ListQuery::default()).await;
    assert!(names.is_empty(), "{names:?}");
    objects
        .set_bucket_setting("b", "policy", Some(b"small".to_vec()))
        .await
        .unwrap();
    assert_eq!(
        objects.bucket_setting_now("b", "policy").unwrap(),
        Some(b"small".to_vec())
    );
    assert!(!dir.path().join("b/.nuage-s3-settings/policy").exists());
    objects
        .set_bucket_setting("b", "policy", Some(vec![b'q'; 5000]))
        .await
        .unwrap();
    objects
        .set_bucket_setting("b", "policy", None)
        .await
        .unwrap();
    assert_eq!(objects.bucket_setting("b", "policy").await.unwrap(), None);
    // An empty bucket with settings may be deleted.
    objects.delete_bucket("b").await.unwrap();
}

/// A delete marker is no object to a conditional write (S3's user guide
/// on conditional writes): If-None-Match holds, If-Match is NoSuchKey.
#[tokio::test]
async fn a_delete_marker_is_no_object_to_a_conditional_write() {
    let (_dir, objects) = lake().await;
    objects
        .set_versioning("b", Versioning::Enabled)
        .await
        .unwrap();
    let first = put(&objects, "k", b"one").await;
    let deleted = objects.delete_object("b", "k", None, false).await.unwrap();
    assert!(deleted.delete_marker);
    let matching = WriteCondition {
        if_match: Some(first.meta.etag.clone()),
        ..Default::default()
    };
    let refused = objects
        .put(
            "b",
            "k",
            body(b"two"),
            Meta::default(),
            &matching,
            |_, _| Ok(()),
        )
        .await;
    assert!(
        matches!(refused, Err(ObjectError::NoSuchKey(_))),
        "{refused:?}"
    );
    let not_matching = WriteCondition {
        if_none_match: Some(first.meta.etag.clone()),
        ..Default::default()
    };
    objects
        .put(
            "b",
            "k",
            body(b"two"),
            Meta::default(),
            &not_matching,
            |_, _| Ok(()),
        )
        .await
        .unwrap();
    assert_eq!(read_version(&objects, "k", None).await.unwrap(), "two");
}

#[tokio::test]
async fn ten_tags_of_the_largest_size_s3_allows_are_kept() {
    let (_dir, objects) = lake().await;
    put(&objects, "k", b"data").await;
    // 10 tags of 128 + 256 letters (S3's limits), hard to compress much.
    let mut seed = 7u32;
    let mut letters = |n: usize| -> String {
        (0..n)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let c = (seed >> 16) % 52;
                (if c < 26 {
                    b'a' + c as u8
                } else {
                    b'A' + (c - 26) as u8
                }) as char
            })
            .collect()
    };
    let tags: Vec<(String, String)> = (0..10).map(|_| (letters(128), letters(256))).collect();
    objects
        .set_tags("b", "k", None, tags.clone())
        .await
        .unwrap();
    let opened = objects.open_object("b", "k").await.unwrap();
    assert_eq!(opened.info.meta.tags, tags);
}

async fn read_version(objects: &Objects, key: &str, id: Option<&str>) -> Result<String> {
    let mut text = String::new();
    if let Some(mut file) = objects.open_version("b", key, id).await?.file {
        file.read_to_string(&mut text).unwrap();
    }
    Ok(text)
}

async fn version_ids(objects: &Objects) -> Vec<(String, String, bool, bool)> {
    let query = VersionQuery {
        max: 1000,
        ..VersionQuery::default()
    };
    let listing = objects.list_versions("b", query).await.unwrap();
    listing
        .entries
        .into_iter()
        .filter_map(|e| match e {
            VersionEntry::Version(v) => Some((
                v.info.key.clone(),
                v.id().to_string(),
                v.latest,
                v.info.meta.delete_marker,
            )),
            VersionEntry::Prefix(_) => None,
        })
        .collect()
}

/// S3's versioning as its user guide describes it: overwrites and deletes
/// keep older versions, a delete marker hides the key, deleting a version
/// for good makes the next newest current; the bucket folder holds only
/// the current objects, for SQL.
#[tokio::test]
async fn versions_are_kept_and_the_current_one_is_the_file() {
    let (dir, objects) = lake().await;
    put(&objects, "k", b"before").await; // the null version
    objects
        .set_versioning("b", Versioning::Enabled)
        .await
        .unwrap();
    let one = put(&objects, "k", b"one").await.meta.version_id.unwrap();
    let two = put(&objects, "k", b"two").await.meta.version_id.unwrap();
    assert_ne!(one, two);
    assert_eq!(read_version(&objects, "k", None).await.unwrap(), "two");
    assert_eq!(
        read_version(&objects, "k", Some(&one)).await.unwrap(),
        "one"
    );
    assert_eq!(
        read_version(&objects, "k", Some("null")).await.unwrap(),
        "before"
    );
    let file = dir.path().join("b/k");
    assert_eq!(std::fs::read(&file).unwrap(), b"two");

    let deleted = objects.delete_object("b", "k", None, false).await.unwrap();
    assert!(deleted.delete_marker);
    let marker = deleted.version_id.unwrap();
    assert!(!file.exists(), "SQL no longer sees a deleted key");
    assert!(matches!(
        objects.open_object("b", "k").await,
        Err(ObjectError::DeleteMarker { asked: false, .. })
    ));
    assert!(matches!(
        objects.open_version("b", "k", Some(&marker)).await,
        Err(ObjectError::DeleteMarker { asked: true, .. })
    ));
    let k = |id: &str, latest, marker| ("k".to_string(), id.to_string(), latest, marker);
    assert_eq!(
        version_ids(&objects).await,
        vec![
            k(&marker, true, true),
            k(&two, false, false),
            k(&one, false, false),
            k("null", false, false)
        ]
    );

    // Removing the marker brings the newest version back.
    let removed = objects
        .delete_object("b", "k", Some(&marker), false)
        .await
        .unwrap();
    assert!(removed.delete_marker);
    assert_eq!(std::fs::read(&file).unwrap(), b"two");
    // Removing the current version makes the one before it current.
    objects
        .delete_object("b", "k", Some(&two), false)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), b"one");
    assert!(matches!(
        objects.open_version("b", "k", Some(&two)).await,
        Err(ObjectError::NoSuchVersion { .. })
    ));
    assert!(matches!(
        objects.delete_bucket("b").await,
        Err(ObjectError::BucketNotEmpty(_))
    ));

    // Suspended: a write replaces the null version instead of adding one.
    objects
        .set_versioning("b", Versioning::Suspended)
        .await
        .unwrap();
    put(&objects, "k", b"three").await;
    put(&objects, "k", b"four").await;
    assert_eq!(
        version_ids(&objects).await,
        vec![k("null", true, false), k(&one, false, false)]
    );
    assert_eq!(read_version(&objects, "k", None).await.unwrap(), "four");

    for id in ["null", one.as_str()] {
        objects
            .delete_object("b", "k", Some(id), false)
            .await
            .unwrap();
    }
    assert!(version_ids(&objects).await.is_empty());
    objects.delete_bucket("b").await.unwrap();
}

/// ListObjectVersions pages: max-keys counts versions, and a page ends
/// inside a key with that key and version as the next markers.
#[tokio::test]
async fn version_listings_page_inside_a_key() {
    let (_dir, objects) = lake().await;
    objects
        .set_versioning("b", Versioning::Enabled)
        .await
        .unwrap();
    for key in ["a", "b/c", "b/d", "e"] {
        for n in 0..3 {
            put(&objects, key, format!("{key}{n}").as_bytes()).await;
        }
    }
    let mut seen = Vec::new();
    let mut query = VersionQuery {
        max: 2,
        ..VersionQuery::default()
    };
    loop {
        let page = objects.list_versions("b", query.clone()).await.unwrap();
        for entry in &page.entries {
            if let VersionEntry::Version(v) = entry {
                seen.push(v.info.key.clone());
            }
        }
        if !page.truncated {
            break;
        }
        query.key_marker = page.next_key_marker;
        query.version_id_marker = page.next_version_id_marker;
    }
    let expected: Vec<&str> = ["a", "b/c", "b/d", "e"]
        .iter()
        .flat_map(|k| [*k; 3])
        .collect();
    assert_eq!(seen, expected);

    // With a delimiter, pages of two: the common prefix counts once and is
    // not listed again after a page ends on it.
    let mut seen = Vec::new();
    let mut query = VersionQuery {
        delimiter: Some("/".into()),
        max: 2,
        ..VersionQuery::default()
    };
    loop {
        let page = objects.list_versions("b", query.clone()).await.unwrap();
        for entry in &page.entries {
            seen.push(match entry {
                VersionEntry::Version(v) => v.info.key.clone(),
                VersionEntry::Prefix(p) => p.clone(),
            });
        }
        if !page.truncated {
            break;
        }
        query.key_marker = page.next_key_marker;
        query.version_id_marker = page.next_version_id_marker;
    }
    assert_eq!(seen, ["a", "a", "a", "b/", "e", "e", "e"]);

    let rolled = VersionQuery {
        delimiter: Some("/".into()),
        max: 1000,
        ..VersionQuery::default()
    };
    let page = objects.list_versions("b", rolled).await.unwrap();
    let prefixes: Vec<_> = page
        .entries
        .iter()
        .filter_map(|e| match e {
            VersionEntry::Prefix(p) => Some(p.as_str()),
            VersionEntry::Version(_) => None,
        })
        .collect();
    assert_eq!(prefixes, ["b/"]);
    assert_eq!(page.entries.len(), 3 + 1 + 3);
}

/// A locked version stays: a legal hold and COMPLIANCE always, GOVERNANCE
/// unless bypassed; a lapsed retention no longer holds.
#[tokio::test]
async fn locked_versions_are_not_deleted() {
    let (_dir, objects) = lake().await;
    objects
        .set_versioning("b", Versioning::Enabled)
        .await
        .unwrap();
    let future = meta::now_ns() + 3_600 * 1_000_000_000;
    let cases = [
        ("hold", None, true, [false, false]),
        (
            "compliance",
            Some((Retention::COMPLIANCE, future)),
            false,
            [false, false],
        ),
        (
            "governance",
            Some((Retention::GOVERNANCE, future)),
            false,
            [false, true],
        ),
        (
            "lapsed",
            Some((Retention::COMPLIANCE, 1)),
            false,
            [true, true],
        ),
    ];
    for (key, retention, legal_hold, deletable) in cases {
        let mut meta = Meta {
            legal_hold,
            ..Meta::default()
        };
        meta.retention = retention.map(|(mode, until_ns)| Retention {
            mode: mode.into(),
            until_ns,
        });
        let info = objects
            .put("b", key, body(b"x"), meta, &none(), |_, _| Ok(()))
            .await
            .unwrap();
        let id = info.meta.version_id.unwrap();
        for (bypass, allowed) in [false, true].into_iter().zip(deletable) {
            let result = objects.delete_object("b", key, Some(&id), bypass).await;
            assert_eq!(
                result.is_ok(),
                allowed,
                "{key}, bypass {bypass}: {result:?}"
            );
            if !allowed {
                assert!(matches!(result, Err(ObjectError::Locked(_))));
            }
        }
    }
}

#[tokio::test]
async fn a_lifecycle_expiry_leaves_a_newer_write_alone() {
    let (dir, objects) = lake().await;
    // Unversioned: the object judged goes, with the folders it empties.
    let judged = put(&objects, "logs/a.txt", b"old").await;
    let removed = objects
        .expire_current("b", "logs/a.txt", &judged.meta)
        .await
        .unwrap();
    assert!(removed.is_some());
    assert!(matches!(
        objects.open_object("b", "logs/a.txt").await,
        Err(ObjectError::NoSuchKey(_))
    ));
    assert!(!dir.path().join("b/logs").exists());

    // A write after the judgement stays.
    let judged = put(&objects, "logs/a.txt", b"old").await;
    std::thread::sleep(std::time::Duration::from_millis(5));
    put(&objects, "logs/a.txt", b"newer").await;
    let removed = objects
        .expire_current("b", "logs/a.txt", &judged.meta)
        .await
        .unwrap();
    assert!(removed.is_none());
    let mut text = String::new();
    let opened = objects.open_object("b", "logs/a.txt").await.unwrap();
    opened.file.unwrap().read_to_string(&mut text).unwrap();
    assert_eq!(text, "newer");

    // Versioned: the judged version gets a delete marker over it; a newer
    // version is left current.
    objects
        .set_versioning("b", Versioning::Enabled)
        .await
        .unwrap();
    let judged = put(&objects, "v.txt", b"one").await;
    put(&objects, "v.txt", b"two").await;
    let removed = objects
        .expire_current("b", "v.txt", &judged.meta)
        .await
        .unwrap();
    assert!(removed.is_none());
    let current = objects.open_object("b", "v.txt").await.unwrap().info;
    let removed = objects
        .expire_current("b", "v.txt", &current.meta)
        .await
        .unwrap()
        .unwrap();
    assert!(removed.delete_marker);
    assert!(matches!(
        objects.open_object("b", "v.txt").await,
        Err(ObjectError::DeleteMarker { .. })
    ));
}

#[tokio::test]
async fn bucket_settings_are_read_fresh_after_any_change() {
    let (dir, objects) = lake().await;
    assert_eq!(objects.bucket_setting_now("b", "cors").unwrap(), None);
    objects
        .set_bucket_setting("b", "cors", Some(b"one".to_vec()))
        .await
        .unwrap();
    assert_eq!(
        objects.bucket_setting_now("b", "cors").unwrap(),
        Some(b"one".to_vec())
    );
    // Another process changes the attribute: the folder's change time moves.
    std::thread::sleep(std::time::Duration::from_millis(20));
    xattr::set(dir.path().join("b"), "user.nuage.s3.cors", b"two").unwrap();
    assert_eq!(
        objects.bucket_setting_now("b", "cors").unwrap(),
        Some(b"two".to_vec())
    );
    objects.set_bucket_setting("b", "cors", None).await.unwrap();
    assert_eq!(objects.bucket_setting_now("b", "cors").unwrap(), None);
    // A bucket deleted and made again has none of the old settings.
    objects
        .set_versioning("b", Versioning::Enabled)
        .await
        .unwrap();
    assert_eq!(objects.versioning("b").unwrap(), Versioning::Enabled);
    std::fs::remove_dir_all(dir.path().join("b")).unwrap();
    assert!(matches!(
        objects.bucket_setting_now("b", "versioning"),
        Err(ObjectError::NoSuchBucket(_))
    ));
    std::fs::create_dir(dir.path().join("b")).unwrap();
    assert_eq!(objects.versioning("b").unwrap(), Versioning::Unversioned);
}
