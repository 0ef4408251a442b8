//! Every Kinesis request, as AWS's model declares it: members in AWS's
//! order (the order its validation reports them, as recorded against
//! Kinesis), with their constraints. The operations read these structs; the
//! checks and their messages come from [`crate::shape`].

use std::collections::BTreeMap;

use crate::shape;
use crate::shape::{Int, NAME, Pattern};
use crate::wire::{Blob, Timestamp};

pub static STREAM_ARN: Pattern = Pattern {
    text: "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+",
    matches: |s| nuage_streams::Streams::name_from_arn(s).is_some(),
};

/// A sequence number: `0|([1-9]\d{0,128})`.
pub static SEQUENCE: Pattern = Pattern {
    text: "0|([1-9]\\d{0,128})",
    matches: |s| digits(s, 129),
};

/// A hash key: `0|([1-9]\d{0,38})`.
pub static HASH_KEY: Pattern = Pattern {
    text: "0|([1-9]\\d{0,38})",
    matches: |s| digits(s, 39),
};

fn digits(s: &str, max: usize) -> bool {
    s == "0"
        || (s.len() <= max
            && s.starts_with(|c: char| ('1'..='9').contains(&c))
            && s.bytes().all(|b| b.is_ascii_digit()))
}

pub const ITERATOR_TYPES: &[&str] = &[
    "AFTER_SEQUENCE_NUMBER",
    "LATEST",
    "AT_TIMESTAMP",
    "AT_SEQUENCE_NUMBER",
    "TRIM_HORIZON",
];

shape! {
    pub struct CreateStream {
        shard_count "ShardCount": Int [NotNullWithout("StreamModeDetails"), Min(1), Max(100000)],
        stream_name "StreamName": String [NotNull, Pattern(&NAME), MinLength(1), MaxLength(128)],
        stream_mode_details "StreamModeDetails": ModeDetails,
        tags "Tags": BTreeMap<String, String> [MaxLength(50)],
    }
}

shape! {
    pub struct ModeDetails as "com.amazonaws.kinesis.v20131202.StreamModeDetails" {
        stream_mode "StreamMode": String [NotNull, OneOf(&["PROVISIONED", "ON_DEMAND"])],
    }
}

shape! {
    /// A request that names one stream and nothing else.
    pub struct StreamOnly {
        stream_name "StreamName": String [NotNullWithout("StreamARN"), Pattern(&NAME), MinLength(1), MaxLength(128)],
        stream_arn "StreamARN": String [MinLength(1), MaxLength(2048), Pattern(&STREAM_ARN)],
    }
}

shape! {
    pub struct DeleteStream {
        stream_name "StreamName": String [NotNullWithout("StreamARN"), Pattern(&NAME), MinLength(1), MaxLength(128)],
        stream_arn "StreamARN": String [MinLength(1), MaxLength(2048), Pattern(&STREAM_ARN)],
        enforce_consumer_deletion "EnforceConsumerDeletion": bool,
    }
}

shape! {
    pub struct DescribeStream {
        limit "Limit": Int [Min(1), Max(10000)],
        exclusive_start_shard_id "ExclusiveStartShardId": String [Pattern(&NAME), MinLength(1), MaxLength(128)],
        stream_name "StreamName": String [NotNullWithout("StreamARN"), Pattern(&NAME), MinLength(1), MaxLength(128)],
        stream_arn "StreamARN": String [MinLength(1), MaxLength(2048), Pattern(&STREAM_ARN)],
    }
}

shape! {
    pub struct ListStreams {
        limit "Limit": Int [Min(1), Max(10000)],
        exclusive_start_stream_name "ExclusiveStartStreamName": String [Pattern(&NAME), MinLength(1), MaxLength(128)],
        next_token "NextToken": String [MinLength(1), MaxLength(1048576)],
    }
}

shape! {
    /// IncreaseStreamRetentionPeriod and DecreaseStreamRetentionPeriod.
    /// AWS's model allows up to 8760 hours (365 days) since 2020.
    pub struct Retention {
        retention_period_hours "RetentionPeriodHours": Int [NotNull, Min(1), Max(8760)],
        stream_name "StreamName": String [NotNullWithout("StreamARN"), Pattern(&NAME), MinLength(1), MaxLength(128)],
        stream_arn "StreamARN": String [MinLength(1), MaxLength(2048), Pattern(&STREAM_ARN)],
    }
}

shape! {
    /// StartStreamEncryption and StopStreamEncryption.
    pub struct Encryption {
        encryption_type "EncryptionType": String [NotNull, OneOf(&["NONE", "KMS"])],
        key_id "KeyId": String [NotNull, MinLength(1), MaxLength(2048)],
        stream_name "StreamName": String [NotNullWithout("StreamARN"), Pattern(&NAME), MinLength(1), MaxLength(128)],
        stream_arn "StreamARN": String [MinLength(1), MaxLength(2048), Pattern(&STREAM_ARN)],
    }
}

