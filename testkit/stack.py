"""Runs Liên Thông's services as separate processes, the way an operator would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from testkit.infra import free_port

ROOT = Path(__file__).resolve().parents[1]
#: The test corpus, in the repository (tests/corpus/README.md: sources and licences).
CORPUS = ROOT / "tests" / "corpus"


def lienthong_command() -> list[str]:
    script = Path(sys.executable).parent / "lienthong"
    return [str(script)] if script.exists() else [sys.executable, "-m", "services"]


class Stack:
    """Environment, CLI and processes of one deployment of the services."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.ports = {
            "ingest": free_port(),
            "signing": free_port(),
            "routing": free_port(),
            "web": free_port(),
        }
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")},
            "LIENTHONG_DATA_DIR": str(data_dir),
            "LIENTHONG_INGEST_PORT": str(self.ports["ingest"]),
            "LIENTHONG_SIGNING_PORT": str(self.ports["signing"]),
            "LIENTHONG_ROUTING_PORT": str(self.ports["routing"]),
            "LIENTHONG_WEB_PORT": str(self.ports["web"]),
            **(env or {}),
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*lienthong_command(), *args], env=self.env, capture_output=True, text=True, timeout=120
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"lienthong {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def start(self, *args: str, name: str | None = None) -> subprocess.Popen[bytes]:
        name = name or args[-1]
        log = self.data_dir / f"{name}.log"
        self.logs[name] = log
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [*lienthong_command(), *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name] = proc
        return proc

    def serve(self, service: str) -> subprocess.Popen[bytes]:
        return self.start("serve", service, name=service)

    def wait_healthy(
        self, services: tuple[str, ...] = ("ingest", "signing", "routing"), timeout: float = 60.0
    ) -> None:
        deadline = time.monotonic() + timeout
        for service in services:
            while True:
                proc = self.processes.get(service) or self.processes.get("up")
                if proc is not None and proc.poll() is not None:
                    raise AssertionError(f"{service} exited early:\n{self.log_tail(service)}")
                try:
                    if requests.get(self.url(service) + "/healthz", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{service} is not healthy:\n{self.log_tail(service)}")
                time.sleep(0.2)

    def log_tail(self, name: str, chars: int = 4000) -> str:
        log = self.logs.get(name) or self.logs.get("up")
        return log.read_text(errors="replace")[-chars:] if log and log.exists() else ""

    def stop(self, name: str, sig: int = signal.SIGTERM) -> int:
        proc = self.processes.pop(name)
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        return int(proc.returncode)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)


class AgencyClient:
    """An agency document system talking to the ingest API."""

    def __init__(self, base_url: str, code: str, key: str) -> None:
        self.base_url = base_url
        self.code = code
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {key}"

    def send(self, pdf: bytes, metadata: dict[str, Any], **headers: str) -> requests.Response:
        return self.http.post(
            f"{self.base_url}/v1/documents",
            headers=headers,
            timeout=60,
            files={"file": ("doc.pdf", pdf, "application/pdf")},
            data={"metadata": json.dumps(metadata, ensure_ascii=False)},
        )

    def document(self, doc_id: str) -> requests.Response:
        return self.http.get(f"{self.base_url}/v1/documents/{doc_id}", timeout=30)

    def content(self, doc_id: str) -> requests.Response:
        return self.http.get(f"{self.base_url}/v1/documents/{doc_id}/content", timeout=60)

    def inbox(self) -> list[dict[str, Any]]:
        response = self.http.get(f"{self.base_url}/v1/inbox", timeout=30)
        response.raise_for_status()
        return list(response.json()["items"])

    def report(self, delivery_id: str, code: str, **extra: Any) -> requests.Response:
        return self.http.post(
            f"{self.base_url}/v1/deliveries/{delivery_id}/status",
            json={"code": code, **extra},
            timeout=30,
        )


def metadata_to(*recipients: str, number: str = "15", subject: str | None = None) -> dict[str, Any]:
    return {
        "To": [{"OrganId": r} for r in recipients],
        "Code": {"CodeNumber": number, "CodeNotation": "UBND-VP"},
        "Subject": subject or "Về việc triển khai gửi nhận văn bản điện tử liên thông",
        "DocumentType": {"Type": "1", "TypeName": "Công văn"},
        "PromulgationInfo": {"Place": "Nghệ An", "PromulgationDate": "2026/11/21"},
        "SignerInfo": {
            "Competence": "TM. UBND",
            "Position": "Chủ tịch",
            "FullName": "Nguyễn Văn An",
        },
        "DueDate": "2026/12/01",
        "OtherInfo": {"Priority": 1},
        "SteeringType": 0,
        "Paper": 0,
    }


def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
