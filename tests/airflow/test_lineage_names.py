"""OpenLineage dataset names: the same place an Airflow asset names, without OpenLineage installed."""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import Asset, ObjectStoragePath

from airflow_provider_kimi.lineage import dataset_name
from airflow_provider_kimi.operators import KimiDownloadResultsOperator


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("s3://bucket/results/b1.output.jsonl", ("s3://bucket", "results/b1.output.jsonl")),
        ("s3://aws_default@bucket/in.jsonl", ("s3://bucket", "in.jsonl")),  # the connection id is no part of it
        ("gs://bucket/a/b.jsonl", ("gs://bucket", "a/b.jsonl")),
        ("file:///data/in.jsonl", ("file", "/data/in.jsonl")),
        ("/data/in.jsonl", ("file", "/data/in.jsonl")),
    ],
)
def test_paths_are_named_as_openlineage_names_files(path, expected):
    assert dataset_name(path) == expected


def test_an_object_storage_path_is_named_by_its_url():
    assert dataset_name(ObjectStoragePath("s3://bucket/results/b1.output.jsonl")) == (
        "s3://bucket",
        "results/b1.output.jsonl",
    )


def test_the_download_asset_and_its_lineage_name_the_same_place():
    task = KimiDownloadResultsOperator(task_id="download", batch="b1", destination="s3://bucket/results/")
    [asset] = task.outlets
    assert asset == Asset("s3://bucket/results/")
    namespace, name = dataset_name(asset.uri)
    assert (namespace, name) == dataset_name(ObjectStoragePath("s3://bucket/results/"))
    assert f"{namespace}/{name}" == asset.uri
