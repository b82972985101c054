"""Times an ONNX model with ONNX Runtime, the way a benchmarking engineer would.

Warm-up by count and by time, then rounds of timed single-batch runs. The reported median is
the median of the round medians, the spread their range; when the coefficient of variation of
all runs exceeds a threshold the whole measurement is repeated and the steadiest one kept.

Machines slow down for seconds at a time for reasons outside the model (a process on the
sibling hyper-thread, a noisy neighbour VM, thermal throttling): on the 2-core development VM,
about a fifth of the time, by about 22%, for up to 7 s. A steady slow stretch is invisible in
the model's own numbers, so a :class:`QuietCheck` times a fixed reference workload before and
after every round; a round run while the machine was slow is waited out and repeated.
Agent side: imports neither torch nor anything of the server.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import onnxruntime as ort

from latency.protocol import MAX_RUNS, MeasurementResult, MeasurementSettings


@dataclass(frozen=True)
class Timing:
    """Latency statistics in milliseconds over ``runs`` timed runs."""

    median_ms: float
    p90_ms: float
    cv: float
    runs: int

    @classmethod
    def from_samples(cls, samples_ms: list[float]) -> Timing:
        mean = statistics.fmean(samples_ms)
        spread = statistics.pstdev(samples_ms) / mean if mean > 0 else 0.0
        return cls(
            median_ms=statistics.median(samples_ms),
            p90_ms=float(np.percentile(samples_ms, 90)),
            cv=spread,
            runs=len(samples_ms),
        )


def make_session(
    model: bytes, threads: int = 1, providers: list[str] | None = None
) -> ort.InferenceSession:
    """An inference session with a fixed thread count (intra-op), so timings are comparable."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model, options, providers=providers or ["CPUExecutionProvider"])


def random_input(session: ort.InferenceSession, seed: int = 0) -> dict[str, np.ndarray]:
    """A random float32 feed for every input of a fixed-shape model."""
    rng = np.random.default_rng(seed)
    return {
        node.name: rng.standard_normal(node.shape).astype(np.float32)
        for node in session.get_inputs()
    }


def _timed_runs(session: ort.InferenceSession, feed: dict[str, np.ndarray], runs: int) -> list:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def warm_up(
    session: ort.InferenceSession, feed: dict[str, np.ndarray], runs: int, seconds: float
) -> None:
    """At least ``runs`` untimed runs, continued until ``seconds`` have passed."""
    start = time.perf_counter()
    done = 0
    while done < runs or time.perf_counter() - start < seconds:
        session.run(None, feed)
        done += 1


def time_session(
    session: ort.InferenceSession, *, runs: int = 50, warmup: int = 10, seed: int = 0
) -> Timing:
    """Run ``warmup`` untimed then ``runs`` timed inferences on one random input."""
    if not 1 <= runs <= MAX_RUNS:
        raise ValueError(f"runs={runs}: must be between 1 and {MAX_RUNS}")
    if warmup < 0:
        raise ValueError(f"warmup={warmup}: must not be negative")
    feed = random_input(session, seed)
    warm_up(session, feed, warmup, 0.0)
    return Timing.from_samples(_timed_runs(session, feed, runs))


def time_onnx(model: bytes, *, threads: int = 1, runs: int = 50, warmup: int = 10) -> Timing:
    """Latency of one ONNX model on this machine's CPU."""
    return time_session(make_session(model, threads), runs=runs, warmup=warmup)


class QuietCheck:
    """Is this machine running at its usual speed right now?

    Times a fixed single-threaded workload (small float32 matrix products: 48x48 stays below
    OpenBLAS's threading threshold) and compares it with the machine's usual time: the median
    of probes kept at most every ``spacing_seconds`` over the last ``window`` kept, i.e. several
    minutes, longer than any slow stretch. (The fastest probe ever seen would not do: one lucky
    probe would ratchet it down until every probe looked slow.) Slower than usual by more than
    ``tolerance`` means something else is using the machine.
    """

    def __init__(self, window: int = 2000, spacing_seconds: float = 0.25) -> None:
        self._recent: deque[float] = deque(maxlen=window)
        self._spacing = spacing_seconds
        self._last_kept = -float("inf")
        self._matrix = np.random.default_rng(0).random((48, 48), dtype=np.float32)

    @property
    def baseline_ms(self) -> float:
        return statistics.median(self._recent) if self._recent else float("inf")

    def probe_ms(self) -> float:
        """Fastest of three ~2 ms timings of the reference workload."""
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(200):
                self._matrix @ self._matrix
            timings.append((time.perf_counter() - start) * 1000)
        return min(timings)

    def is_quiet(self, tolerance: float) -> bool:
        probe = self.probe_ms()
        now = time.monotonic()
        if now - self._last_kept >= self._spacing:  # a steady sample of time, not of probes
            self._recent.append(probe)
            self._last_kept = now
        return probe <= self.baseline_ms * (1 + tolerance)

    def wait_until_quiet(self, tolerance: float, deadline: float) -> bool:
        """Probe until the machine is quiet (True) or ``deadline`` passes (False)."""
        while not self.is_quiet(tolerance):
            if time.monotonic() >= deadline:
                return False
        return True


