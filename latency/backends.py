"""Where a model is timed: ONNX Runtime on this machine, or an Android phone over adb.

Agent side: no torch, no server libraries.
"""

from __future__ import annotations

import os
import platform
import re
import shlex
import statistics
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Protocol

import onnxruntime as ort

from latency.bench import QuietCheck, measure_many
from latency.protocol import MeasurementResult, MeasurementSettings

DEVICE_DIR = "/data/local/tmp/edgenas"
ADB_TIMEOUT_SECONDS = 600
_PERCENTILE = re.compile(r"^\s*P(50|90) Latency:\s*([0-9.eE+-]+)\s*s", re.MULTILINE)


class Backend(Protocol):
    """Times ONNX models under the given settings."""

    name: str

    def measure_many(
        self, models: list[bytes], settings: MeasurementSettings
    ) -> list[MeasurementResult | Exception]:
        """A result, or the error that prevented it, per model."""

    def facts(self) -> dict[str, object]: ...

    def cancel(self) -> None:
        """Stop a measurement in progress (called from another thread when the agent stops)."""


class MeasurementCancelled(Exception):
    """The agent is stopping and abandoned this measurement."""


class OnnxRuntimeBackend:
    """ONNX Runtime in this process: CPU, or CUDA / TensorRT where installed (Jetson)."""

    name = "onnxruntime"

    def __init__(self, provider: str = "CPUExecutionProvider") -> None:
        available = ort.get_available_providers()
        if provider not in available:
            raise ValueError(
                f"execution provider {provider!r} is not available here; "
                f"this onnxruntime offers {available}"
            )
        self.provider = provider
        self.quiet = QuietCheck()  # learns this machine's usual speed over the agent's life

    def measure_many(
        self, models: list[bytes], settings: MeasurementSettings
    ) -> list[MeasurementResult | Exception]:
        """Interleaved rounds (:func:`latency.bench.measure_many`)."""
        return measure_many(models, settings, self.provider, self.quiet)

    def facts(self) -> dict[str, object]:
        return {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "os": f"{platform.system()} {platform.release()}",
            "onnxruntime": ort.__version__,
            "provider": self.provider,
        }

    def cancel(self) -> None:
        """Nothing to do: an in-process run ends with the agent process."""


class AdbBackend:
    """An Android phone attached to this host: push the model, run a benchmark program on the
    phone, parse its output. The default program is ONNX Runtime's ``onnxruntime_perf_test``;
    ``command`` may replace it with a template using ``{model}``, ``{runs}`` and ``{threads}``,
    whose output must print ``P50 Latency: <seconds> s`` and ``P90 Latency: <seconds> s``."""

    name = "adb"

    def __init__(
        self,
        adb: str = "adb",
        serial: str | None = None,
        perf_test: str = f"{DEVICE_DIR}/onnxruntime_perf_test",
        command: str | None = None,
    ) -> None:
        self.adb = [adb, *(["-s", serial] if serial else [])]
        self.command = command or (perf_test + " -I -m times -r {runs} -x {threads} {model}")
        self._lock = threading.Lock()
        self._running: subprocess.Popen[str] | None = None
        self._cancelled = False

    def _adb(self, *args: str) -> str:
        with self._lock:
            if self._cancelled:
                raise MeasurementCancelled("the agent is stopping")
            process = subprocess.Popen(
                [*self.adb, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            self._running = process
        try:
            stdout, stderr = process.communicate(timeout=ADB_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise RuntimeError(
                f"adb {' '.join(args)} gave no answer in {ADB_TIMEOUT_SECONDS} s"
            ) from None
        finally:
            with self._lock:
                self._running = None
        if process.returncode != 0:
            if self._cancelled:
                raise MeasurementCancelled("the agent is stopping")
            raise RuntimeError(
                f"adb {' '.join(args)} failed ({process.returncode}): "
                f"{(stderr or stdout).strip()[:2000]}"
            )
        return stdout

    def cancel(self) -> None:
        """Kill the adb command in progress and refuse further ones (the agent is stopping)."""
        with self._lock:
            self._cancelled = True
            if self._running is not None:
                self._running.kill()

    def measure_many(
        self, models: list[bytes], settings: MeasurementSettings
    ) -> list[MeasurementResult | Exception]:
        """One after the other: the phone's benchmark program times one model per call.
        A cancelled measurement cancels the rest."""
        outcomes: list[MeasurementResult | Exception] = []
        for model in models:
            try:
                outcomes.append(self.measure(model, settings))
            except MeasurementCancelled:
                raise
            except Exception as exc:  # this model's failure, not the batch's
                outcomes.append(exc)
        return outcomes

    def measure(self, model: bytes, settings: MeasurementSettings) -> MeasurementResult:
        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / "model.onnx"
            local.write_bytes(model)
            remote = f"{DEVICE_DIR}/model.onnx"
            self._adb("shell", "mkdir", "-p", DEVICE_DIR)
            self._adb("push", str(local), remote)
        command = self.command.format(
            model=shlex.quote(remote), runs=settings.runs, threads=settings.threads
        )
        p50s, p90s = [], []
        for _ in range(settings.rounds):
            p50, p90 = parse_percentiles(self._adb("shell", command))
            p50s.append(p50)
            p90s.append(p90)
        median = statistics.median(p50s)
        spread = statistics.pstdev(p50s) / median if len(p50s) > 1 else 0.0
        return MeasurementResult(
            median_ms=median,
            p90_ms=statistics.median(p90s),
            cv=spread,
            runs=settings.runs * settings.rounds,
            rounds=settings.rounds,
            spread_ms=max(p50s) - min(p50s),
            threads=settings.threads,
            provider="adb",
        )

    def facts(self) -> dict[str, object]:
        model = self._adb("shell", "getprop", "ro.product.model").strip()
        release = self._adb("shell", "getprop", "ro.build.version.release").strip()
        return {"phone": model, "os": f"Android {release}", "backend": "adb"}


def parse_percentiles(output: str) -> tuple[float, float]:
    """(P50, P90) in milliseconds from ``onnxruntime_perf_test``-style output."""
    found = {label: float(value) * 1000 for label, value in _PERCENTILE.findall(output)}
    if set(found) != {"50", "90"}:
        raise RuntimeError(f"benchmark output has no P50/P90 latency lines: {output[-500:]!r}")
    return found["50"], found["90"]