shape! {
    /// EnableEnhancedMonitoring and DisableEnhancedMonitoring.
    pub struct Monitoring {
        shard_level_metrics "ShardLevelMetrics": Vec<String> [NotNull, MinLength(1), MaxLength(7), Items(&[OneOf(&nuage_streams::streams::MONITORING_NAMES)])],
        stream_name "StreamName": String [NotNullWithout("StreamARN"), Pattern(&NAME), MinLength(1), MaxLength(128)],
        stream_arn "StreamARN": String [MinLength(1), MaxLength(2048), Pattern(&STREAM_ARN)],
    }
}

shape! {
    pub struct UpdateStreamMode {
        stream_arn "StreamARN": String [NotNull, MinLength(1), MaxLength(2048), Pattern(&STREAM_ARN)],
        stream_mode_details "StreamModeDetails": ModeDetails [NotNull],
    }
}

shape! {
    pub struct PutRecord {
        sequence_number_for_ordering "SequenceNumberForOrdering": String [Pattern(&SEQUENCE)],
        partition_key "PartitionKey": String [NotNull, MinLength(1), MaxLength(256)],
        explicit_hash_key "ExplicitHashKey": String [Pattern(&HASH_KEY)],
        data "Data": Blob [NotNull, MaxRecordBytes],
        stream_name "StreamName": String [NotNullWithout("StreamARN"), Pattern(&NAME), MinLength(1), MaxLength(128)],
        stream_arn "StreamARN": String [MinLength(1), MaxLength(2048), Pattern(&STREAM_ARN)],
    }
}

shape! {
    pub struct PutRecords {
        records "Records": Vec<PutRecordsEntry> [NotNull, MinLength(1), MaxLength(500)],
        stream_name "StreamName": String [NotNullWithout("StreamARN"), Pattern(&NAME), MinLength(1), MaxLength(128)],
        stream_arn "StreamARN": String [MinLength(1), MaxLength(2048), Pattern(&STREAM_ARN)],
    }
}

shape! {
    /// Java's toString of an entry, as AWS prints a list of them.
    pub struct PutRecordsEntry as "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@c965e310" {
        partition_key "PartitionKey": String [NotNull, MinLength(1), MaxLength(256)],
        explicit_hash_key "ExplicitHashKey": String [Pattern(&HASH_KEY)],
        data "Data": Blob [NotNull, MaxRecordBytes],
    }
}

shape! {
    pub struct GetShardIterator {
        shard_id "ShardId": String [NotNull, Pattern(&NAME), MinLength(1), MaxLength(128)],
        shard_iterator_type "ShardIteratorType": String [NotNull, OneOf(ITERATOR_TYPES)],
        starting_sequence_number "StartingSequenceNumber": String [Pattern(&SEQUENCE)],
        stream_name "StreamName": String [NotNullWithout("StreamARN"), Pattern(&NAME), MinLength(1), MaxLength(128)],
        timestamp "Timestamp": Timestamp,
        stream_arn "StreamARN": String [MinLength(1), MaxLength(2048), Pattern(&STREAM_ARN)],
    }
}

shape! {
    pub struct GetRecords {
        limit "Limit": Int [Min(1), Max(10000)],
        shard_iterator "ShardIterator": String [NotNull, MinLength(1), MaxLength(512)],
        stream_arn "StreamARN": String [MinLength(1), MaxLength(2048), Pattern(&STREAM_ARN)],
    }
}

shape! {
    pub struct ListShards {
        exclusive_start_shard_id "ExclusiveStartShardId": String [Pattern(&NAME), MinLength(1), MaxLength(128)],
        max_results "MaxResults": Int [Min(1), Max(10000)],
        next_token "NextToken": String [MinLength(1), MaxLength(1048576)],
        stream_creation_timestamp "StreamCreationTimestamp": Timestamp,
        stream_name "StreamName": String [Pattern(&NAME), MinLength(1), MaxLength(128)],
        shard_filter "ShardFilter": ShardFilter,
        stream_arn "StreamARN": String [MinLength(1), MaxLength(2048), Pattern(&STREAM_ARN)],
    }
}

