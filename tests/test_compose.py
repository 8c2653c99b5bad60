"""docker-compose.yml and the Dockerfile: PostgreSQL + the API, wired as SPEC §5 describes.

No Docker engine is needed: the files are parsed and their structure asserted.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
API_PORT = 8000


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found = compose.get("services")
    assert isinstance(found, dict)
    return found


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment, from either the mapping or the `KEY=value` list form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def _healthcheck_command(service: dict[str, Any]) -> str:
    check = service.get("healthcheck")
    assert isinstance(check, dict), "no healthcheck"
    test = check["test"]
    assert test, "empty healthcheck test"
    return test if isinstance(test, str) else " ".join(str(part) for part in test)


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)
    instructions = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_compose_defines_db_and_api_services(services: dict[str, Any]) -> None:
    assert {"db", "api"} <= services.keys()


def test_db_runs_postgres_15_with_named_volume(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    db = services["db"]
    assert str(db["image"]).split(":") == ["postgres", "15"]
    env = _environment(db)
    assert env["POSTGRES_DB"] == "smartvillage"
    assert env["POSTGRES_PASSWORD"]
    mounts = [str(m).split(":") for m in db["volumes"]]
    data_mounts = [m for m in mounts if m[1:2] == ["/var/lib/postgresql/data"]]
    assert len(data_mounts) == 1, mounts
    volume_name = data_mounts[0][0]
    assert not volume_name.startswith((".", "/")), "data should live in a named volume"
    assert volume_name in (compose.get("volumes") or {})


def test_db_healthcheck_uses_pg_isready(services: dict[str, Any]) -> None:
    assert "pg_isready" in _healthcheck_command(services["db"])


def test_api_builds_from_dockerfile(services: dict[str, Any]) -> None:
    build = services["api"]["build"]
    context, dockerfile = (
        (build, "Dockerfile")
        if isinstance(build, str)
        else (build.get("context", "."), build.get("dockerfile", "Dockerfile"))
    )
    assert (COMPOSE_FILE.parent / context / dockerfile).resolve() == DOCKERFILE


def test_api_waits_for_healthy_db(services: dict[str, Any]) -> None:
    depends_on = services["api"]["depends_on"]
    assert isinstance(depends_on, dict), "use the long form to wait for the healthcheck"
    assert depends_on["db"]["condition"] == "service_healthy"


def test_api_database_url_points_at_db_service(services: dict[str, Any]) -> None:
    raw = _environment(services["api"])["DATABASE_URL"]
    url = make_url(raw)
    assert url.drivername in ("postgresql", "postgresql+asyncpg", "postgresql+psycopg")
    assert url.host == "db"
    assert url.port in (None, 5432)
    db_env = _environment(services["db"])
    assert url.database == db_env["POSTGRES_DB"]
    assert url.username == db_env.get("POSTGRES_USER", "postgres")
    assert url.password == db_env["POSTGRES_PASSWORD"]


def test_api_secret_key_is_required_from_environment(services: dict[str, Any]) -> None:
    value = _environment(services["api"])["SMARTVILLAGE_SECRET_KEY"]
    # ${VAR:?message} makes `docker compose` refuse to start when the variable is unset.
    assert re.fullmatch(r"\$\{SMARTVILLAGE_SECRET_KEY:?\?[^}]*\}", value), value


def test_no_token_secret_ships_with_the_deployment_files(services: dict[str, Any]) -> None:
    # SPEC §9: the signing secret is never a value shipped with the code or its images.
    for path in (COMPOSE_FILE, DOCKERFILE):
        text = path.read_text(encoding="utf-8")
        assert "dev-insecure" not in text
        assert not re.search(r"SMARTVILLAGE_SECRET_KEY[=:]\s*['\"]?[A-Za-z0-9_-]{8,}", text), path
    for keyword, rest in _dockerfile_instructions():
        assert keyword not in ("ENV", "ARG") or "SECRET" not in rest, rest


def test_api_publishes_port_8000(services: dict[str, Any]) -> None:
    container_ports = []
    for port in services["api"]["ports"]:
        if isinstance(port, dict):
            container_ports.append(int(port["target"]))
        else:
            container_ports.append(int(str(port).rsplit(":", 1)[-1].split("/")[0]))
    assert API_PORT in container_ports


def test_api_healthcheck_requests_healthz(services: dict[str, Any]) -> None:
    command = _healthcheck_command(services["api"])
    assert f":{API_PORT}/healthz" in command
    assert "curl" not in command, "python:3.11-slim has no curl"


def test_dockerfile_installs_package_on_python_311_slim() -> None:
    instructions = _dockerfile_instructions()
    froms = [args for keyword, args in instructions if keyword == "FROM"]
    assert froms[-1].split()[0] == "python:3.11-slim"
    runs = " ".join(args for keyword, args in instructions if keyword == "RUN")
    assert re.search(r"pip install \.(\s|$)", runs), runs


def test_dockerfile_cmd_serves_on_all_interfaces() -> None:
    cmds = [args for keyword, args in _dockerfile_instructions() if keyword == "CMD"]
    assert len(cmds) == 1
    argv = json.loads(cmds[0])  # the exec form, so signals reach the server
    assert argv[:2] == ["smartvillage", "serve"]
    assert argv[argv.index("--host") + 1] == "0.0.0.0"
    assert int(argv[argv.index("--port") + 1]) == API_PORT
    assert "--no-demo" in argv  # production never gets demo data or demo accounts


def test_dockerignore_keeps_local_state_out_of_image() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "*.db"} <= patterns
