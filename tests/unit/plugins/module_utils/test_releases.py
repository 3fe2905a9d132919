"""Release records: numbers, what is kept, the verdict, the history table (module_utils/releases.py and its filters)."""

from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.erp.platform.plugins.filter.releases import FilterModule
from ansible_collections.erp.platform.plugins.module_utils import releases

FILTERS = FilterModule().filters()


def record_map(number, **record):
    """A release ConfigMap as the API returns it."""
    return {
        "metadata": {"name": f"erp-release-{number}", "labels": {"erp.platform/release": str(number)}},
        "data": {"release.json": json.dumps(dict(record, number=number))},
    }


OTHER = {"metadata": {"name": "erp-config", "labels": {"app.kubernetes.io/component": "config"}}, "data": {"A": "1"}}


def test_numbers_are_the_records_only_ascending_and_ignore_bad_labels():
    maps = [record_map(3), OTHER, record_map(1), {"metadata": {"name": "x", "labels": {"erp.platform/release": "three"}}}, record_map(3)]
    assert releases.numbers(maps) == [1, 3]
    assert releases.numbers([]) == []


def test_the_next_release_is_one_above_the_highest_and_the_newest_limit_are_kept_by_name():
    assert releases.kept([1, 2, 3], 4, 10) == ["erp-release-1", "erp-release-2", "erp-release-3", "erp-release-4"]
    assert releases.kept(list(range(1, 11)), 11, 10) == [f"erp-release-{n}" for n in range(2, 12)]
    assert FILTERS["release_next"]([], 10) == {"number": 1, "keep": ["erp-release-1"]}
    assert FILTERS["release_next"]([record_map(1), OTHER, record_map(7)], "2") == {"number": 8, "keep": ["erp-release-7", "erp-release-8"]}
    for bad in ("x", 0, None):
        with pytest.raises(AnsibleFilterError, match="release_next: limit"):
            FILTERS["release_next"]([], bad)
    with pytest.raises(AnsibleFilterError, match="release_next: expected a list"):
        FILTERS["release_next"]({"items": []}, 10)


@pytest.mark.parametrize(
    ("verify_result", "apply_failed", "expected"),
    [
        ({"outcome": "healthy", "rolled_back": []}, False, "healthy"),
        ({"outcome": "failed", "failed": True, "rolled_back": [{"name": "finance-service", "verified": True}]}, False, "rolled back"),
        ({"outcome": "failed", "failed": True, "rolled_back": []}, False, "failed"),
        ({"outcome": "timeout", "failed": True}, False, "failed"),
        # The module failed without an outcome (the API stopped answering): the verification failed.
        ({"failed": True, "msg": "API unreachable"}, False, "failed"),
        ({"skipped": True, "skip_reason": "Conditional result was False"}, False, "unverified"),
        (None, False, "unverified"),
        (None, True, "failed"),
        ({"outcome": "healthy"}, True, "failed"),
    ],
)
def test_the_verdict_follows_the_verification(verify_result, apply_failed, expected):
    assert releases.verdict(verify_result, apply_failed) == expected
    assert FILTERS["release_verdict"](verify_result, apply_failed) == expected


def test_history_reads_the_records_oldest_first_and_keeps_an_unreadable_one():
    broken = record_map(2)
    broken["data"]["release.json"] = "{not json"
    history = releases.history([record_map(3, result="healthy"), OTHER, broken, record_map(1, result="failed")])
    assert [(r["number"], r["result"]) for r in history] == [(1, "failed"), (2, "unreadable release.json"), (3, "healthy")]


def test_the_table_names_each_release_its_result_who_and_the_images():
    maps = [
        record_map(
            1,
            time="2026-12-03T10:00:00Z",
            result="healthy",
            environment="local",
            collection_version="0.1.0",
            actor={"user": "ci", "awx_job_id": None},
            services=[{"name": "finance", "tag": "1.0.0"}, {"name": "sales", "tag": None, "digest": "sha256:" + "a" * 64}],
        ),
        record_map(
            2, time="2026-12-03T11:00:00Z", result="rolled back", environment="prod", actor={"user": "admin", "awx_job_id": 42}, services=[], rollback_of=1
        ),
    ]
    lines = FILTERS["release_table"](maps).splitlines()
    assert lines[0] == "2 release(s) recorded"
    assert lines[1].split() == ["RELEASE", "TIME", "RESULT", "ENV", "BY", "VERSION", "RESTORES", "IMAGES"]
    assert lines[2].split() == ["1", "2026-12-03T10:00:00Z", "healthy", "local", "ci", "0.1.0", "-", "finance=1.0.0,", "sales=sha256:" + "a" * 64]
    assert lines[3][lines[1].index("RESTORES") :].strip() == "1"
    assert "rolled back" in lines[3]
    assert "admin (AWX job 42)" in lines[3]
    # Columns line up: every row's RESULT starts where the header's does.
    column = lines[1].index("RESULT")
    assert lines[2][column:].startswith("healthy")
    assert lines[3][column:].startswith("rolled back")
    assert FILTERS["release_table"]([OTHER]) == "no release recorded\nRELEASE  TIME  RESULT  ENV  BY  VERSION  RESTORES  IMAGES"
    with pytest.raises(AnsibleFilterError, match="release_table"):
        FILTERS["release_table"]("erp-release-1")


