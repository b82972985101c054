"""The web UI in a real browser (Debian's Chromium via Playwright) against a real server, a
real agent and a real runner on Ray: a user signs in, submits a tiny job through the form (a
bad field first), watches it run without reloading, reads a front point's tooltip, sorts and
downloads the trial table, opens a trial and downloads its ONNX, compares trials, looks at
the devices, and signs out. Screenshots of the jobs, job, trial and devices pages are written
on the way (``EDGENAS_SCREENSHOTS``)."""

from __future__ import annotations

import csv
import io
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import onnxruntime as ort
import pytest
import ray
from playwright.sync_api import Page, expect
from sqlalchemy.orm import sessionmaker

from latency.database import create_db_engine
from space import parse_arch
from space.references import reference_arch
from tests.isolation import start_agent
from tests.processes import Spawner
from tests.server import Server, make_api_key, served
from tests.web_tests.browser import NARROW, WIDE, chromium, screenshot_dir
from workers.runner import Runner, RunnerSettings

MORE_OF_THE_SPEC = """\
strategy: {name: random}
proxy: {epochs: 1, train_images: 300}
measurement: {runs: 5, rounds: 1, quiet_wait_seconds: 0}
"""
TRIALS = 3
SLOW = 240_000  # ms: a trial trains and is timed before the page can show it
expect.set_options(timeout=30_000)  # two cores, shared with the agent, Ray and the server


@pytest.fixture
def service(tmp_path: Path, spawn: Spawner) -> Iterator[Server]:
    """A server on SQLite with an agent timing on this CPU as the device ``cpu-1``."""
    with served(f"sqlite:///{tmp_path / 'edgenas.db'}") as server:
        token = server.user.post("/v1/devices", json={"name": "cpu-1"}).json()["token"]
        start_agent(spawn, "--server", server.url, token=token)
        yield server


@pytest.fixture
def local_ray() -> Iterator[None]:
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def sign_in(page: Page, server: Server, key: str) -> None:
    page.goto(f"{server.url}/jobs")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()


def reference_on_device(server: Server, name: str, user: httpx.Client) -> float:
    """Import a latency for the reference network at the job's input size (as a device lab's
    file would bring it) and return it."""
    trial = user.get("/v1/jobs/1/trials").json()["items"][0]
    shape = parse_arch(trial["arch"])
    arch = replace(
        reference_arch(name),
        resolution=shape.resolution,
        in_channels=shape.in_channels,
        num_classes=shape.num_classes,
    )
    device = next(d for d in user.get("/v1/devices").json() if d["name"] == "cpu-1")
    latency = 0.5
    answer = user.post(
        f"/v1/devices/{device['id']}/measurements",
        json={"source": "lab file", "measurements": [{"arch": str(arch), "latency_ms": latency}]},
    )
    assert answer.status_code == 201, answer.text
    return latency


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"] + 1, f"the page is {width}px wide"


