"""Label selectors evaluated client side: kubectl's -l form and a Service's equality selector."""

from __future__ import annotations

import pytest

from ansible_collections.erp.platform.plugins.module_utils import label_selectors as selectors


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ("app.kubernetes.io/instance=erp", {"app.kubernetes.io/instance": "erp"}, True),
        ("app.kubernetes.io/instance==erp,tier!=batch", {"app.kubernetes.io/instance": "erp", "tier": "batch"}, False),
        ("tier in (web, api),!legacy", {"tier": "api"}, True),
        ("tier notin (web,api)", {"tier": "api"}, False),
        ("tier", {}, False),
        ("", {"anything": "x"}, True),
    ],
)
def test_label_selector(selector, labels, matches):
    assert selectors.labels_match(selectors.parse_label_selector(selector), labels) is matches


def test_bad_label_selector_raises():
    with pytest.raises(ValueError, match="cannot parse"):
        selectors.parse_label_selector("a in (b")


def test_service_selector_matches_equality_only_and_empty_matches_nothing():
    assert selectors.selector_matches({"app": "a"}, {"app": "a", "x": "y"}) is True
    assert selectors.selector_matches({"app": "a"}, {"app": "b"}) is False
    assert selectors.selector_matches({}, {"app": "a"}) is False
