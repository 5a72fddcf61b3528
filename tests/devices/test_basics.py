"""Address syntax, latency statistics, the JSON-lines protocol, and the CLI's one-line device errors."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from edge_sdk.devices import RUNNERS, BenchConfig, BenchInterrupted, parse_address
from edge_sdk.devices.base import summarize
from edge_sdk.devices.protocol import RunCollector
from edge_sdk.cli import main
from edge_sdk.errors import DeviceError


@pytest.mark.parametrize("text,expected", [
    ("host", ("host", {})),
    ("ssh:pi@raspberrypi.local", ("ssh", {"user": "pi", "host": "raspberrypi.local", "port": None})),
    ("ssh:nvidia@10.0.0.5:2222", ("ssh", {"user": "nvidia", "host": "10.0.0.5", "port": 2222})),
    ("ssh:jetson", ("ssh", {"user": None, "host": "jetson"})),
    ("ssh:me@[::1]:22", ("ssh", {"user": "me", "host": "::1", "port": 22})),
    ("adb", ("adb", {"serial": None})),
    ("adb:R58N12345", ("adb", {"serial": "R58N12345"})),
    ("serial:/dev/ttyACM0", ("serial", {"path": "/dev/ttyACM0", "baud": 115200})),
    ("serial:/dev/ttyUSB1@921600", ("serial", {"path": "/dev/ttyUSB1", "baud": 921600})),
    ("ios", ("ios", {"udid": None})),
    ("ios:00008110-001A2B3C4D5E6F", ("ios", {"udid": "00008110-001A2B3C4D5E6F"})),
])
def test_addresses_parse(text, expected):
    address = parse_address(text)
    assert address.transport == expected[0]
    for key, value in expected[1].items():
        assert getattr(address, key) == value
    assert parse_address(str(address)) == address  # round-trips


@pytest.mark.parametrize("text,why", [
    ("usb:1", "unknown transport"), ("ssh:", "ssh needs"), ("ssh:a@b:99999", "out of range"),
    ("serial:", "serial needs a port"), ("serial:/dev/ttyS0@fast", "not a number"), ("host:x", "takes no argument"),
])
def test_bad_addresses_say_what_is_expected(text, why):
    with pytest.raises(DeviceError, match=why) as info:
        parse_address(text)
    assert "ssh:USER@HOST[:PORT]" in str(info.value)


def test_every_transport_has_a_runner():
    assert RUNNERS.names() == ["adb", "host", "ios", "serial", "ssh"]


def test_summary_statistics_match_numpy():
    samples = list(np.random.default_rng(0).gamma(2.0, 1.5, size=137))
    stats = summarize(samples)
    for key, q in (("p50", 50), ("p90", 90), ("p99", 99)):
        assert stats[key] == pytest.approx(np.percentile(samples, q), abs=1e-4)
    assert stats["mean"] == pytest.approx(np.mean(samples), abs=1e-4)
    assert (stats["min"], stats["max"]) == (pytest.approx(min(samples), abs=1e-4), pytest.approx(max(samples), abs=1e-4))
    assert summarize([]) == {}


def test_collector_ignores_noise_and_waits_for_start():
    c = RunCollector("serial:/dev/x@1", "serial", "model.tflite", BenchConfig())
    for line in ['{"event":"run","i":9,"us":5}', "boot banner", '{"event":"start","runs":2,"warmup":1}',
                 '{"event":"run","i":0,"us":1500}', "{garbled", '{"event":"run","i":1,"ms":2.5}']:
        assert c.feed(line) is False
    assert c.feed('{"event":"done","arena_bytes":7184,"peak_rss_bytes":null}\r') is True
    r = c.result()
    assert r.complete and r.runs == 2 and r.raw["samples_ms"] == [1.5, 2.5] and r.arena_bytes == 7184
    assert r.op_profile is None


def test_per_operator_times_of_the_done_event_become_the_op_profile():
    c = RunCollector("ssh:pi@127.0.0.1", "ssh", "model.pte", BenchConfig())
    c.feed('{"event":"start","runs":1}')
    c.feed('{"event":"run","i":0,"us":900}')
    ops = [{"name": "Convolution (NHWC, F32) IGEMM #1", "ms": 0.6, "stat": "p50", "runs": 10}]
    assert c.feed(json.dumps({"event": "done", "ops": ops}))
    r = c.result()
    assert r.op_profile == ops and "ops" not in r.raw["done"]


def test_the_python_runner_is_asked_for_per_operator_times_of_a_pte_only(tmp_path):
    from edge_sdk.contracts.records import Artifact
    from edge_sdk.devices.host import runner_args

    def args(fmt, **config):
        artifact = Artifact(fmt, tmp_path / f"m.{fmt}", 1, 1, "0" * 64)
        return runner_args(artifact, BenchConfig(**config), str(artifact.path))

    assert args("pte")[-2:] == ["--op-profile-runs", "10"]
    assert "--op-profile-runs" not in args("pte", op_profile_runs=0) and "--op-profile-runs" not in args("tflite")


def test_device_side_error_event_raises_with_partial_runs():
    c = RunCollector("host", "host", "m", BenchConfig())
    c.feed('{"event":"start","runs":5}')
    c.feed('{"event":"run","i":0,"us":100}')
    with pytest.raises(BenchInterrupted, match="Invoke failed") as info:
        c.feed('{"event":"error","message":"Invoke failed"}')
    assert info.value.partial.runs == 1 and not info.value.partial.complete


@pytest.mark.parametrize("kw", [{"runs": 0}, {"warmup": -1}, {"timeout_s": 0}, {"delegate": "tpu"}, {"op_profile_runs": -1}])
def test_bad_bench_config_is_a_device_error(kw):
    with pytest.raises(DeviceError):
        BenchConfig(**kw)


@pytest.mark.skipif(sys.platform == "darwin", reason="on macOS the ios runner runs xcodebuild")
def test_ios_elsewhere_than_macos_is_a_clear_one_line_error(tmp_path, capsys):
    (tmp_path / "model.mlpackage").mkdir()
    (tmp_path / "model.mlpackage" / "Manifest.json").write_text("{}")
    assert main(["bench", str(tmp_path), "--device", "ios:00008110-001A"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ios:00008110-001A: benchmarking on iOS needs macOS with Xcode") and "\n" not in err
    assert not (tmp_path / "bench.json").exists()


def test_bench_cli_bad_address_and_missing_path_exit_2(tmp_path, capsys):
    assert main(["bench", str(tmp_path / "nope"), "--device", "host"]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "model.tflite").write_bytes(b"x")
    assert main(["bench", str(tmp_path), "--device", "bluetooth:1"]) == 2
    assert "'bluetooth:1' is not an address" in capsys.readouterr().err


def test_devices_lists_host_and_reports_missing_tools(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no adb, no xcrun
    assert main(["devices", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["devices"][0]["address"] == "host" and doc["devices"][0]["state"] == "ready"
    assert any("adb not found" in n for n in doc["notes"])


def test_devices_lists_adb_devices_and_probes_ssh_hosts(capsys, monkeypatch, tmp_path):
    """`adb` here is a STAND-IN script printing the documented `adb devices -l` format."""
    adb = tmp_path / "adb"
    adb.write_text("#!/bin/sh\necho 'List of devices attached'\n"
                   "echo 'R58N12345              device usb:1-1 product:a54xnsxx model:SM_A546B device:a54x transport_id:3'\n"
                   "echo 'emulator-5554          unauthorized transport_id:4'\n")
    adb.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{__import__('os').environ['PATH']}")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["devices", "--json", "--ssh", f"nobody@127.0.0.1:{port}"]) == 0
    found = {d["address"]: d for d in json.loads(capsys.readouterr().out)["devices"]}
    assert found["adb:R58N12345"]["state"] == "ready" and "SM_A546B" in found["adb:R58N12345"]["description"]
    assert found["adb:emulator-5554"]["state"] == "unauthorized"
    assert found[f"ssh:nobody@127.0.0.1:{port}"]["state"] == "unreachable"


def test_devices_named_in_edge_sdk_yaml_resolve_and_are_listed(tmp_path, capsys):
    from edge_sdk.devices.named import resolve_device

    root = __import__("pathlib").Path(__file__).resolve().parents[2]
    (tmp_path / "key").write_text("stand-in key file")
    (tmp_path / "edge-sdk.yaml").write_text(
        f"model: {root / 'examples/digits/model.keras'}\ncalibration: {root / 'calibration_data/digits_calibration.npz'}\n"
        "targets:\n  - target: jetson\ndevices:\n"
        "  - {name: bench-jetson, address: 'ssh:nvidia@127.0.0.1:1', target: jetson, identity_file: key}\n"
        "  - {name: disco, address: 'serial:/dev/ttyACM0@115200', target: stm32f746-disco}\n"
    )
    config = tmp_path / "edge-sdk.yaml"
    assert resolve_device("bench-jetson", config) == ("ssh:nvidia@127.0.0.1:1", tmp_path / "key")
    assert resolve_device("adb:R58", config) == ("adb:R58", None)
    with pytest.raises(DeviceError, match="bench-jetson, disco"):
        resolve_device("pixel", config)
    assert main(["devices", "--json", "--config", str(config)]) == 0
    found = {d["address"]: d for d in json.loads(capsys.readouterr().out)["devices"]}
    assert found["serial:/dev/ttyACM0@115200"]["state"] == "configured"
    assert found["ssh:nvidia@127.0.0.1:1"]["state"] == "unreachable" and "bench-jetson" in found["ssh:nvidia@127.0.0.1:1"]["description"]


def test_an_attempt_that_measured_nothing_keeps_earlier_results(tmp_path, monkeypatch):
    from edge_sdk.devices import session
    from edge_sdk.devices.base import interrupted
    from edge_sdk.contracts.records import BenchResult

    (tmp_path / "model.tflite").write_bytes(b"x")
    (tmp_path / "bench.json").write_text('{"earlier": true}')

    def silent(artifact, address, config):
        raise interrupted(BenchResult("host", "host", "model.tflite", 0, 0, {}), "host: sent nothing for 1 s")

    monkeypatch.setitem(session.RUNNERS._items, "host", silent)
    with pytest.raises(BenchInterrupted, match="no run finished, nothing was saved"):
        session.bench(tmp_path, "host", BenchConfig())
    assert json.loads((tmp_path / "bench.json").read_text()) == {"earlier": True}


def test_devices_lists_board_ports_not_the_machines_own_uarts():
    """Issue 16, point 9: `devices` listed the host's /dev/ttyS0 as if a board were on it."""
    from types import SimpleNamespace

    from edge_sdk.devices.discover import board_ports

    def port(device, vid=None, hwid="n/a"):
        return SimpleNamespace(device=device, vid=vid, hwid=hwid, description="n/a")

    ports = [port("/dev/ttyS1"), port("/dev/ttyACM0", vid=0x0483, hwid="USB VID:PID=0483:374B"),
             port("/dev/ttyS0"), port("/dev/ttyAMA0", hwid="3f201000.serial")]
    boards, builtin = board_ports(ports)
    assert [p.device for p in boards] == ["/dev/ttyACM0", "/dev/ttyAMA0"]
    assert builtin == ["/dev/ttyS0", "/dev/ttyS1"]
