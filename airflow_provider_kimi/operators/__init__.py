"""Operators for each stage of a Kimi batch."""

from airflow_provider_kimi.operators.download import KimiDownloadResultsOperator
from airflow_provider_kimi.operators.files import KimiDeleteFilesOperator
from airflow_provider_kimi.operators.kimi import (
    KimiCancelBatchOperator,
    KimiCreateBatchOperator,
    KimiUploadFileOperator,
)

__all__ = [
    "KimiCancelBatchOperator",
    "KimiCreateBatchOperator",
    "KimiDeleteFilesOperator",
    "KimiDownloadResultsOperator",
    "KimiUploadFileOperator",
]
