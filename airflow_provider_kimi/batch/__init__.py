"""Pure batch logic with no Airflow import: usable from a notebook, a CLI or a task."""

from airflow_provider_kimi.batch.policy import FailurePolicyOutcome, check_failures
from airflow_provider_kimi.batch.pricing import (
    BATCH_DISCOUNT,
    KIMI_K2_5_BATCH_PRICES,
    KIMI_K2_5_LIST_PRICES,
    Prices,
    estimate_cost,
)
from airflow_provider_kimi.batch.results import (
    BatchResult,
    ResultsFileError,
    ResultStatus,
    format_table,
    iter_result_files,
    iter_results,
)
from airflow_provider_kimi.batch.status import BatchStatus
from airflow_provider_kimi.batch.summary import ResultSummary, SummaryBuilder, summarize

__all__ = [
    "BATCH_DISCOUNT",
    "KIMI_K2_5_BATCH_PRICES",
    "KIMI_K2_5_LIST_PRICES",
    "BatchResult",
    "BatchStatus",
    "FailurePolicyOutcome",
    "Prices",
    "ResultStatus",
    "ResultSummary",
    "ResultsFileError",
    "SummaryBuilder",
    "check_failures",
    "estimate_cost",
    "format_table",
    "iter_result_files",
    "iter_results",
    "summarize",
]
