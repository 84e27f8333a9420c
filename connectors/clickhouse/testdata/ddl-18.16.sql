CREATE TABLE IF NOT EXISTS `shop`.`sales_orders` (
  `id` Int64 COMMENT 'source type int8',
  `amount` Nullable(Decimal(12, 2)) COMMENT 'source type numeric(12,2)',
  `note` Nullable(String) COMMENT 'source type text',
  `paid` Nullable(UInt8) COMMENT 'source type bool',
  `day` Nullable(Date) COMMENT 'source type date',
  `at` Nullable(DateTime('UTC')) COMMENT 'source type timestamptz',
  `ref` Nullable(UUID) COMMENT 'source type uuid',
  `tags` Array(Nullable(String)) COMMENT 'source type text[]',
  `_version` UInt64 COMMENT 'commit LSN of the change',
  `_deleted` UInt8 COMMENT '1 when the row was deleted upstream',
  `_synced_at` DateTime COMMENT 'when Inlet wrote the row'
) ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`id`);

CREATE VIEW IF NOT EXISTS `shop`.`sales_orders_current` AS SELECT `id`, `amount`, `note`, `paid`, `day`, `at`, `ref`, `tags`, `_version`, `_synced_at` FROM `shop`.`sales_orders` FINAL WHERE `_deleted` = 0;