def test_a_user_runs_and_browses_a_search_in_the_browser(
    service: Server, local_ray: None, tmp_path: Path
) -> None:
    shots = screenshot_dir(tmp_path / "screenshots")
    key = service.user.headers["Authorization"].removeprefix("Bearer ")
    with chromium() as browser:
        page = browser.new_page(viewport=WIDE, accept_downloads=True)
        sign_in(page, service, key)

        # submit through the form: a bad field first, its error beside it; then a good one
        page.get_by_role("link", name="Submit a job").click()
        page.get_by_label("Name").fill("browser test")
        page.get_by_label("Search space").select_option("shufflenet")
        page.get_by_label("cpu-1").check()
        page.get_by_label("Budget: trials").fill("0")
        page.get_by_label("More of the spec").fill(MORE_OF_THE_SPEC)
        page.get_by_role("button", name="Submit job").click()
        error = page.locator(".field", has=page.get_by_label("Budget: trials")).locator(
            "[data-error-for=trials]"
        )
        expect(error).to_contain_text("greater than or equal to 1")
        expect(page.get_by_label("Budget: trials")).to_have_attribute("aria-invalid", "true")
        page.get_by_label("Budget: trials").fill(str(TRIALS))
        page.get_by_role("button", name="Submit job").click()
        expect(page).to_have_url(f"{service.url}/jobs/1")
        summary = page.locator("#job-summary")
        expect(summary).to_contain_text("queued")

        # the job runs while the page watches: progress arrives without a reload
        page.evaluate("window.__sameDocument = true")
        runner = Runner(
            RunnerSettings(database_url=service.database_url),
            sessionmaker(create_db_engine(service.database_url)),
        )
        running = threading.Thread(target=runner.run_once)
        running.start()
        try:
            expect(summary).to_contain_text(re.compile(rf"[1-9]/{TRIALS} done"), timeout=SLOW)
            expect(summary).to_contain_text("succeeded", timeout=SLOW)
        finally:
            running.join()
        assert page.evaluate("window.__sameDocument") is True
        rows = page.locator("#trial-rows tr[data-trial]")
        expect(rows).to_have_count(TRIALS)

        # a reference network measured on the device at the job's input size joins the plot
        reference = reference_on_device(service, "mobilenet_v2@0.5", service.user)
        page.reload()
        expect(page.locator("[data-plot='pareto-cpu-1']")).to_contain_text("mobilenet_v2@0.5")
        assert reference > 0

        # hover a front point: its tooltip names the trial, accuracy, latency and size
        expect(page.locator(".plots[data-final]")).to_have_count(1)  # the finished job's plots
        front = page.locator("[data-plot='pareto-cpu-1'] .scatterlayer .trace").first
        point = front.locator(".points path").first
        expect(point).to_be_visible()
        box = point.bounding_box()  # Plotly hovers by where the mouse is over its plot area
        assert box is not None
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        tooltip = page.locator("[data-plot='pareto-cpu-1'] .hoverlayer .hovertext")
        expect(tooltip).to_contain_text(
            re.compile(r"trial \d+.*accuracy 0\.\d+.*latency on cpu-1: .*measured.*params", re.S)
        )
        expect(page.locator("[data-plot='hypervolume']")).to_be_visible()
        page.screenshot(path=shots / "job.png", full_page=True)

        # sort by accuracy from the keyboard, both ways
        sort = page.get_by_role("button", name="Accuracy")
        sort.focus()
        page.keyboard.press("Enter")
        values = [
            float(v)
            for v in rows.locator("td:nth-child(4)").evaluate_all(
                "cells => cells.map(c => c.dataset.value)"
            )
        ]
        assert values == sorted(values)
        page.keyboard.press("Enter")
        values = [
            float(v)
            for v in rows.locator("td:nth-child(4)").evaluate_all(
                "cells => cells.map(c => c.dataset.value)"
            )
        ]
        assert values == sorted(values, reverse=True)

        # the CSV holds every trial with its latency on the device
        with page.expect_download() as download:
            page.get_by_role("link", name="Download CSV").click()
        table = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
        assert [int(r["number"]) for r in table] == list(range(TRIALS))
        assert all(float(r["latency_ms_cpu-1"]) > 0 for r in table)
        api = service.user.get("/v1/jobs/1/trials").json()["items"]
        assert {r["arch_hash"] for r in table} == {t["arch_hash"] for t in api}

        # compare two trials side by side
        page.get_by_label("compare trial 0").check()
        page.get_by_label("compare trial 1").check()
        page.get_by_role("button", name="Compare selected").click()
        expect(page.get_by_role("heading", name="Compare 2 trials")).to_be_visible()
        expect(page.locator("#compare-table thead")).to_contain_text("Trial 1")
        expect(page.locator("#compare-table")).to_contain_text("Blocks")

        # a trial: layers, latency with provenance, and its ONNX loads in ONNX Runtime
        page.goto(f"{service.url}/jobs/1/trials/0")
        expect(page.locator("#layer-table tbody tr").first).to_be_visible()
        expect(page.locator("#latency-title + .scroll")).to_contain_text("measured")
        page.screenshot(path=shots / "trial.png", full_page=True)
        with page.expect_download() as download:
            page.get_by_role("link", name="Download ONNX").click()
        session = ort.InferenceSession(download.value.path())
        assert session.get_inputs()[0].shape[0] in (1, "batch")

        # devices: online, queue, predictor, and a calibration queued from the page
        page.get_by_role("link", name="Devices").click()
        device = page.locator("[data-device='cpu-1']")
        expect(device).to_contain_text("online")
        expect(device).to_contain_text("onnxruntime")
        device.get_by_label("Networks").fill("1")
        device.get_by_role("button", name="Calibrate").click()
        expect(device.get_by_role("status")).to_contain_text("Queued")
        page.screenshot(path=shots / "devices.png", full_page=True)

        # the jobs page, wide and narrow
        page.get_by_role("link", name="Jobs").click()
        expect(page.locator("tr[data-job='1']")).to_contain_text("succeeded")
        page.screenshot(path=shots / "jobs.png", full_page=True)
        for path in ("/jobs", "/jobs/1", "/jobs/1/trials/0", "/devices", "/submit"):
            page.set_viewport_size(NARROW)
            page.goto(f"{service.url}{path}")
            no_sideways_scroll(page)
        page.screenshot(path=shots / "submit-390px.png", full_page=True)
        page.set_viewport_size(WIDE)

        # sign out: the page and the session's cookie are refused from then on
        cookie = next(c for c in page.context.cookies() if c["name"] == "edgenas_session")
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        page.goto(f"{service.url}/jobs/1")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(page.locator("body")).not_to_contain_text("browser test")
        stale = httpx.get(f"{service.url}/v1/jobs/1", cookies={cookie["name"]: cookie["value"]})
        assert stale.status_code == 401


