"""Scrapyd: the project deploys with scrapyd-client to a real Scrapyd on 127.0.0.1, and an
``xinhua`` job scheduled through ``schedule.json`` archives the demo site.

Scrapyd runs a deployed project from a zipped egg, so this is also the test that the site
profiles, the source mapping and the Jekyll templates load as package data from a zip file.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from archive_checks import check_archive, describe, front_matter_loads, summary_of
from conftest import DEMO_SITE, PROJECT, free_port, require, scrapy_env

from crawler.replay import ReplayProxy

START_URLS = ",".join((DEMO_SITE / "start_urls.txt").read_text(encoding="utf-8").split())
STARTUP_TIMEOUT = 30  # seconds for Scrapyd to answer daemonstatus.json
DEPLOY_TIMEOUT = 180  # building the egg and Scrapyd listing its spiders
JOB_TIMEOUT = 120  # the demo crawl takes a few seconds
# Appended to the deployed copy's _config.yml template: found in the archive, it shows that the
# job read its package data from the egg, not from the source checkout (which the test's
# environment can import too, as an editable install).
EGG_MARKER = "# packaged into the Scrapyd egg by tests/test_scrapyd.py"
# Not copied into the folder that is deployed, besides dot-folders (.venv, .git, caches).
NOT_DEPLOYED = {"archive", "build", "dist"}


def _tool(name: str) -> str | None:
    """A console script of the test's environment (next to its Python), or one on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else shutil.which(name)


def _isolated_env(home: Path, proxy: ReplayProxy | None) -> dict[str, str]:
    """No inherited proxies (the replay proxy if given), no user configuration of Scrapy,
    Scrapyd or scrapyd-client, no other project on the Python path."""
    env = scrapy_env(proxy)
    for key in list(env):
        if key.startswith("SCRAPY") or key == "PYTHONPATH":
            del env[key]
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), PYTHONUNBUFFERED="1")
    return env


def _not_deployed(folder: str, names: list[str]) -> set[str]:
    top = Path(folder) == PROJECT
    return {
        name
        for name in names
        if name == "__pycache__"
        or name.endswith(".egg-info")
        or (top and (name.startswith(".") or name in NOT_DEPLOYED))
    }


