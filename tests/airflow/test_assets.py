"""The download task declares where results land as an asset, when that place is fixed."""

from __future__ import annotations

from airflow.providers.common.compat.sdk import Asset

from airflow_provider_kimi.operators import KimiDownloadResultsOperator


def test_a_fixed_destination_is_declared_as_an_asset():
    task = KimiDownloadResultsOperator(task_id="download", batch="b1", destination="s3://bucket/results/")
    assert task.outlets == [Asset("s3://bucket/results/")]


def test_the_users_own_outlets_are_kept():
    mine = Asset("s3://bucket/report")
    task = KimiDownloadResultsOperator(
        task_id="download", batch="b1", destination="s3://bucket/results/", outlets=[mine]
    )
    assert task.outlets == [mine, Asset("s3://bucket/results/")]


def test_a_templated_or_local_destination_declares_nothing():
    templated = KimiDownloadResultsOperator(task_id="a", batch="b1", destination="s3://bucket/{{ ds }}/")
    local = KimiDownloadResultsOperator(task_id="b", batch="b1", destination="/tmp/results")
    opted_out = KimiDownloadResultsOperator(
        task_id="c", batch="b1", destination="s3://bucket/results/", declare_asset=False
    )
    assert templated.outlets == local.outlets == opted_out.outlets == []
