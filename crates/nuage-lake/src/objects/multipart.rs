//! Multipart uploads. Each upload is a folder `.nuage-s3/uploads/<id>` with
//! `upload.json` (bucket, key, the object's metadata) and one file per part,
//! each written as durably as an object. Completing concatenates the parts
//! (copy_file_range where the file system offers it) into a staged file that
//! is published like any PUT, then removes the folder. An upload stays until
//! it is completed or aborted, as in S3; a folder without its record (a crash
//! while creating it) is removed when the lake is opened.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bytes::Bytes;
use futures::Stream;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use crate::objects::keys::Place;
use crate::objects::meta::{self, Meta};
use crate::objects::write::{self, Staged, Written};
use crate::objects::{ObjectError, ObjectInfo, Objects, Result, blocking};

const RECORD: &str = "upload.json";

/// S3's smallest part, except for the last one.
pub const MIN_PART_SIZE: u64 = 5 << 20;

/// An upload in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Upload {
    #[serde(skip)]
    pub id: String,
    pub bucket: String,
    pub key: String,
    pub initiated_ns: i64,
    /// The object's metadata as given when the upload was created.
    pub meta: Meta,
    /// The checksum algorithm every part carries (`SHA256`, ...), and how
    /// the object's checksum is made of them (`COMPOSITE`, `FULL_OBJECT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<(String, String)>,
}

impl Upload {
    pub fn initiated(&self) -> SystemTime {
        meta::time_of(self.initiated_ns)
    }
}

/// One uploaded part.
#[derive(Debug, Clone)]
pub struct Part {
    pub number: u32,
    /// The part's MD5 in hex, without quotes.
    pub etag: String,
    pub size: u64,
    pub last_modified: SystemTime,
    /// The part's checksums by algorithm, base64.
    pub checksums: BTreeMap<String, String>,
}

