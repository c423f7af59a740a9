"""Expected errors are one line with the right exit code; config errors name file, line, column and field."""

from __future__ import annotations

import re

from fixtures.eco import Eco


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def test_config_errors_exit_2_with_file_line_column_field(eco: Eco) -> None:
    eco.edit("    tier: development\n", "    tier: development\n    prot: 8080\n")
    run = eco.tiation("deploy", "local", "cms", expect=2)
    line = one_line(run.stderr)
    assert re.fullmatch(
        r"error: \S*/tiation\.yaml:\d+:5: services\.cms\.prot: unknown key 'prot' \(did you mean 'port'\?\)",
        line,
    ), line
    eco.edit("    prot: 8080\n", "")
    text = eco.file.read_text()
    eco.file.write_text(re.sub(r"(cms:\n    tier: development\n    port: )\d+", r"\1abc", text))
    line = one_line(eco.tiation("validate", expect=2).stderr)
    assert re.fullmatch(
        r"error: \S*/tiation\.yaml:\d+:11: services\.cms\.port: expected an integer, got 'abc'", line
    )


def test_unknown_environment_service_and_missing_file(eco: Eco) -> None:
    assert "unknown environment 'prod'" in one_line(eco.tiation("deploy", "prod", "cms", expect=2).stderr)
    assert "unknown service 'cmz'" in one_line(eco.tiation("deploy", "local", "cmz", expect=2).stderr)
    missing = eco.tiation("status", expect=2, extra_env={"TIATION_FILE": str(eco.root / "nope.yaml")})
    assert "nope.yaml" in one_line(missing.stderr)


def test_unreachable_state_store_is_one_line_without_password(eco: Eco) -> None:
    from fixtures.common import free_port

    url = f"postgresql+psycopg://tiation:hunter2-pw@127.0.0.1:{free_port()}/tiation"
    run = eco.tiation("--state", url, "history", "local", expect=1)
    line = one_line(run.stderr)
    assert "hunter2-pw" not in line and "127.0.0.1" in line
