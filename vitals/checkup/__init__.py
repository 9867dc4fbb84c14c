"""The city check-up (城市体检): a period's warning levels, incidents, alerts, recovery, data quality and recurring
anomalies per district, domain and street from the vitals history; a vulnerability ranking with its reasons;
trends against the previous period; an offline HTML report and JSON (``vitals checkup``, ``docs/checkup.md``)."""
