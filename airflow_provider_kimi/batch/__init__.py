"""Pure batch logic with no Airflow import: usable from a notebook, a CLI or a task."""

from airflow_provider_kimi.batch.builders import (
    CustomIds,
    ForbiddenParameterError,
    chat_requests,
    check_body_params,
    prompt_requests,
    request_line,
    vision_requests,
)
from airflow_provider_kimi.batch.limits import (
    BATCH_MODELS,
    DEFAULT_MODEL,
    ENDPOINT_URL,
    FIXED_PARAMETERS,
    MAX_FILE_BYTES,
)
from airflow_provider_kimi.batch.media import (
    MediaTooLargeError,
    MediaUploader,
    UnsupportedMediaError,
    inline_part,
    media_type,
    reference_part,
)
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
from airflow_provider_kimi.batch.splitter import SplitError, SplitPart, split_file
from airflow_provider_kimi.batch.status import BatchStatus
from airflow_provider_kimi.batch.summary import ResultSummary, SummaryBuilder, summarize
from airflow_provider_kimi.batch.validator import (
    InvalidBatchInputError,
    Problem,
    ValidationReport,
    ensure_valid,
    validate_file,
)
from airflow_provider_kimi.batch.writer import DuplicateCustomIdError, InputTooLargeError, WriteResult, write_requests

__all__ = [
    "BATCH_DISCOUNT",
    "BATCH_MODELS",
    "DEFAULT_MODEL",
    "ENDPOINT_URL",
    "FIXED_PARAMETERS",
    "KIMI_K2_5_BATCH_PRICES",
    "KIMI_K2_5_LIST_PRICES",
    "MAX_FILE_BYTES",
    "BatchResult",
    "BatchStatus",
    "CustomIds",
    "DuplicateCustomIdError",
    "FailurePolicyOutcome",
    "ForbiddenParameterError",
    "InputTooLargeError",
    "InvalidBatchInputError",
    "MediaTooLargeError",
    "MediaUploader",
    "Prices",
    "Problem",
    "ResultStatus",
    "ResultSummary",
    "ResultsFileError",
    "SplitError",
    "SplitPart",
    "SummaryBuilder",
    "UnsupportedMediaError",
    "ValidationReport",
    "WriteResult",
    "chat_requests",
    "check_body_params",
    "check_failures",
    "ensure_valid",
    "estimate_cost",
    "format_table",
    "inline_part",
    "iter_result_files",
    "iter_results",
    "media_type",
    "prompt_requests",
    "reference_part",
    "request_line",
    "split_file",
    "summarize",
    "validate_file",
    "vision_requests",
    "write_requests",
]
