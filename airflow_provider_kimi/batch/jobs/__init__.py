"""A job of many batches: which requests to send again, what it may cost, one results table.

Pure planning with no Airflow import; the task group ``kimi_batch_job`` runs it between the
stage operators.
"""
