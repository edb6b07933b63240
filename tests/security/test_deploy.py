"""The systemd unit confines the service: private files, bounded descriptors, the usual hardening."""

from __future__ import annotations

from pathlib import Path

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "kexue-notifier.service"


def directives() -> dict[str, list[str]]:
    """The unit's `Key=value` lines, every value of a repeated key kept."""
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_unit_creates_private_files_and_bounds_its_descriptors() -> None:
    unit = directives()
    assert unit["UMask"] == ["0077"]
    assert int(unit["LimitNOFILE"][0]) >= 1024


def test_the_unit_has_the_usual_hardening() -> None:
    unit = directives()
    for key in (
        "NoNewPrivileges",
        "ProtectHome",
        "PrivateTmp",
        "PrivateDevices",
        "ProtectKernelTunables",
        "ProtectKernelModules",
        "ProtectControlGroups",
        "RestrictSUIDSGID",
        "RestrictNamespaces",
        "LockPersonality",
    ):
        assert unit.get(key) == ["true"], key
    assert unit["ProtectSystem"] == ["strict"]
    assert unit["ReadWritePaths"] == ["/opt/kexue-notifier/var"]
    assert unit["CapabilityBoundingSet"] == [""]
