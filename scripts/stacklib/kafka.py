"""The Kafka half of the dev stack: fetch the broker with Maven once, format KRaft, run it."""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

from . import kafka_secure
from .common import PROJECT_ROOT, Settings, StackError, pom_property, require_tool, tail

POM = PROJECT_ROOT / "scripts" / "kafka" / "pom.xml"
STARTED_MARK = "Kafka Server started"  # KafkaRaftServer logs this once the broker serves
MVN_TIMEOUT_S = int(os.environ.get("ORCHESTRATOR_STACK_MVN_TIMEOUT", "900"))


def kafka_version() -> str:
    return pom_property(POM, "kafka.version")


def _suffix(node: int) -> str:
    """Node 1 keeps the one-broker names (kafka/, kafka.pid, kafka.log); node n adds -n."""
    return "" if node == 1 else f"-{node}"


def home(settings: Settings, node: int = 1) -> Path:
    return settings.state_dir / f"kafka{_suffix(node)}"


def pid_file(settings: Settings, node: int = 1) -> Path:
    return settings.state_dir / f"kafka{_suffix(node)}.pid"


def log_file(settings: Settings, node: int = 1) -> Path:
    return settings.logs_dir / f"kafka{_suffix(node)}.log"


def out_file(settings: Settings, node: int = 1) -> Path:
    return settings.logs_dir / f"kafka{_suffix(node)}.out"


def libs_dir(settings: Settings) -> Path:
    return settings.cache_dir / f"kafka-{kafka_version()}" / "libs"


