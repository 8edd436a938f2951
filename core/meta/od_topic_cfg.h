/* od_topic_cfg.h - a topic's effective configuration, typed: every topic
 * key resolved (topic override, else broker setting, else Kafka's default)
 * and parsed once, when a TopicRecord or ConfigRecord is applied
 * (od_topic_cfg_resolve in od_topic_config.c), so the produce path, the
 * lifecycle and compaction read fields instead of looking strings up: a
 * misspelled key is a compile error, not a silent 0. Kept apart from
 * od_topic_config.h so that od_metadata.h can embed it in od_topic_t. */
#ifndef OD_TOPIC_CFG_H
#define OD_TOPIC_CFG_H

#include <stdint.h>

/* confluent.*.subject.name.strategy: Confluent's class names and the short
 * ones; the field holds the index, and index % 3 is the strategy. */
#define OD_SUBJECT_STRATEGY_DEFAULT "io.confluent.kafka.serializers.subject.TopicNameStrategy"
#define OD_SUBJECT_STRATEGY_CHOICES                                                              \
    "io.confluent.kafka.serializers.subject.TopicNameStrategy,"                                  \
    "io.confluent.kafka.serializers.subject.RecordNameStrategy,"                                 \
    "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy,"                            \
    "TopicNameStrategy,RecordNameStrategy,TopicRecordNameStrategy"
enum { OD_SUBJECT_TOPIC = 0, OD_SUBJECT_RECORD = 1, OD_SUBJECT_TOPIC_RECORD = 2 };

typedef struct od_topic_cfg {
    int64_t cleanup_policy;        /* cleanup.policy: OD_CLEANUP_DELETE | OD_CLEANUP_COMPACT */
    int64_t compression_type;      /* compression.type: an OD_CODEC_*, -1 for "producer" */
    int64_t delete_retention_ms;   /* delete.retention.ms */
    int64_t file_delete_delay_ms;  /* file.delete.delay.ms */
    int64_t flush_messages;        /* flush.messages */
    int64_t flush_ms;              /* flush.ms */
    int64_t index_interval_bytes;  /* index.interval.bytes */
    int64_t max_compaction_lag_ms; /* max.compaction.lag.ms */
    int64_t max_message_bytes;     /* max.message.bytes */
    int64_t message_timestamp_after_max_ms;      /* message.timestamp.after.max.ms */
    int64_t message_timestamp_before_max_ms;     /* message.timestamp.before.max.ms */
    int64_t message_timestamp_difference_max_ms; /* message.timestamp.difference.max.ms */
    int64_t log_append_time;       /* message.timestamp.type is LogAppendTime */
    double min_cleanable_dirty_ratio;            /* min.cleanable.dirty.ratio */
    int64_t min_compaction_lag_ms; /* min.compaction.lag.ms */
    int64_t min_insync_replicas;   /* min.insync.replicas */
    int64_t preallocate;           /* preallocate */
    int64_t retention_bytes;       /* retention.bytes */
    int64_t retention_ms;          /* retention.ms */
    int64_t segment_bytes;         /* segment.bytes */
    int64_t segment_index_bytes;   /* segment.index.bytes */
    int64_t segment_jitter_ms;     /* segment.jitter.ms */
    int64_t segment_ms;            /* segment.ms */
    int64_t unclean_leader_election_enable; /* unclean.leader.election.enable */
    int64_t key_schema_validation;   /* confluent.key.schema.validation */
    int64_t value_schema_validation; /* confluent.value.schema.validation */
    int64_t key_subject_strategy;    /* confluent.key.subject.name.strategy: index, % 3 */
    int64_t value_subject_strategy;  /* confluent.value.subject.name.strategy */
} od_topic_cfg_t;

#endif
