"""The production path without Docker: the wheel, installed as the Dockerfile installs it.

Docker does not run on the test machines, so this test does what the Dockerfile does with the
same files: it copies what the build stage COPYs, builds the wheel, installs it (not editable)
into a fresh virtual environment, and runs the image's steps from `/` — the RUN step's
`leakbot --version`, `leakbot assess`, `leakbot migrate`, the CMD `leakbot run` and the
HEALTHCHECK command against it, then SIGTERM. The dependencies come from the test's own
environment through a .pth line (no network, a few seconds), and the wheel is built without
build isolation for the same reason.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import APPROVER_1, CHANNEL
from leakbot_process import SIGTERM, BotProcess, clean_env, free_port, run_command
from slackemu import SlackEmulator

# One worker runs this module (addopts `--dist loadgroup`): the wheel and its venv are built once.
pytestmark = pytest.mark.xdist_group("deploy")

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
TOKEN = "xoxb-deploy-token"
PIP = [sys.executable, "-m", "pip"]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def build_stage_copies() -> list[str]:
    """What the build stage copies from the repository (before the second FROM)."""
    copies, stage = [], 0
    for word, rest in instructions():
        if word == "FROM":
            stage += 1
        elif word == "COPY" and stage == 1 and not rest.startswith("--from"):
            copies += shlex.split(rest)[:-1]
    return copies


def healthcheck_command() -> str:
    [rest] = [rest for word, rest in instructions() if word == "HEALTHCHECK"]
    return rest.split(" CMD ", 1)[1]


def final_cmd() -> list[str]:
    cmds = [rest for word, rest in instructions() if word == "CMD"]
    return list(json.loads(cmds[-1]))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the built wheel installed; returns its bin/ folder."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    source.mkdir()
    for name in build_stage_copies():
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(origin, source / name)
    wheels = root / "wheels"
    subprocess.run(
        [
            *PIP,
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = wheels.glob("leakbot-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The dependencies, from this environment (its own editable leakbot is not on that path:
    # a .pth line adds a folder without running the .pth files inside it).
    Path(purelib, "_leakbot_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            *PIP,
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    return venv / "bin"


def wheel_env(bin_dir: Path, **values: str) -> dict[str, str]:
    env = clean_env(**values)
    env["PATH"] = f"{bin_dir}:{env.get('PATH', '')}"
    return env


async def test_the_wheel_runs_the_dockerfile_steps_from_the_root_folder(
    installed: Path, tmp_path: Path
) -> None:
    env = wheel_env(installed)
    leakbot = [str(installed / "leakbot")]

    # RUN … && leakbot --version
    version = await run_command(["--version"], env, "/", command=leakbot)
    assert version.code == 0 and re.fullmatch(r"leakbot \d+\.\d+\.\d+\n", version.out), version

    # The code and the playbooks come from the installed wheel, not from the repository.
    where = await run_command(
        [
            "-c",
            "import bot, bot.domain.playbook as p, bot.domain.i18n as i;"
            "print(bot.__file__); print(p.DEFAULT_PLAYBOOK_DIR); print(i.CATALOG_DIR)",
        ],
        env,
        "/",
        command=[str(installed / "python")],
    )
    assert where.code == 0, where.err
    for path in where.out.split():
        assert path.startswith(str(installed.parent)), where.out
        assert Path(path).exists()

    # Every file of playbooks/ (document templates in subfolders included) is in the wheel.
    installed_playbooks = Path(where.out.split()[1])
    shipped = {
        path.relative_to(REPO / "playbooks")
        for path in (REPO / "playbooks").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert shipped and all((installed_playbooks / name).is_file() for name in shipped), shipped

    answers = tmp_path / "case.json"
    answers.write_text(
        json.dumps({"cause": "intentional", "data_kinds": ["customer_personal"]}),
        encoding="utf-8",
    )
    assessed = await run_command(
        [
            "assess",
            "--answers",
            str(answers),
            "--json",
            "--lang",
            "en",
            "--now",
            "2026-11-26T10:00",
        ],
        env,
        "/",
        command=leakbot,
    )
    assert assessed.code == 0, assessed.err
    result = json.loads(assessed.out)
    assert set(result) >= {"recommendation", "distribution", "survey", "deadlines", "checklist"}


async def test_the_wheel_migrates_runs_answers_the_healthcheck_and_stops(
    installed: Path, tmp_path: Path
) -> None:
    port = free_port()
    async with SlackEmulator(valid_tokens=[TOKEN]) as emu:
        emu.add_channel(CHANNEL, is_member=True)
        env = wheel_env(
            installed,
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET="deploy-signing-secret",
            SLACK_API_URL=emu.api_url,
            DATABASE_URL=f"sqlite:///{tmp_path / 'leakbot.db'}",
            LEAKBOT_ESCALATION_CHANNEL=CHANNEL,
            LEAKBOT_APPROVERS=APPROVER_1,
            PORT=str(port),
        )
        migrated = await run_command(["migrate"], env, "/", command=[str(installed / "leakbot")])
        assert migrated.code == 0, migrated.err
        # LEAKBOT_LANGUAGE unset: Japanese, from the catalog installed with the wheel.
        assert "のスキーマは" in migrated.out and "（最新）" in migrated.out, migrated.out

        health = ["sh", "-c", healthcheck_command()]
        before = subprocess.run(health, env=env, cwd="/", capture_output=True, timeout=30)
        assert before.returncode != 0  # nothing listens yet: unhealthy

        cmd = final_cmd()
        assert cmd[0] == "leakbot"
        bot = BotProcess(cmd[1:], env, "/", command=[str(installed / cmd[0])])
        await bot.start()
        try:
            await bot.wait_for_message("leakbot is running")
            # The image's HEALTHCHECK, as Docker runs it (a shell, the image's PATH and PORT).
            after = subprocess.run(health, env=env, cwd="/", capture_output=True, timeout=30)
            assert after.returncode == 0, after.stderr
            code, seconds = await bot.signal_and_time(SIGTERM)
        finally:
            await bot.kill()
    assert code == 0, bot.text()
    assert seconds < 5.0
    assert "Traceback" not in bot.text()
