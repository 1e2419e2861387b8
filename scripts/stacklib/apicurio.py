"""Apicurio Registry for the dev stack: built once with Maven from scripts/apicurio/pom.xml into
~/.cache/kafka-orchestrator/apicurio-registry-<version>/ (a Quarkus app: a runner jar and lib/),
then run with Java, its schemas in an H2 database file (ids survive restarts). Its Confluent-
compatible API is at http://127.0.0.1:<port>/apis/ccompat/v7 (docs/adr/0013-schema-registry.md).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
from pathlib import Path

from .common import PROJECT_ROOT, Settings, StackError, pom_property, require_tool

SOURCE = PROJECT_ROOT / "scripts" / "apicurio"
POM = SOURCE / "pom.xml"
RUNNER = "dev-stack-apicurio-0-runner.jar"  # artifactId-version-runner.jar of the pom
CCOMPAT_PATH = "/apis/ccompat/v7"
MVN_TIMEOUT_S = int(os.environ.get("ORCHESTRATOR_STACK_MVN_TIMEOUT", "900"))
# Dev-sized JVM: C1 only and the serial collector start faster and use less memory than the
# defaults on a 2-core machine; a registry for one stack or test sees a few requests a second.
JVM_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xms32m", "-Xmx256m")
# As Confluent's default: a subject's new version must read what the previous one wrote
# (Apicurio's default is no check). Our own schemas evolve that way (schemas/README.md).
CONFIG = ("-Dregistry.rules.global.compatibility=BACKWARD",)


def version() -> str:
    return pom_property(POM, "apicurio.version")


def app_dir(settings: Settings) -> Path:
    return settings.cache_dir / f"apicurio-registry-{version()}"


def runner_jar(settings: Settings) -> Path:
    return app_dir(settings) / RUNNER


def ensure_app(settings: Settings) -> Path:
    """The runnable registry (its runner jar), built by Maven the first time, then reused."""
    app = app_dir(settings)
    if (app / ".complete").exists():
        return app / RUNNER
    app.parent.mkdir(parents=True, exist_ok=True)
    with (app.parent / f"{app.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time (a stack and a test, say)
        if not (app / ".complete").exists():
            _build(settings, app)
    return app / RUNNER


def _build(settings: Settings, app: Path) -> None:
    mvn = require_tool("mvn", "install Maven 3.8+ (Debian: apt-get install maven)")
    require_tool("java", "install a JDK 17 (Debian: apt-get install openjdk-17-jdk-headless)")
    build = app.with_name(app.name + ".build")
    staging = app.with_name(app.name + ".partial")
    for folder in (build, staging):
        shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(SOURCE, build, ignore=shutil.ignore_patterns("target"))
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    mvn_log = settings.logs_dir / "mvn-apicurio.log"
    print(
        f"stack: first run: building Apicurio Registry {version()} with Maven into {app} "
        f"(~180 MB of dependencies into ~/.m2, a few minutes; log: {mvn_log}) ..."
    )
    cmd = [mvn, "-B", "-Dstyle.color=never", "-DskipTests", "package"]
    try:
        code = _run(cmd, build, mvn_log)
        target = build / "target"
        if code != 0 or not (target / RUNNER).exists():
            raise StackError(
                f"Maven could not build Apicurio Registry {version()}: {_first_error(mvn_log)} "
                f"(full log: {mvn_log}); check access to the Maven repository "
                "(~/.m2/settings.xml, proxy) and rerun"
            )
        staging.mkdir(parents=True)
        shutil.move(str(target / RUNNER), staging / RUNNER)
        shutil.move(str(target / "lib"), staging / "lib")
        (staging / ".complete").write_text(version() + "\n")
        shutil.rmtree(app, ignore_errors=True)
        staging.rename(app)  # atomic: a half-finished build is never mistaken for a cache
    finally:
        shutil.rmtree(build, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)


def _run(cmd: list[str], cwd: Path, log: Path) -> int:
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            return proc.wait(timeout=MVN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise StackError(
                f"Maven did not finish building Apicurio Registry {version()} within "
                f"{MVN_TIMEOUT_S}s (log: {log}); check access to the Maven repository "
                "(~/.m2/settings.xml, proxy) and rerun, or raise ORCHESTRATOR_STACK_MVN_TIMEOUT"
            ) from None


def _first_error(log: Path) -> str:
    errors = [ln for ln in log.read_text(errors="replace").splitlines() if "ERROR" in ln]
    return (errors[0].strip() if errors else "no error line")[:300]


def command(jar: Path, port: int, data_dir: Path) -> tuple[list[str], dict[str, str]]:
    """argv and environment of a registry on 127.0.0.1:port keeping its H2 database in data_dir.
    The data folder goes through the environment, not argv, so that `stack.py down` (which stops
    the java processes naming the state folder) tells the registry from Kafka."""
    java = require_tool(
        "java", "install a JDK 17 (Debian: apt-get install openjdk-17-jdk-headless)"
    )
    env = {
        **os.environ,
        "QUARKUS_HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(port),
        "REGISTRY_DATASOURCE_URL": f"jdbc:h2:file:{data_dir / 'registry'}",
        # Never Apicurio's canonical mode: 2.4.2 then stores and serves a schema's canonical
        # text, its record fields sorted by name: another binary layout (ADR 0013).
        "ENABLE_CCOMPAT_CANONICAL_HASH_MODE": "false",
    }
    return [java, *JVM_OPTIONS, *CONFIG, "-jar", str(jar)], env
