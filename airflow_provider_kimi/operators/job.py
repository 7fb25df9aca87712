"""The tasks ``kimi_batch_job`` adds around the stage operators: split, plan a round, merge, clean up.

They hold no HTTP of their own beyond deleting files, and no rule of their own: the planning, the
cost ceilings and the bill are :mod:`~airflow_provider_kimi.batch.jobs.planning`, the folders
:mod:`~airflow_provider_kimi.batch.jobs.layout`, and what travels between the tasks is typed and
checked by :mod:`~airflow_provider_kimi.batch.jobs.contract`. The batches run through the stage
operators, one mapped task per part. Tasks find each other's results by task id (known when the
DAG is parsed) and map index.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowSkipException

from airflow_provider_kimi import lineage
from airflow_provider_kimi._moved import moved_from
from airflow_provider_kimi.batch._paths import folder_entries, make_folder
from airflow_provider_kimi.batch.jobs import layout, planning, table
from airflow_provider_kimi.batch.jobs.contract import (
    DownloadManifest,
    JobManifest,
    PartSpec,
    read_downloads,
    read_manifest,
    read_parts,
    read_plan,
)
from airflow_provider_kimi.batch.jobs.merge import BatchFiles, JobPart, merge_job
from airflow_provider_kimi.batch.jobs.rounds import plan_resubmission
from airflow_provider_kimi.batch.limits import BATCH_MODELS, MAX_FILE_BYTES
from airflow_provider_kimi.batch.pricing import Prices, TokensByModel, account_currency, batch_prices, estimate
from airflow_provider_kimi.batch.results import source_name
from airflow_provider_kimi.batch.splitter import split_file
from airflow_provider_kimi.batch.validator import InvalidBatchInputError, validate_file
from airflow_provider_kimi.exceptions import KimiJobError, KimiResultsPolicyError
from airflow_provider_kimi.hooks.errors import kimi_errors_explained
from airflow_provider_kimi.operators.base import KimiBaseOperator, storage_path
from airflow_provider_kimi.operators.files import delete_and_log, file_ids_of

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


@dataclass(frozen=True)
class RoundTasks:
    """The task ids of one round: where its parts come from, and its mapped stages."""

    number: int
    parts: str
    upload: str
    wait: str
    download: str


def _empty_folder(folder: Any) -> None:
    """A retried task starts again from an empty folder of its own."""
    make_folder(folder)
    for child in folder_entries(folder):
        if child.is_file():
            child.unlink()


def _pull_mapped(context: Context, task_id: str, count: int) -> list[Any]:
    """The XComs of map indexes ``0 .. count-1`` of a mapped task, in order (``None`` where absent)."""
    if count <= 0:
        return []
    values = context["ti"].xcom_pull(task_ids=task_id, map_indexes=list(range(count)))
    return list(values) if values is not None else []


def _pull_parts(context: Context, task_id: str) -> list[PartSpec] | None:
    """A round's parts, or ``None`` when that round did not run."""
    return read_parts(context["ti"].xcom_pull(task_ids=task_id, key="parts"), task_id=task_id)


def _pull_round(context: Context, tasks: RoundTasks) -> tuple[list[PartSpec], list[DownloadManifest]] | None:
    """A round that ran: its parts and, in the same order, their download manifests."""
    parts = _pull_parts(context, tasks.parts)
    if parts is None:
        return None
    downloads = _pull_mapped(context, tasks.download, len(parts))
    return parts, read_downloads(downloads, task_id=tasks.download, count=len(parts))


