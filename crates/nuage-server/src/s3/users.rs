//! Who a request acts as, and who owns what.
//!
//! The lake has an owner: every access key of `--access-keys` without a
//! user (and every request when there are no keys) acts as it. A key given
//! as `ID:SECRET:USER_ID[:DISPLAY_NAME]` acts as another S3 user: a bucket
//! it creates is that user's (the bucket setting `owner`), an object it
//! writes too (the version's record), and others reach them only through
//! ACL grants ([`crate::s3::acl`]). S3 names owners and grantees by
//! canonical id and display name, as here.

use s3s::dto::Owner;

use crate::s3::NuageS3;
use crate::s3::errors::OrS3;

/// The lake owner's canonical id (S3's form: 64 hex digits).
pub const OWNER_ID: &str = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a";
const OWNER_NAME: &str = "nuage";

/// The bucket setting that names a bucket's owner (absent: the lake's).
const SETTING: &str = "owner";

impl NuageS3 {
    /// The canonical id a request acts as: its key's user, else the lake's
    /// owner; `None` for an unsigned request where keys are required.
    pub(super) fn requester(&self, credentials: Option<&s3s::auth::Credentials>) -> Option<String> {
        self.requester_by_key(credentials.map(|c| c.access_key.as_str()))
    }

    /// [`Self::requester`] from the access key id a request was verified
    /// with (`None`: anonymous).
    pub(super) fn requester_by_key(&self, access_key: Option<&str>) -> Option<String> {
        match access_key {
            None if !self.keys.is_empty() => None,
            None => Some(OWNER_ID.to_string()),
            Some(key) => Some(
                self.keys
                    .user(key)
                    .map_or(OWNER_ID, |u| u.id.as_str())
                    .to_string(),
            ),
        }
    }

    /// The requester of a request that must be signed (its handler runs
    /// only once access was granted): the lake's owner without keys.
    pub(super) fn requester_id(&self, credentials: Option<&s3s::auth::Credentials>) -> String {
        self.requester(credentials)
            .unwrap_or_else(|| OWNER_ID.to_string())
    }

    /// `id` as S3 names an owner: with its display name.
    pub(super) fn owner_named(&self, id: &str) -> Owner {
        let name = if id == OWNER_ID {
            OWNER_NAME.to_string()
        } else {
            self.keys
                .user_by_id(id)
                .map_or_else(|| id.to_string(), |u| u.name.clone())
        };
        Owner {
            display_name: Some(name),
            id: Some(id.to_string()),
        }
    }

    /// Whether `id` is a user of this lake (a grant may name it).
    pub(super) fn known_user(&self, id: &str) -> bool {
        id == OWNER_ID || self.keys.user_by_id(id).is_some()
    }

    /// The canonical id of a bucket's owner.
    pub(super) fn bucket_owner(&self, bucket: &str) -> s3s::S3Result<String> {
        let stored = self.objects.bucket_setting_now(bucket, SETTING).or_s3()?;
        Ok(stored
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .unwrap_or_else(|| OWNER_ID.to_string()))
    }

    /// Records a new bucket's owner (nothing for the lake's own).
    pub(super) async fn set_bucket_owner(&self, bucket: &str, id: &str) -> s3s::S3Result<()> {
        if id == OWNER_ID {
            return Ok(());
        }
        self.objects
            .set_bucket_setting(bucket, SETTING, Some(id.as_bytes().to_vec()))
            .await
            .or_s3()
    }
}

/// The canonical id of an object version's owner.
pub fn object_owner(meta: &nuage_lake::objects::Meta) -> &str {
    meta.owner.as_deref().unwrap_or(OWNER_ID)
}

/// What a new version records as its writer (nothing for the lake's owner).
pub fn writer(id: &str) -> Option<String> {
    (id != OWNER_ID).then(|| id.to_string())
}
