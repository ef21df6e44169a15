"""The same case and rules on Apache Spark (``--engine spark``): see docs/spark.md.

Modules: ``session`` (classic or Spark Connect sessions, the settings that decide answers),
``dataset`` (the case's parts as Spark reads them, with DuckDB's union schema), ``dialect`` and
``regex`` (DuckDB SQL and RE2 carried over to Spark SQL and Java regular expressions, or refused
with the reason), ``connection`` (the DuckDB statements of the SQL hunts and the IOC sweep run on
Spark), ``sigma`` (the Sigma plan's scans on Spark) and ``engine`` (one command's session).
Nothing here imports pyspark at module level except where a session is used.
"""
