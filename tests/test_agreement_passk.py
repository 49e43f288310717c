"""Judge agreement statistics and pass^k against published and hand-computed values."""

from __future__ import annotations

import pytest

from roleplay.evaluation.agreement import krippendorff_alpha, spearman
from roleplay.evaluation.passk import pass_hat_k, pass_k_table

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers x 12 units, gaps as None.
KRIPPENDORFF_2011 = [
    [1, 1, None, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2], [1, 2, 3, 4],
    [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [None, 5, 5, 5], [None, None, 1, 1], [None, 3, None, None],
]


@pytest.mark.parametrize(("metric", "published"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_alpha_matches_krippendorffs_published_example(metric, published):
    assert krippendorff_alpha(KRIPPENDORFF_2011, metric) == pytest.approx(published, abs=5e-4)


def test_alpha_hand_computed_cases():
    assert krippendorff_alpha([[1, 1], [2, 2], [3, 3]], "interval") == 1.0
    # two judges swap 1 and 2: D_o = (1/4)(2 + 2) = 1; D_e = 8 differing ordered pairs / (4*3) = 2/3 -> 1 - 3/2
    assert krippendorff_alpha([[1, 2], [2, 1]], "nominal") == pytest.approx(-0.5)
    assert krippendorff_alpha([[3, 3], [3, 3]]) is None  # no variation: undefined
    assert krippendorff_alpha([[1, None], [2]]) is None  # nothing pairable
    with pytest.raises(ValueError, match="metric must be"):
        krippendorff_alpha([[1, 2], [2, 1]], "ratio")


def test_spearman_hand_computed_with_ties():
    # ranks of y: 1, 2, 3.5, 5, 3.5; Pearson with 1..5 = 0.8207826816681233 (scipy's documented example)
    assert spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(0.8207826816681233)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3], [4, 4, 4]) is None
    with pytest.raises(ValueError, match="paired"):
        spearman([1, 2], [1])


def test_pass_hat_k_equals_the_hand_computed_value():
    outcomes = {"a": [True, True, False], "b": [False, True, False], "c": [True, True, True]}
    # pass^1 = (2/3 + 1/3 + 1)/3 = 2/3; pass^2 = (C(2,2)/C(3,2) + 0 + 1)/3 = (1/3 + 1)/3 = 4/9; pass^3 = 1/3
    assert pass_hat_k(outcomes, 1) == pytest.approx(2 / 3)
    assert pass_hat_k(outcomes, 2) == pytest.approx(4 / 9)
    assert pass_hat_k(outcomes, 3) == pytest.approx(1 / 3)
    assert pass_hat_k(outcomes, 4) is None
    assert pass_k_table(outcomes) == [{"k": 1, "pass_hat_k": 0.6667, "tasks": 3},
                                      {"k": 2, "pass_hat_k": 0.4444, "tasks": 3},
                                      {"k": 3, "pass_hat_k": 0.3333, "tasks": 3}]
    with pytest.raises(ValueError):
        pass_hat_k(outcomes, 0)


def test_tasks_with_fewer_trials_are_left_out_of_larger_k():
    table = pass_k_table({"a": [True, False], "b": [True]})
    assert table == [{"k": 1, "pass_hat_k": 0.75, "tasks": 2}, {"k": 2, "pass_hat_k": 0.0, "tasks": 1}]