impl Objects {
    /// The folder of an upload of `key` in `bucket`.
    fn upload_dir(&self, bucket: &str, key: &str, id: &str) -> Result<(PathBuf, Upload)> {
        let missing = || ObjectError::NoSuchUpload(id.to_string());
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(missing());
        }
        let dir = self.dirs.uploads.join(id);
        let upload = read_record(&dir, id).ok_or_else(missing)?;
        if upload.bucket != bucket || upload.key != key {
            return Err(missing());
        }
        Ok((dir, upload))
    }

    /// Starts an upload of `key` (with `checksum`: its parts' algorithm
    /// and the object checksum's type); returns its id.
    pub async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        meta: Meta,
        checksum: Option<(String, String)>,
    ) -> Result<String> {
        self.bucket_dir(bucket)?;
        Place::of(key)?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let upload = Upload {
            id: id.clone(),
            bucket: bucket.to_string(),
            key: key.to_string(),
            initiated_ns: meta::now_ns(),
            meta,
            checksum,
        };
        let dir = self.dirs.uploads.join(&id);
        let uploads = self.dirs.uploads.clone();
        blocking(move || {
            std::fs::create_dir(&dir).map_err(|e| ObjectError::io(&dir, e))?;
            write::sync_dir(&uploads)?;
            let path = dir.join(RECORD);
            let record = serde_json::to_vec(&upload).expect("upload record serializes");
            let mut file = File::create_new(&path).map_err(|e| ObjectError::io(&path, e))?;
            std::io::Write::write_all(&mut file, &record).map_err(|e| ObjectError::io(&path, e))?;
            file.sync_all().map_err(|e| ObjectError::io(&path, e))?;
            write::sync_dir(&dir)
        })
        .await?;
        Ok(id)
    }

    /// The upload `id` of `key`.
    pub async fn upload(&self, bucket: &str, key: &str, id: &str) -> Result<Upload> {
        Ok(self.upload_dir(bucket, key, id)?.1)
    }

    /// Stores part `number` (replacing an earlier upload of it). `check`
    /// sees what arrived, and may refuse it or record the part's checksums.
    pub async fn put_part<S, E>(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        number: u32,
        body: S,
        check: impl FnOnce(&Written, &mut Meta) -> Result<()>,
    ) -> Result<Part>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let (dir, _) = self.upload_dir(bucket, key, id)?;
        let staged = self.stage(body).await?;
        let etag = meta::hex(&staged.written.md5);
        let mut meta = Meta {
            etag: etag.clone(),
            ..Meta::default()
        };
        check(&staged.written, &mut meta)?;
        let id = id.to_string();
        blocking(move || {
            let name = number.to_string();
            if !dir.join(RECORD).exists() {
                // Completed or aborted while this part was arriving.
                return Err(ObjectError::NoSuchUpload(id));
            }
            let meta = write::publish(staged, &dir, Path::new(&name), meta, &name)?;
            Ok(Part {
                number,
                etag,
                size: meta.size,
                last_modified: SystemTime::now(),
                checksums: meta.checksums,
            })
        })
        .await
    }

    /// The upload and its parts by number.
    pub async fn parts(&self, bucket: &str, key: &str, id: &str) -> Result<(Upload, Vec<Part>)> {
        let (dir, upload) = self.upload_dir(bucket, key, id)?;
        let parts = blocking(move || read_parts(&dir)).await?;
        Ok((upload, parts))
    }

    /// Joins the listed parts (number, ETag) into the object. `seal` sees
    /// the upload, the chosen parts and the joined file before it is
    /// published, and may refuse it or record the object's checksums.
    pub async fn complete(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        listed: Vec<(u32, String)>,
        condition: &super::WriteCondition,
        seal: impl FnOnce(&Upload, &[Part], &File, &mut Meta) -> Result<()> + Send + 'static,
    ) -> Result<ObjectInfo> {
        let bucket_dir = self.bucket_dir(bucket)?;
        let (dir, upload) = match self.upload_dir(bucket, key, id) {
            Err(ObjectError::NoSuchUpload(_)) => {
                return self.completed_before(bucket, key, id, &listed).await;
            }
            other => other?,
        };
        let place = Place::of(key)?;
        let staging = self.staging_path();
        let uploads = self.dirs.uploads.clone();
        let (mode, turn) = self.write_turn(bucket, key, condition).await?;
        let versions = self.versions_of(bucket, &bucket_dir, key);
        let (bucket, key) = (bucket.to_string(), key.to_string());
        blocking(move || {
            let _turn = turn;
            let stored = read_parts(&dir)?;
            let chosen = choose_parts(&stored, &listed)?;
            let mut file = File::create_new(&staging).map_err(|e| ObjectError::io(&staging, e))?;
            let size = chosen.iter().map(|p| p.size).sum();
            let staged = Staged::from_file(
                staging.clone(),
                file.try_clone().map_err(|e| ObjectError::io(&staging, e))?,
                size,
            );
            let mut md5s = Md5::new();
            for part in &chosen {
                let path = dir.join(part.number.to_string());
                let mut source = File::open(&path).map_err(|e| ObjectError::io(&path, e))?;
                std::io::copy(&mut source, &mut file).map_err(|e| ObjectError::io(&staging, e))?;
                md5s.update(decode_hex(&part.etag).unwrap_or_default());
            }
            let mut meta = upload.meta.clone();
            meta.etag = format!("{}-{}", meta::hex(&md5s.finalize()), chosen.len());
            meta.set_parts(chosen.iter().map(|p| p.size));
            seal(&upload, &chosen, &file, &mut meta)?;
            meta.version_id = versions.make_room(mode)?;
            let info = write::place_object(&bucket_dir, place, &key, staged, meta)?;
            std::fs::remove_dir_all(&dir).map_err(|e| ObjectError::io(&dir, e))?;
            // A retried Complete (its answer was lost) answers the same.
            let done = Completed {
                bucket,
                key,
                parts: listed,
                etag: info.meta.etag.clone(),
            };
            let record = dir.with_extension("done");
            let text = serde_json::to_vec(&done).expect("a record serializes");
            std::fs::write(&record, text).map_err(|e| ObjectError::io(&record, e))?;
            write::sync_dir(&uploads)?;
            Ok(info)
        })
        .await
    }

    /// A Complete of an upload completed before with the same parts: the
    /// object it made, while it is still there (S3 answers retries so).
    async fn completed_before(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        listed: &[(u32, String)],
    ) -> Result<ObjectInfo> {
        let missing = || ObjectError::NoSuchUpload(id.to_string());
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(missing());
        }
        let record = self.dirs.uploads.join(format!("{id}.done"));
        let done: Completed = std::fs::read(&record)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(missing)?;
        let same_parts = done.parts.len() == listed.len()
            && done
                .parts
                .iter()
                .zip(listed)
                .all(|((n, e), (m, f))| n == m && e.trim_matches('"') == f.trim_matches('"'));
        if done.bucket != bucket || done.key != key || !same_parts {
            return Err(missing());
        }
        match self.open_object(bucket, key).await {
            Ok(opened) if opened.info.meta.etag == done.etag => Ok(opened.info),
            _ => Err(missing()),
        }
    }

    /// Drops an upload and its parts.
    pub async fn abort(&self, bucket: &str, key: &str, id: &str) -> Result<()> {
        let (dir, _) = self.upload_dir(bucket, key, id)?;
        let uploads = self.dirs.uploads.clone();
        let id = id.to_string();
        blocking(move || {
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(ObjectError::NoSuchUpload(id));
                }
                Err(e) => return Err(ObjectError::io(&dir, e)),
            }
            write::sync_dir(&uploads)
        })
        .await
    }

    /// The uploads in progress into `bucket`, by key, then by start time.
    pub async fn uploads(&self, bucket: &str) -> Result<Vec<Upload>> {
        self.bucket_dir(bucket)?;
        let uploads = self.dirs.uploads.clone();
        let bucket = bucket.to_string();
        blocking(move || {
            let entries = std::fs::read_dir(&uploads).map_err(|e| ObjectError::io(&uploads, e))?;
            let mut found: Vec<Upload> = entries
                .flatten()
                .filter_map(|e| {
                    let id = e.file_name().into_string().ok()?;
                    read_record(&e.path(), &id)
                })
                .filter(|u| u.bucket == bucket)
                .collect();
            found.sort_by(|a, b| (&a.key, a.initiated_ns).cmp(&(&b.key, b.initiated_ns)));
            Ok(found)
        })
        .await
    }

    /// Removes upload folders left without a record.
    pub(crate) fn sweep_uploads(&self) -> Result<()> {
        let uploads = &self.dirs.uploads;
        let entries = std::fs::read_dir(uploads).map_err(|e| ObjectError::io(uploads, e))?;
        for entry in entries.flatten() {
            let Ok(id) = entry.file_name().into_string() else {
                continue;
            };
            if id.ends_with(".done") {
                // Completed uploads are remembered a day, for retries.
                let old = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > std::time::Duration::from_secs(86_400));
                if old {
                    let _ = std::fs::remove_file(entry.path());
                }
                continue;
            }
            if read_record(&entry.path(), &id).is_none() {
                let path = entry.path();
                std::fs::remove_dir_all(&path).map_err(|e| ObjectError::io(&path, e))?;
            }
        }
        Ok(())
    }
}

/// What a completed upload was, for a retried Complete.
#[derive(serde::Serialize, serde::Deserialize)]
struct Completed {
    bucket: String,
    key: String,
    parts: Vec<(u32, String)>,
    etag: String,
}

fn read_record(dir: &Path, id: &str) -> Option<Upload> {
    let bytes = std::fs::read(dir.join(RECORD)).ok()?;
    let mut upload: Upload = serde_json::from_slice(&bytes).ok()?;
    upload.id = id.to_string();
    Some(upload)
}

fn read_parts(dir: &Path) -> Result<Vec<Part>> {
    let entries = std::fs::read_dir(dir).map_err(|e| ObjectError::io(dir, e))?;
    let mut parts = Vec::new();
    for entry in entries.flatten() {
        let Some(number) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let path = entry.path();
        let file = File::open(&path).map_err(|e| ObjectError::io(&path, e))?;
        let stat = file.metadata().map_err(|e| ObjectError::io(&path, e))?;
        let meta = meta::read_or_compute(&file, &path, &stat)?;
        parts.push(Part {
            number,
            last_modified: meta.last_modified(),
            etag: meta.etag,
            size: meta.size,
            checksums: meta.checksums,
        });
    }
    parts.sort_by_key(|p| p.number);
    Ok(parts)
}

/// The stored parts the client listed, checked as S3 checks them: ascending
/// numbers, each part present with that ETag, all but the last >= 5 MiB.
fn choose_parts(stored: &[Part], listed: &[(u32, String)]) -> Result<Vec<Part>> {
    if listed.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(ObjectError::InvalidPartOrder);
    }
    let mut chosen = Vec::with_capacity(listed.len());
    for (number, etag) in listed {
        let etag = etag.trim().trim_matches('"');
        let part = stored
            .iter()
            .find(|p| p.number == *number && p.etag == etag)
            .ok_or_else(|| {
                ObjectError::InvalidPart(
                    "One or more of the specified parts could not be found.  The part may not \
                     have been uploaded, or the specified entity tag may not match the part's \
                     entity tag."
                        .into(),
                )
            })?;
        chosen.push(part.clone());
    }
    if let Some((_, init)) = chosen.split_last()
        && let Some(small) = init.iter().find(|p| p.size < MIN_PART_SIZE)
    {
        return Err(ObjectError::EntityTooSmall {
            part: small.number as i32,
            size: small.size,
        });
    }
    Ok(chosen)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(number: u32, etag: &str, size: u64) -> Part {
        Part {
            number,
            etag: etag.into(),
            size,
            last_modified: SystemTime::UNIX_EPOCH,
            checksums: BTreeMap::new(),
        }
    }

    #[test]
    fn parts_are_checked_as_s3_checks_them() {
        let stored = [
            part(1, "aa", MIN_PART_SIZE),
            part(2, "bb", 10),
            part(3, "cc", 1),
        ];
        let chosen = choose_parts(&stored, &[(1, "\"aa\"".into()), (2, "bb".into())]).unwrap();
        assert_eq!(chosen.len(), 2);
        assert!(matches!(
            choose_parts(&stored, &[(2, "bb".into()), (1, "aa".into())]),
            Err(ObjectError::InvalidPartOrder)
        ));
        assert!(matches!(
            choose_parts(&stored, &[(1, "zz".into())]),
            Err(ObjectError::InvalidPart(_))
        ));
        assert!(matches!(
            choose_parts(&stored, &[(2, "bb".into()), (3, "cc".into())]),
            Err(ObjectError::EntityTooSmall { part: 2, size: 10 })
        ));
    }
}