def test_a_user_who_is_not_signed_in_gets_the_sign_in_page_and_another_users_job_is_404(
    tmp_path: Path,
) -> None:
    with served(f"sqlite:///{tmp_path / 'edgenas.db'}") as server:
        other = server.user_client("bea")
        theirs = other.post("/v1/jobs", json={"name": "bea's secret", "devices": ["nowhere"]})
        assert theirs.status_code == 422  # no such device: make one of bea's own
        other.post("/v1/devices", json={"name": "bea-cpu"})
        theirs = other.post("/v1/jobs", json={"name": "bea's secret", "devices": ["bea-cpu"]})
        assert theirs.status_code == 201, theirs.text
        job_id = theirs.json()["id"]
        key = make_api_key(server.database_url, "ann")
        with chromium() as browser:
            page = browser.new_page(viewport=WIDE)
            for path in (f"/jobs/{job_id}", f"/jobs/{job_id}/trials/0", "/devices", "/jobs"):
                page.goto(f"{server.url}{path}")
                expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
                expect(page.locator("body")).not_to_contain_text("bea")
            sign_in(page, server, key)
            response = page.goto(f"{server.url}/jobs/{job_id}")
            assert response is not None and response.status == 404
            expect(page.get_by_role("heading", name="Not found")).to_be_visible()
            expect(page.locator("main")).not_to_contain_text("bea's secret")
            expect(page.locator("tbody#job-rows")).to_have_count(0)
            page.goto(f"{server.url}/jobs")
            expect(page.locator("#job-rows")).not_to_contain_text("bea's secret")

            # ann's own queued job, cancelled from its page (the button asks first)
            mine = httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
            )
            mine.post("/v1/devices", json={"name": "ann-cpu"})
            job = mine.post("/v1/jobs", json={"name": "ann's", "devices": ["ann-cpu"]}).json()
            page.goto(f"{server.url}/jobs/{job['id']}")
            page.once("dialog", lambda dialog: dialog.accept())
            page.get_by_role("button", name="Cancel job").click()
            expect(page.locator("#job-summary")).to_contain_text("cancelled")
            assert mine.get(f"/v1/jobs/{job['id']}").json()["state"] == "cancelled"
            mine.close()