shape! {
    pub struct ShardFilter as "com.amazonaws.kinesis.v20131202.ShardFilter" {
        kind "Type": String [NotNull, OneOf(&["AFTER_SHARD_ID", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON", "AT_LATEST", "AT_TIMESTAMP", "FROM_TIMESTAMP"])],
        shard_id "ShardId": String [Pattern(&NAME), MinLength(1), MaxLength(128)],
        timestamp "Timestamp": Timestamp,
    }
}

shape! {
    pub struct SplitShard {
        new_starting_hash_key "NewStartingHashKey": String [NotNull, Pattern(&HASH_KEY)],
        stream_name "StreamName": String [NotNullWithout("StreamARN"), Pattern(&NAME), MinLength(1), MaxLength(128)],
        shard_to_split "ShardToSplit": String [NotNull, Pattern(&NAME), MinLength(1), MaxLength(128)],
        stream_arn "StreamARN": String [MinLength(1), MaxLength(2048), Pattern(&STREAM_ARN)],
    }
}

shape! {
    pub struct MergeShards {
        shard_to_merge "ShardToMerge": String [NotNull, Pattern(&NAME), MinLength(1), MaxLength(128)],
        adjacent_shard_to_merge "AdjacentShardToMerge": String [NotNull, Pattern(&NAME), MinLength(1), MaxLength(128)],
        stream_name "StreamName": String [NotNullWithout("StreamARN"), Pattern(&NAME), MinLength(1), MaxLength(128)],
        stream_arn "StreamARN": String [MinLength(1), MaxLength(2048), Pattern(&STREAM_ARN)],
    }
}

shape! {
    pub struct UpdateShardCount {
        target_shard_count "TargetShardCount": Int [NotNull, Min(1), Max(100000)],
        scaling_type "ScalingType": String [NotNull, OneOf(&["UNIFORM_SCALING"])],
        stream_name "StreamName": String [NotNullWithout("StreamARN"), Pattern(&NAME), MinLength(1), MaxLength(128)],
        stream_arn "StreamARN": String [MinLength(1), MaxLength(2048), Pattern(&STREAM_ARN)],
    }
}

shape! {
    pub struct AddTagsToStream {
        tags "Tags": BTreeMap<String, String> [NotNull, MinLength(1), MaxLength(10), KeyLengths(1, 128), ValueLengths(0, 256)],
        stream_name "StreamName": String [NotNullWithout("StreamARN"), Pattern(&NAME), MinLength(1), MaxLength(128)],
        stream_arn "StreamARN": String [MinLength(1), MaxLength(2048), Pattern(&STREAM_ARN)],
    }
}

shape! {
    pub struct RemoveTagsFromStream {
        tag_keys "TagKeys": Vec<String> [NotNull, MinLength(1), MaxLength(10), ItemLengths(1, 128)],
        stream_name "StreamName": String [NotNullWithout("StreamARN"), Pattern(&NAME), MinLength(1), MaxLength(128)],
        stream_arn "StreamARN": String [MinLength(1), MaxLength(2048), Pattern(&STREAM_ARN)],
    }
}

shape! {
    pub struct ListTagsForStream {
        limit "Limit": Int [Min(1), Max(50)],
        exclusive_start_tag_key "ExclusiveStartTagKey": String [MinLength(1), MaxLength(128)],
        stream_name "StreamName": String [NotNullWithout("StreamARN"), Pattern(&NAME), MinLength(1), MaxLength(128)],
        stream_arn "StreamARN": String [MinLength(1), MaxLength(2048), Pattern(&STREAM_ARN)],
    }
}

shape! {
    pub struct TagResource {
        tags "Tags": BTreeMap<String, String> [NotNull, MinLength(1), MaxLength(50), KeyLengths(1, 128), ValueLengths(0, 256)],
        resource_arn "ResourceARN": String [NotNull, MinLength(1), MaxLength(2048)],
    }
}

shape! {
    pub struct UntagResource {
        tag_keys "TagKeys": Vec<String> [NotNull, MinLength(1), MaxLength(50), ItemLengths(1, 128)],
        resource_arn "ResourceARN": String [NotNull, MinLength(1), MaxLength(2048)],
    }
}

shape! {
    pub struct ListTagsForResource {
        resource_arn "ResourceARN": String [NotNull, MinLength(1), MaxLength(2048)],
    }
}

shape! {
    pub struct RegisterConsumer {
        stream_arn "StreamARN": String [NotNull, MinLength(1), MaxLength(2048), Pattern(&STREAM_ARN)],
        consumer_name "ConsumerName": String [NotNull, Pattern(&NAME), MinLength(1), MaxLength(128)],
    }
}

shape! {
    /// DescribeStreamConsumer and DeregisterStreamConsumer: by ConsumerARN,
    /// or by StreamARN and ConsumerName.
    pub struct FindConsumer {
        stream_arn "StreamARN": String [MinLength(1), MaxLength(2048), Pattern(&STREAM_ARN)],
        consumer_name "ConsumerName": String [Pattern(&NAME), MinLength(1), MaxLength(128)],
        consumer_arn "ConsumerARN": String [MinLength(1), MaxLength(2048)],
    }
}

shape! {
    pub struct ListStreamConsumers {
        stream_arn "StreamARN": String [NotNull, MinLength(1), MaxLength(2048), Pattern(&STREAM_ARN)],
        next_token "NextToken": String [MinLength(1), MaxLength(1048576)],
        max_results "MaxResults": Int [Min(1), Max(10000)],
        stream_creation_timestamp "StreamCreationTimestamp": Timestamp,
    }
}

shape! {
    pub struct SubscribeToShard {
        consumer_arn "ConsumerARN": String [NotNull, MinLength(1), MaxLength(2048)],
        shard_id "ShardId": String [NotNull, Pattern(&NAME), MinLength(1), MaxLength(128)],
        starting_position "StartingPosition": StartingPosition [NotNull],
    }
}

shape! {
    pub struct StartingPosition as "com.amazonaws.kinesis.v20131202.StartingPosition" {
        kind "Type": String [NotNull, OneOf(&["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"])],
        sequence_number "SequenceNumber": String [Pattern(&SEQUENCE)],
        timestamp "Timestamp": Timestamp,
    }
}