def _quiet_round(
    session: ort.InferenceSession,
    feed: dict[str, np.ndarray],
    settings: MeasurementSettings,
    quiet: QuietCheck,
    deadline: float,
) -> tuple[list[float], int]:
    """One round of timed runs with a quiet machine before and after, and how many attempts
    ran on a busy machine (repeated; once ``deadline`` has passed the last one is kept)."""
    disturbed = 0
    while True:
        quiet_before = quiet.wait_until_quiet(settings.quiet_tolerance, deadline)
        batch = _timed_runs(session, feed, settings.runs)
        if quiet_before and quiet.is_quiet(settings.quiet_tolerance):
            return batch, disturbed
        disturbed += 1
        if time.monotonic() >= deadline:
            return batch, disturbed


REWARM_RUNS = 2  # untimed runs before an interleaved round: another model ran in between


@dataclass
class _Timed:
    """One model of an interleaved measurement: its session and what was timed so far."""

    session: ort.InferenceSession
    feed: dict[str, np.ndarray]
    samples: list[float] = field(default_factory=list)
    round_medians: list[float] = field(default_factory=list)
    disturbed: int = 0


def _open(model: bytes, settings: MeasurementSettings, provider: str) -> _Timed:
    session = make_session(model, settings.threads, [provider])
    feed = random_input(session)
    warm_up(session, feed, settings.warmup_runs, settings.warmup_seconds)
    return _Timed(session, feed)


def _interleaved_rounds(
    timed: dict[int, _Timed],
    settings: MeasurementSettings,
    quiet: QuietCheck,
    rng: random.Random,
    failed: dict[int, Exception],
) -> None:
    """``settings.rounds`` rounds of every model, round r of all (in a shuffled order) before
    round r + 1 of any. A model that fails to run moves from ``timed`` to ``failed``."""
    rewarm = REWARM_RUNS if len(timed) > 1 else 0
    deadline = time.monotonic() + settings.quiet_wait_seconds * len(timed)
    for _ in range(settings.rounds):
        for index in rng.sample(sorted(timed), len(timed)):
            item = timed[index]
            try:
                warm_up(item.session, item.feed, rewarm, 0.0)
                batch, thrown_away = _quiet_round(
                    item.session, item.feed, settings, quiet, deadline
                )
            except Exception as exc:  # ONNX Runtime's errors share no narrower base class
                del timed[index]
                failed[index] = exc
                continue
            item.round_medians.append(statistics.median(batch))
            item.samples += batch
            item.disturbed += thrown_away


def _result(item: _Timed, settings: MeasurementSettings, provider: str) -> MeasurementResult:
    timing = Timing.from_samples(item.samples)
    return MeasurementResult(
        median_ms=statistics.median(item.round_medians),
        p90_ms=timing.p90_ms,
        cv=timing.cv,
        runs=timing.runs,
        rounds=len(item.round_medians),
        spread_ms=max(item.round_medians) - min(item.round_medians),
        disturbed_rounds=item.disturbed,
        threads=settings.threads,
        provider=provider,
    )


def measure_many(
    models: list[bytes],
    settings: MeasurementSettings,
    provider: str = "CPUExecutionProvider",
    quiet: QuietCheck | None = None,
    seed: int = 0,
) -> list[MeasurementResult | Exception]:
    """The full protocol on several models at once, their rounds interleaved: a machine that
    is slow for a while then costs each model a round rather than one model its whole
    measurement (on the 2-core VM, 8 rounds interleaved over 40 models repeat within 2.3%,
    3 contiguous rounds within 6%). Every session stays open until the end, so the caller
    bounds the batch. A model that fails to load or run gets its exception, the others
    their results. Re-measures (all rounds again, the steadiest kept) are interleaved too."""
    quiet = quiet or QuietCheck()
    rng = random.Random(seed)
    failed: dict[int, Exception] = {}
    pending: dict[int, _Timed] = {}
    for index, model in enumerate(models):
        try:
            pending[index] = _open(model, settings, provider)
        except Exception as exc:  # a broken model must not cost the others their measurement
            failed[index] = exc
    best: dict[int, MeasurementResult] = {}
    for attempt in range(settings.max_remeasures + 1):
        _interleaved_rounds(pending, settings, quiet, rng, failed)
        for index, item in pending.items():
            result, earlier = _result(item, settings, provider), best.get(index)
            disturbed = item.disturbed + (earlier.disturbed_rounds if earlier else 0)
            steadiest = earlier if earlier and earlier.cv <= result.cv else result
            best[index] = steadiest.model_copy(
                update={"remeasures": attempt, "disturbed_rounds": disturbed}
            )
        pending = {
            index: _Timed(item.session, item.feed)
            for index, item in pending.items()
            if best[index].cv > settings.cv_threshold
        }
        if not pending:
            break
    return [failed.get(index) or best[index] for index in range(len(models))]


def measure(
    model: bytes,
    settings: MeasurementSettings,
    provider: str = "CPUExecutionProvider",
    quiet: QuietCheck | None = None,
) -> MeasurementResult:
    """The full protocol on one model: warm-up, rounds, re-measure while too noisy. Pass the
    same ``quiet`` to every measurement of a process, so it knows the machine's usual speed."""
    (outcome,) = measure_many([model], settings, provider, quiet)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome
