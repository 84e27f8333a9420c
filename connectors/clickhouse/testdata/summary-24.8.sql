CREATE TABLE IF NOT EXISTS `shop`.`orders_daily` (
  `day` Nullable(Date) COMMENT 'dimension toDate(created_at) over public.orders (mirror orders, current rows where status != \'test\'); refresh incremental by Inlet',
  `status` Nullable(String) COMMENT 'dimension status over public.orders (mirror orders, current rows where status != \'test\'); refresh incremental by Inlet',
  `orders` UInt64 COMMENT 'measure count() over public.orders (mirror orders, current rows where status != \'test\'); refresh incremental by Inlet',
  `revenue` Nullable(Decimal(38, 2)) COMMENT 'measure sum(amount) over public.orders (mirror orders, current rows where status != \'test\'); refresh incremental by Inlet',
  `customers` UInt64 COMMENT 'measure uniqExact(customer_id) over public.orders (mirror orders, current rows where status != \'test\'); refresh incremental by Inlet',
  `_inlet_partition` Date COMMENT 'partition key day (NULL as the type\'s default); set by Inlet'
) ENGINE = MergeTree
PARTITION BY `_inlet_partition`
ORDER BY (isNull(`day`), assumeNotNull(`day`), isNull(`status`), assumeNotNull(`status`));
