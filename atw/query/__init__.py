"""The query layer: a PhotoFilter → SQL → ids, records, counts, time series. Never imports Flask."""
