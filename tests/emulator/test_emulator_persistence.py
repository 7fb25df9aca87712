"""With a state_dir, files and batches survive a restart and progress carries on."""

from __future__ import annotations

from emulator_helpers import PNG, client_for, five_lines, read_jsonl, start_batch, wait_until

from airflow_provider_kimi.emulator import EmulatorSettings, KimiEmulator

QUIET = {"time_scale": 0.0, "access_log": False, "log_level": "warning"}


def test_batch_and_files_survive_a_restart(tmp_path):
    with KimiEmulator(EmulatorSettings(state_dir=tmp_path, hold_new_batches_after=2, **QUIET)) as first:
        client = client_for(first)
        batch_id = start_batch(client, five_lines())
        before = wait_until(client, batch_id, ("in_progress",))
        image_id = client.files.create(file=("pic.png", PNG), purpose="image").id
    assert (tmp_path / "state.json").exists()

    with KimiEmulator(EmulatorSettings(state_dir=tmp_path, **QUIET)) as second:
        client = client_for(second)
        after = client.batches.retrieve(batch_id)
        assert after.status == "in_progress"
        assert after.request_counts.completed == 2
        assert after.created_at == before.created_at
        assert client.files.content(after.input_file_id).text.count("\n") == 5
        assert client.files.retrieve(image_id).purpose == "image"

        second.release(batch_id)
        done = wait_until(client, batch_id)
        assert done.status == "completed"
        assert sorted(line["custom_id"] for line in read_jsonl(client, done.output_file_id)) == [
            f"req-{i}" for i in range(5)
        ]
        output_id = done.output_file_id

    with KimiEmulator(EmulatorSettings(state_dir=tmp_path, **QUIET)) as third:
        client = client_for(third)
        assert client.batches.retrieve(batch_id).output_file_id == output_id
        assert len(read_jsonl(client, output_id)) == 5
        assert [b.id for b in client.batches.list().data] == [batch_id]


def test_without_state_dir_nothing_is_left_behind():
    emu = KimiEmulator(EmulatorSettings(**QUIET)).start()
    client = client_for(emu)
    wait_until(client, start_batch(client, five_lines()))
    root = emu.store.root
    assert any(root.rglob("*.jsonl"))
    emu.stop()
    assert not root.exists()