CATALOG = [{"name": "finance", "enabled": True}, {"name": "sales", "enabled": True}, {"name": "reporting", "enabled": False}]
FINANCE = {"name": "finance", "registry": "docker.io", "repository": "erp-system/finance", "tag": "1.0.0", "digest": None, "replicas": 2}


def test_restore_re_applies_the_recorded_images_replicas_and_config_and_disables_what_the_release_did_not_run():
    maps = [record_map(1, services=[FINANCE], config={"A": "1"}, checksums={"secrets": "abc"}), OTHER, record_map(2, services=[], config={})]
    assert FILTERS["release_restore"](maps, "1", CATALOG) == {
        "number": 1,
        "services": {
            "finance": {"enabled": True, "replicas": 2, "image": {"registry": "docker.io", "repository": "erp-system/finance", "tag": "1.0.0", "digest": None}},
            "sales": {"enabled": False},
        },
        "config": {"A": "1"},
        "secrets_checksum": "abc",
    }


@pytest.mark.parametrize(
    ("number", "maps", "message"),
    [
        (3, [record_map(1, services=[], config={})], r"erp_release: got 3; allowed: the number of a recorded release \(1\)"),
        ("one", [], r"erp_release: got 'one'; allowed: the number of a recorded release \(none\)"),
        (1, [record_map(1, services=[FINANCE])], "holds no configuration or services to restore"),
        (1, [record_map(1, services=[dict(FINANCE, name="payroll")], config={})], "ran payroll, which the catalog no longer defines"),
        (1, [record_map(1, services=[dict(FINANCE, repository=None)], config={})], "does not name the image repository of finance"),
    ],
)
def test_restore_refuses_what_it_cannot_restore_naming_erp_release(number, maps, message):
    with pytest.raises(AnsibleFilterError, match=message):
        FILTERS["release_restore"](maps, number, CATALOG)


def entry(name, tag, enabled=True):
    image = {"registry": "docker.io", "repository": f"erp-system/{name}", "tag": tag, "digest": None, "ref": f"docker.io/erp-system/{name}:{tag}"}
    return {"name": name, "enabled": enabled, "replicas": 2, "image": image}


def test_a_narrowed_run_lists_the_services_it_did_not_apply_as_the_newest_earlier_record_has_them():
    catalog = [entry("finance", "2.0.0"), entry("sales", "2.0.0"), entry("identity", "2.0.0"), entry("reporting", "2.0.0", enabled=False)]
    older = record_map(1, services=[dict(FINANCE, tag="0.9.0"), dict(FINANCE, name="sales", tag="0.9.0")])
    newest = record_map(2, services=[FINANCE, dict(FINANCE, name="sales", repository="erp-system/sales", image="docker.io/erp-system/sales:1.0.0")])
    listed = FILTERS["release_services"](catalog, ["finance"], [newest, OTHER, older])
    assert [(svc["name"], svc["tag"]) for svc in listed] == [("finance", "2.0.0"), ("sales", "1.0.0"), ("identity", "2.0.0")]
    assert listed[0] == {
        "name": "finance",
        "image": "docker.io/erp-system/finance:2.0.0",
        "registry": "docker.io",
        "repository": "erp-system/finance",
        "tag": "2.0.0",
        "digest": None,
        "replicas": 2,
        "strategy": "rolling",
    }
    assert listed[1]["image"] == "docker.io/erp-system/sales:1.0.0"
    # A full run, or the first record: every service from the catalog.
    assert [svc["tag"] for svc in FILTERS["release_services"](catalog, ["finance", "sales", "identity"], [newest])] == ["2.0.0"] * 3
    assert [svc["tag"] for svc in FILTERS["release_services"](catalog, [], [])] == ["2.0.0"] * 3