class KimiJobPartsOperator(KimiBaseOperator):
    """What the tasks that write a round's parts share: where, how large, and the cost ceiling."""

    def __init__(
        self,
        *,
        destination: Any,
        max_part_bytes: int | None = None,
        max_part_lines: int | None = None,
        max_cost_usd: float | None = None,
        prices: Mapping[str, Prices] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.destination = destination
        self.max_part_bytes = max_part_bytes or planning.DEFAULT_MAX_PART_BYTES
        self.max_part_lines = max_part_lines
        self.max_cost_usd = max_cost_usd
        self.prices = prices

    def currency(self) -> str:
        """The currency the connection's account is billed in."""
        return account_currency(self.hook.settings.base_url)


class KimiJobSplitOperator(KimiJobPartsOperator):
    """Split the job's input into parts within Kimi's limits and validate each, before any upload.

    Returns the part paths (the first round maps over them) and pushes their details under the
    XCom key ``parts``. A bad line (or a model outside ``allowed_models``) fails the task naming the
    input's own ``FILE:LINE``. With ``max_cost_usd`` the worst case of the whole input is checked
    here, before anything is paid for.
    """

    template_fields: Sequence[str] = ("input_path", "destination", "kimi_conn_id")
    ui_color = "#e6f2e6"

    def __init__(self, *, input_path: Any, allowed_models: Collection[str] = BATCH_MODELS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.input_path = input_path
        self.allowed_models = frozenset(allowed_models)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the job's requests file is its input dataset."""
        return lineage.lineage(inputs=lineage.datasets(self.input_path))

    @kimi_errors_explained
    def execute(self, context: Context) -> list[str]:
        source = storage_path(self.input_path)
        folder = layout.inputs_folder(storage_path(self.destination), 1)
        _empty_folder(folder)
        parts = split_file(source, folder, max_bytes=self.max_part_bytes, max_lines=self.max_part_lines)
        details: list[PartSpec] = []
        first_line = 1
        for part in parts:
            report = validate_file(part.path, max_bytes=MAX_FILE_BYTES, allowed_models=self.allowed_models)
            if not report.ok:
                raise InvalidBatchInputError(planning.as_input_report(report, source_name(source), first_line))
            details.append(planning.part_spec(part.path, part.lines, part.bytes, report.model))
            first_line += part.lines
            self.log.info("%s: %s requests, %s bytes, model %s", part.path, part.lines, part.bytes, report.model)
        if self.max_cost_usd is not None:
            self._check_cost(details)
        context["ti"].xcom_push(key="parts", value=details)
        self.log.info("Split %s into %s parts of %s requests in all.", source, len(details), first_line - 1)
        return [part["path"] for part in details]

    def _check_cost(self, parts: list[PartSpec]) -> None:
        worst = planning.worst_case_of([storage_path(part["path"]) for part in parts])
        cost = planning.worst_case_cost(TokensByModel(), worst, self.prices, self.currency())
        if cost.usd is None:
            raise KimiJobError(f"max_cost_usd needs a cost figure, and there is none: {cost.reason}.")
        if cost.usd > (self.max_cost_usd or 0):
            raise KimiJobError(
                f"The input could cost up to ${cost.usd:.2f} at batch prices, over max_cost_usd "
                f"${self.max_cost_usd:.2f}; nothing was uploaded. Set max_tokens on the requests, "
                "or raise max_cost_usd."
            )
        self.log.info("Worst case at batch prices: $%.2f (max_cost_usd $%.2f).", cost.usd, self.max_cost_usd)


class KimiJobPlanRoundOperator(KimiJobPartsOperator):
    """A round's first task: the requests of the previous round to send again, as this round's parts.

    Skips itself, and with it the round's mapped stages, when there is nothing to send, when the
    user cancelled a batch, or when ``max_cost_usd`` could be passed. Pushes its decision under
    the XCom key ``plan`` and the new parts under ``parts``; returns the part paths.
    """

    template_fields: Sequence[str] = ("destination", "kimi_conn_id")
    ui_color = "#e6f2e6"

    def __init__(self, *, round_number: int, previous: RoundTasks, previous_plan: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.round_number = round_number
        self.previous = previous
        self.previous_plan = previous_plan

    @kimi_errors_explained
    def execute(self, context: Context) -> list[str]:
        ti = context["ti"]
        ran = _pull_round(context, self.previous)
        if ran is None:
            raise AirflowSkipException(f"Round {self.previous.number} did not run: nothing to send again.")
        earlier = None
        if self.previous_plan:
            earlier = read_plan(ti.xcom_pull(task_ids=self.previous_plan, key="plan"), task_id=self.previous_plan)
        spent = TokensByModel.from_dict(earlier["spent"] if earlier else None)
        destination = storage_path(self.destination)
        folder = layout.round_folder(destination, self.round_number)
        _empty_folder(folder)
        plan = plan_resubmission(
            planning.ran_parts(*ran, storage_path),
            lambda model: layout.resubmit_file(destination, self.round_number, model).open("wb"),
        )
        spent.merge(plan.spent)
        decision = planning.round_plan(
            self.round_number,
            plan,
            spent,
            max_cost_usd=self.max_cost_usd,
            prices=self.prices,
            currency=self.currency() if plan.requests and self.max_cost_usd is not None else "USD",
        )
        ti.xcom_push(key="plan", value=decision)
        if decision["stopped"]:
            self.log.warning("No round %s: %s.", self.round_number, decision["stopped"])
            raise AirflowSkipException(decision["stopped"])
        if not plan.requests:
            raise AirflowSkipException(f"Round {self.previous.number} left nothing worth sending again.")
        reasons = ", ".join(f"{count} {reason}" for reason, count in plan.reasons.most_common())
        self.log.info("Round %s sends %s requests again (%s).", self.round_number, plan.requests, reasons)
        return self._split(context, destination, plan.requests_by_model)

    def _split(self, context: Context, destination: Any, models: Mapping[str, int]) -> list[str]:
        inputs = layout.inputs_folder(destination, self.round_number)
        _empty_folder(inputs)
        details: list[PartSpec] = []
        for model in models:
            source = layout.resubmit_file(destination, self.round_number, model)
            # One model per file: each model's requests are split under its own prefix, side by side.
            parts = split_file(
                source, inputs, max_bytes=self.max_part_bytes, max_lines=self.max_part_lines, overwrite=True
            )
            details += [planning.part_spec(part.path, part.lines, part.bytes, model) for part in parts]
        context["ti"].xcom_push(key="parts", value=details)
        return [part["path"] for part in details]


class KimiJobMergeOperator(KimiBaseOperator):
    """Write the results table: one row per input request, in input order, from every round.

    Checks the table's row count against the input, applies ``max_failed_ratio``, and returns the
    job's manifest (no results in XCom: only paths, counts, tokens and cost). The tokens and
    ``estimated_cost_usd`` are the bill: every result line of every round, by its part's model.
    """

    template_fields: Sequence[str] = ("destination", "kimi_conn_id")
    ui_color = "#d4f5e2"

    def __init__(
        self,
        *,
        rounds: Sequence[RoundTasks],
        plans: Sequence[str],
        destination: Any,
        results_format: str = "jsonl",
        max_failed_ratio: float | None = None,
        prices: Mapping[str, Prices] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.rounds = list(rounds)
        self.plans = list(plans)
        self.destination = destination
        self.results_format = results_format
        self.max_failed_ratio = max_failed_ratio
        self.prices = prices
        self.results_path: Any = None  # set by execute, read by the OpenLineage hook

    @kimi_errors_explained
    def execute(self, context: Context) -> JobManifest:
        first: list[JobPart] = []
        later: list[BatchFiles] = []
        batch_ids: list[str] = []
        ran: list[tuple[list[PartSpec], list[DownloadManifest]]] = []
        expected = 0
        for tasks in self.rounds:
            this_round = _pull_round(context, tasks)
            if this_round is None:
                continue
            ran.append(this_round)
            for part, download in zip(*this_round, strict=True):
                batch = BatchFiles(tasks.number, download["batch_id"], planning.result_files(download, storage_path))
                batch_ids.append(batch.batch_id)
                if tasks.number == 1:
                    first.append(JobPart(storage_path(part["path"]), part["model"], batch))
                    expected += part["lines"]
                else:
                    later.append(batch)
        path = layout.results_table(storage_path(self.destination), self.results_format)
        writer = table.table_writer(path, self.results_format)
        try:
            stats = merge_job(first, later, writer)
        finally:
            writer.close()
        written = table.count_rows(path, self.results_format)
        if written != expected or stats.rows != expected:
            raise KimiJobError(
                f"{path} has {written} rows for {expected} requests in the input: the table is incomplete."
            )
        ti = context["ti"]
        decisions = [
            plan for plan in (read_plan(ti.xcom_pull(task_ids=t, key="plan"), task_id=t) for t in self.plans) if plan
        ]
        billed = planning.billed_tokens(ran)
        cost = estimate(billed, batch_prices(self.prices), account_currency(self.hook.settings.base_url))
        counts = {status: stats.counts.get(status, 0) for status in planning.COUNTED_STATUSES}
        manifest = JobManifest(
            results_path=str(path),
            results_format=self.results_format,
            rows=written,
            parts=len(first),
            rounds=max((tasks.number for tasks in self.rounds if _pull_parts(context, tasks.parts)), default=0),
            batch_ids=batch_ids,
            counts=counts,
            rows_by_round={str(number): rows for number, rows in sorted(stats.rounds.items())},
            prompt_tokens=sum(t.prompt for t in billed.models.values()),
            cached_tokens=sum(t.cached for t in billed.models.values()),
            completion_tokens=sum(t.completion for t in billed.models.values()),
            tokens_by_model=billed.to_dict(),
            estimated_cost_usd=cost.usd,
            cost_note=cost.reason,
            resubmitted=sum(plan["requests"] for plan in decisions if not plan["stopped"]),
            resubmissions=decisions,
            stopped=next((plan["stopped"] for plan in decisions if plan["stopped"]), None),
            deleted_files=[],
        )
        self.log.info(
            "Results table %s: %s rows (%s). Estimated cost: %s.",
            path,
            written,
            ", ".join(f"{count} {status}" for status, count in counts.items()),
            f"${cost.usd:.4f}" if cost.usd is not None else f"unknown ({cost.reason})",
        )
        unsuccessful = written - counts["succeeded"]
        if self.max_failed_ratio is not None and written and unsuccessful / written > self.max_failed_ratio:
            raise KimiResultsPolicyError(
                f"{unsuccessful} of {written} requests have no answer ({unsuccessful / written:.1%}), over "
                f"max_failed_ratio {self.max_failed_ratio:.1%}. The table is at {path}; Kimi's files are kept."
            )
        self.results_path = path
        return manifest

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the results table is the job's output dataset."""
        return lineage.lineage(outputs=lineage.datasets(self.results_path))


class KimiJobCleanupOperator(KimiBaseOperator):
    """Delete every file the job made on Kimi, once its results table is written and checked.

    Runs whatever became of the job (``trigger_rule="all_done"``) so that it can say what happens:
    after a merged table, the job's input, output and error files of every round are deleted and
    the manifest gains ``deleted_files``; after a failure, the files are kept (they may hold paid
    results), listed in the log, and this task fails too. Only ids this job's own tasks returned are
    ever deleted.
    """

    template_fields: Sequence[str] = ("kimi_conn_id",)
    ui_color = "#f0e0ff"

    def __init__(self, *, rounds: Sequence[RoundTasks], merge: str, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)
        self.rounds = list(rounds)
        self.merge = merge

    @kimi_errors_explained
    def execute(self, context: Context) -> JobManifest:
        made: list[Any] = []
        for tasks in self.rounds:
            parts = _pull_parts(context, tasks.parts)
            if parts is None:
                continue
            made += _pull_mapped(context, tasks.upload, len(parts))
            made += _pull_mapped(context, tasks.wait, len(parts))
        file_ids = file_ids_of(made)
        manifest = read_manifest(context["ti"].xcom_pull(task_ids=self.merge), task_id=self.merge)
        if manifest is None:
            listed = ", ".join(file_ids) or "none"
            raise KimiJobError(
                f"The job did not finish, so its {len(file_ids)} files on Kimi are kept (they may hold paid "
                f"results): {listed}. Delete them with KimiDeleteFilesOperator or `kimi-batch files delete`."
            )
        return JobManifest(**{**manifest, "deleted_files": delete_and_log(self, file_ids)})


__getattr__ = moved_from(__name__)
