"""Apache Airflow provider for Moonshot's Kimi Batch API."""

__version__ = "0.1.0"