def ensure_libs(settings: Settings) -> Path:
    """The broker's jars, downloaded by Maven the first time and reused by every clone."""
    libs = libs_dir(settings)
    if (libs / ".complete").exists():
        return libs
    mvn = require_tool("mvn", "install Maven 3.8+ (Debian: apt-get install maven)")
    version = kafka_version()
    staging = libs.with_name("libs.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    mvn_log = settings.logs_dir / "mvn.log"
    print(f"stack: first run: fetching Kafka {version} with Maven into {libs} (~70 MB) ...")
    cmd = [
        mvn,
        "-B",
        "-q",
        "-Dstyle.color=never",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={staging}",
    ]
    with mvn_log.open("w") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=MVN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            shutil.rmtree(staging, ignore_errors=True)
            raise StackError(
                f"Maven did not finish downloading Kafka {version} within {MVN_TIMEOUT_S}s "
                f"(log: {mvn_log}); check access to the Maven repository (~/.m2/settings.xml, "
                "proxy) and rerun, or raise ORCHESTRATOR_STACK_MVN_TIMEOUT"
            ) from None
    if code != 0 or not any(staging.glob("kafka_2.13-*.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        errors = [ln for ln in mvn_log.read_text(errors="replace").splitlines() if "ERROR" in ln]
        reason = errors[0].strip() if errors else f"exit code {code}"
        raise StackError(
            f"Maven could not download Kafka {version}: {reason[:300]} (full log: {mvn_log}); "
            "check access to the Maven repository (~/.m2/settings.xml, proxy) and rerun"
        )
    (staging / ".complete").write_text(version + "\n")
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)  # atomic: a half-finished download is never mistaken for a cache
    return libs


def cluster_id(settings: Settings) -> str:
    """Generated once per state folder and kept, like `kafka-storage random-uuid` would."""
    path = home(settings) / "cluster.id"
    if path.exists():
        return path.read_text().strip()
    while True:
        value = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not value.startswith("-"):  # Kafka avoids ids that look like CLI flags
            break
    path.write_text(value + "\n")
    return value


def server_properties(settings: Settings, node: int = 1) -> str:
    data = home(settings, node) / "data"
    if settings.kafka_security == "sasl_ssl":
        return kafka_secure.server_properties(settings, data)
    port, ctl = settings.broker_port(node), settings.node_controller_port(node)
    voters = ",".join(f"{n}@127.0.0.1:{settings.node_controller_port(n)}" for n in settings.nodes)
    rf, isr = settings.replication_factor, settings.min_insync_replicas
    return f"""# Written by scripts/stack.py on every start; edit the script, not this file.
process.roles=broker,controller
node.id={node}
controller.quorum.voters={voters}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{ctl}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data}
num.partitions=4
default.replication.factor={rf}
min.insync.replicas={isr}
offsets.topic.replication.factor={rf}
offsets.topic.num.partitions=8
transaction.state.log.replication.factor={rf}
transaction.state.log.min.isr={isr}
transaction.state.log.num.partitions=8
# Consumer groups form at once instead of waiting 3 s for more members: fast tests.
group.initial.rebalance.delay.ms=0
# The project creates its own topics with the configs it needs.
auto.create.topics.enable=false
"""


def log4j_properties(settings: Settings, node: int = 1) -> str:
    return f"""# Written by scripts/stack.py on every start.
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File={log_file(settings, node)}
log4j.appender.file.MaxFileSize=50MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.storage.internals.log=WARN
"""


def _java_cmd(settings: Settings, libs: Path, heap: str, node: int = 1) -> list[str]:
    java = require_tool(
        "java", "install a JDK 17 (Debian: apt-get install openjdk-17-jre-headless)"
    )
    log4j = home(settings, node) / "log4j.properties"
    return [
        java,
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-Djava.awt.headless=true",
        f"-Dlog4j.configuration=file:{log4j}",
        *kafka_secure.jvm_options(settings),
        "-cp",
        f"{libs}/*",
    ]


def prepare(settings: Settings, libs: Path, node: int = 1) -> None:
    """Write the configs and format the storage once (KRaft needs meta.properties)."""
    base = home(settings, node)
    (base / "data").mkdir(parents=True, exist_ok=True)
    kafka_secure.check_formatted_for(settings, base / "data")
    (base / "server.properties").write_text(server_properties(settings, node))
    (base / "log4j.properties").write_text(log4j_properties(settings, node))
    if (base / "data" / "meta.properties").exists():
        return
    secured = settings.kafka_security == "sasl_ssl"
    fmt_log = settings.logs_dir / f"kafka{_suffix(node)}-format.log"
    cmd = [
        *_java_cmd(settings, libs, "256m", node),
        "kafka.tools.StorageTool",
        "format",
        "-t",
        cluster_id(settings),  # node 1's: every node of a cluster formats with the same id
        "-c",
        str(base / "server.properties"),
        "--ignore-formatted",
        *(kafka_secure.format_args(settings) if secured else []),
    ]
    with fmt_log.open("w") as out:
        try:
            code = subprocess.run(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=120
            ).returncode
        except subprocess.TimeoutExpired:
            code = -1
    if code != 0:
        raise StackError(f"formatting Kafka storage failed: {tail(fmt_log, 2)} (log: {fmt_log})")
    (base / "data" / "security.mode").write_text(settings.kafka_security + "\n")


def start(settings: Settings, libs: Path, node: int = 1) -> tuple[int, int]:
    """Start one node detached. Returns (pid, size of its log before the start)."""
    log = log_file(settings, node)
    offset = log.stat().st_size if log.exists() else 0
    heap = "1g" if settings.brokers == 1 else "512m"  # a cluster shares one machine
    cmd = [
        *_java_cmd(settings, libs, heap, node),
        "kafka.Kafka",
        str(home(settings, node) / "server.properties"),
    ]
    with out_file(settings, node).open("a") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=home(settings, node),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    pid_file(settings, node).write_text(f"{proc.pid}\n")
    return proc.pid, offset


def started_since(settings: Settings, offset: int, node: int = 1) -> bool:
    """True once the node logged that it serves (log4j may roll the file; then read it all)."""
    log = log_file(settings, node)
    try:
        with log.open("rb") as f:
            if log.stat().st_size >= offset:
                f.seek(offset)
            return STARTED_MARK.encode() in f.read()
    except OSError:
        return False


def failure_reason(settings: Settings, offset: int, node: int = 1) -> str:
    """The last ERROR/FATAL line logged since the start, with the exception message after it."""
    try:
        with log_file(settings, node).open("rb") as f:
            f.seek(offset)
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    for index in range(len(lines) - 1, -1, -1):
        if " ERROR " in lines[index] or " FATAL " in lines[index]:
            detail = lines[index + 1] if index + 1 < len(lines) else ""
            reason = lines[index] if detail.startswith("[") else f"{lines[index]} {detail}"
            return reason.strip()[:400]
    return ""