@dataclass
class Scrapyd:
    url: str
    workdir: Path  # scrapyd.conf, eggs/, logs/, dbs/
    output: Path  # Scrapyd's own log
    process: subprocess.Popen[bytes]

    def get(self, endpoint: str, **params: str) -> dict[str, Any]:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return self._call(urllib.request.Request(self.url + endpoint + query))

    def post(self, endpoint: str, fields: list[tuple[str, str]]) -> dict[str, Any]:
        data = urllib.parse.urlencode(fields).encode("ascii")
        return self._call(urllib.request.Request(self.url + endpoint, data=data))

    def _call(self, request: urllib.request.Request) -> dict[str, Any]:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
        with opener.open(request, timeout=30) as response:
            return json.load(response)

    def log(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            assert self.process.poll() is None, f"scrapyd exited:\n{self.log()[-4000:]}"
            with suppress(OSError):
                if self.get("daemonstatus.json")["status"] == "ok":
                    return
            assert time.monotonic() < deadline, f"scrapyd not up after {STARTUP_TIMEOUT} s"
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop Scrapyd and any job it still runs (they share its process group)."""
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def scrapyd(tmp_path: Path, replay: Any) -> Iterator[Scrapyd]:
    """A Scrapyd on 127.0.0.1 with empty folders; its jobs fetch through a replay proxy of
    the demo site (Scrapyd hands its environment, http_proxy included, to every job)."""
    server = _tool("scrapyd")
    require(
        server is not None and _tool("scrapyd-deploy") is not None,
        "scrapyd and scrapyd-deploy are not installed: pip install -e '.[deploy]'",
    )
    assert server is not None
    workdir = tmp_path / "scrapyd"
    workdir.mkdir()
    port = free_port()
    (workdir / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        "bind_address = 127.0.0.1\n"
        f"http_port = {port}\n"
        f"eggs_dir = {workdir / 'eggs'}\n"
        f"logs_dir = {workdir / 'logs'}\n"
        f"dbs_dir = {workdir / 'dbs'}\n"
        "items_dir =\n"
        "jobs_dir =\n"
        "max_proc = 1\n"
        "poll_interval = 0.2\n",
        encoding="utf-8",
    )
    output = workdir / "scrapyd.out"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [server],
            cwd=workdir,  # Scrapyd reads ./scrapyd.conf; jobs run here, away from the checkout
            env=_isolated_env(tmp_path / "home", replay(DEMO_SITE)),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    instance = Scrapyd(f"http://127.0.0.1:{port}/", workdir, output, process)
    try:
        instance.wait_ready()
        yield instance
    finally:
        instance.stop()


def deploy(scrapyd: Scrapyd, tmp_path: Path) -> dict[str, Any]:
    """``scrapyd-deploy local`` from a copy of the project whose target points at ``scrapyd``
    (scrapyd-deploy builds the egg in the project folder: the checkout is left alone)."""
    project = tmp_path / "project"
    shutil.copytree(PROJECT, project, ignore=_not_deployed)
    config = configparser.ConfigParser()
    config.read(project / "scrapy.cfg", encoding="utf-8")
    assert dict(config["deploy:local"]) == {"url": "http://127.0.0.1:6800/", "project": "crawler"}
    config["deploy:local"]["url"] = scrapyd.url
    with (project / "scrapy.cfg").open("w", encoding="utf-8") as file:
        config.write(file)
    template = project / "crawler" / "site_template" / "_config.yml"
    template.write_text(template.read_text(encoding="utf-8") + EGG_MARKER + "\n", encoding="utf-8")
    deploy_tool = _tool("scrapyd-deploy")
    assert deploy_tool is not None
    result = subprocess.run(
        [deploy_tool, "local", "--version", "1"],
        cwd=project,
        env=_isolated_env(tmp_path / "home", None),
        capture_output=True,
        text=True,
        timeout=DEPLOY_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, describe(result)
    response = json.loads(result.stdout)  # scrapyd-deploy prints addversion.json's answer
    assert response["status"] == "ok", describe(result)
    return response


def test_deployed_project_runs_a_scheduled_crawl(scrapyd, tmp_path):
    deployed = deploy(scrapyd, tmp_path)
    assert (deployed["project"], deployed["version"]) == ("crawler", "1")
    assert "xinhua" in scrapyd.get("listspiders.json", project="crawler")["spiders"]

    archive, summary = tmp_path / "archive", tmp_path / "last-run.json"
    job = scrapyd.post(
        "schedule.json",
        [
            ("project", "crawler"),
            ("spider", "xinhua"),
            ("setting", f"ARCHIVE_DIR={archive}"),
            ("setting", "AUTOTHROTTLE_ENABLED=False"),
            ("setting", "DOWNLOAD_DELAY=0"),
            ("setting", f"RUN_SUMMARY_FILE={summary}"),
            ("start_urls", START_URLS),  # a spider argument
        ],
    )
    assert job["status"] == "ok", job
    jobid = job["jobid"]
    deadline = time.monotonic() + JOB_TIMEOUT
    while not any(
        finished["id"] == jobid
        for finished in scrapyd.get("listjobs.json", project="crawler")["finished"]
    ):
        assert scrapyd.process.poll() is None, f"scrapyd exited:\n{scrapyd.log()[-4000:]}"
        assert time.monotonic() < deadline, f"job not finished in {JOB_TIMEOUT} s"
        time.sleep(0.2)

    job_log = scrapyd.workdir / "logs" / "crawler" / "xinhua" / f"{jobid}.log"
    log = job_log.read_text(encoding="utf-8") if job_log.exists() else "(no job log)"
    context = f"job log:\n{log[-6000:]}\nscrapyd:\n{scrapyd.log()[-3000:]}"
    run = summary_of(summary)
    assert run is not None, context
    assert (run["status"], run["new"], run["errors"]) == ("ok", 7, 0), context
    assert run["dropped"].get("MissingDate") == 1, context
    assert "Traceback" not in log, context

    # The demo site's expected outcome (crawler/demo_site/README.md): 7 posts, each once.
    files = check_archive(archive).files
    assert len(files) == 7, context
    ids = [front_matter_loads(path)["article_id"] for path in files]
    assert len(set(ids)) == 7
    # The Jekyll site files came from the egg's templates.
    assert (archive / "_config.yml").read_text(encoding="utf-8").endswith(EGG_MARKER + "\n")
    assert (archive / "_layouts" / "post.html").is_file()
    assert list((archive / "category").glob("*.html"))
