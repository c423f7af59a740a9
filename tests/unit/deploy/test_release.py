"""The release bundle: content digest and a faithful round trip through storage."""

from __future__ import annotations

from pathlib import Path

from tiation.secrets import SecretRef
from tiation.targets.base import Release


def test_round_trip_keeps_secret_references_and_their_base(tmp_path: Path) -> None:
    (tmp_path / "db.pw").write_text("pw-from-file\n")
    release = Release(
        "dev",
        "api",
        "1.0",
        ("app", "{port}"),
        8080,
        env={
            "PW": SecretRef("file:db.pw", base=tmp_path),
            "TOKEN": SecretRef("env:API_TOKEN"),
            "MODE": "prod",
        },
        config={"a.json": "{}"},
    )
    stored = release.to_dict()
    assert stored["env"]["PW"] == {"secret": "file:db.pw", "base": str(tmp_path)}
    assert stored["env"]["TOKEN"] == {"secret": "env:API_TOKEN"}
    assert "pw-from-file" not in str(stored)
    back = Release.from_dict(stored)
    assert back.digest == release.digest
    pw = back.env["PW"]
    assert isinstance(pw, SecretRef) and pw.reveal() == "pw-from-file"


def test_digest_changes_with_any_part_of_the_bundle() -> None:
    base = Release("dev", "api", "1.0", ("app",), 8080, env={"A": "1"}, config={"c": "x"})
    variants = [
        Release("dev", "api", "1.1", ("app",), 8080, env={"A": "1"}, config={"c": "x"}),
        Release("dev", "api", "1.0", ("app", "-v"), 8080, env={"A": "1"}, config={"c": "x"}),
        Release("dev", "api", "1.0", ("app",), 8081, env={"A": "1"}, config={"c": "x"}),
        Release("dev", "api", "1.0", ("app",), 8080, env={"A": "2"}, config={"c": "x"}),
        Release("dev", "api", "1.0", ("app",), 8080, env={"A": "1"}, config={"c": "y"}),
    ]
    digests = {base.digest, *(v.digest for v in variants)}
    assert len(digests) == 6
    assert (
        base.digest == Release("dev", "api", "1.0", ("app",), 8080, env={"A": "1"}, config={"c": "x"}).digest
    )
