"""Corpus-distribution metrics (roleplay.evaluation.corpus) against values computed by hand."""

import math
from collections import Counter

import pytest

from roleplay.dialog import Dialog, Event, Turn
from roleplay.evaluation.corpus import (
    END,
    START,
    action_bigrams,
    action_paths,
    against_reference,
    bigram_jsd,
    distinct_share,
    jsd,
    split_halves,
    two_sample_baseline,
    wasserstein_1d,
)


def test_jsd_of_identical_and_disjoint_distributions():
    assert jsd({"a": 0.3, "b": 0.7}, {"b": 7, "a": 3}) == pytest.approx(0.0)
    assert jsd({"a": 1}, {"b": 1}) == pytest.approx(1.0)


def test_jsd_by_hand():
    # p = (1, 0), q = (1/2, 1/2), m = (3/4, 1/4):
    # KL(p||m) = log2(4/3); KL(q||m) = 1/2 log2(2/3) + 1/2 log2(2); JSD = their mean.
    expected = (math.log2(4 / 3) + 0.5 * math.log2(2 / 3) + 0.5) / 2
    assert expected == pytest.approx(0.311278, abs=1e-6)
    assert jsd({"a": 1.0}, {"a": 0.5, "b": 0.5}) == pytest.approx(expected)
    assert jsd(Counter(a=2), Counter(a=3, b=3)) == pytest.approx(expected)  # raw counts are normalised
    assert jsd({"a": 0.5, "b": 0.5}, {"a": 1.0}) == pytest.approx(expected)  # symmetric


@pytest.mark.parametrize("p, q, problem", [({}, {"a": 1}, "empty"), ({"a": 0}, {"a": 1}, "empty"),
                                           ({"a": -1, "b": 2}, {"a": 1}, "negative")])
def test_jsd_rejects_empty_and_negative_distributions(p, q, problem):
    with pytest.raises(ValueError, match=problem):
        jsd(p, q)


def test_action_paths_are_the_turns_actions_without_queries_or_unlabelled_turns():
    dialog = Dialog(turns=[Turn("User", "hi"), Turn("System", "hello", action="hello"),
                           Turn("User", "book it"), Turn("System", "typed by hand"),
                           Turn("System", "done", action="inform_booked")],
                    events=[Event(type="query", turn=3, data={"action": "query_book"})])
    assert action_paths([dialog, Dialog(turns=[Turn("User", "hi")])]) == [("hello", "inform_booked"), ()]


def test_action_bigrams_frame_each_path():
    assert action_bigrams([("a", "b"), ("a",), ()]) == Counter({
        (START, "a"): 2, ("a", "b"): 1, ("b", END): 1, ("a", END): 1, (START, END): 1})


def test_bigram_jsd_of_paths():
    # {S-a: 1, a-E: 1} against {S-a: 1, a-b: 1, b-E: 1}: p = (1/2, 1/2, 0, 0), q = (1/3, 0, 1/3, 1/3).
    p, q = {1: 0.5, 2: 0.5}, {1: 1 / 3, 3: 1 / 3, 4: 1 / 3}
    assert bigram_jsd([("a",)], [("a", "b")]) == pytest.approx(jsd(p, q))
    m1 = (0.5 + 1 / 3) / 2
    by_hand = (0.5 * math.log2(0.5 / m1) + 0.5 * 1 + 1 / 3 * math.log2((1 / 3) / m1) + 2 / 3 * 1) / 2
    assert jsd(p, q) == pytest.approx(by_hand)


def test_distinct_share():
    assert distinct_share([("a",), ("a",), ("b",), ("a", "b")]) == 0.75
    assert distinct_share(["x"]) == 1.0
    with pytest.raises(ValueError, match="no items"):
        distinct_share([])


def test_split_halves_are_disjoint_complete_and_seeded():
    items = list(range(11))
    first, second = split_halves(items, seed=3)
    assert (len(first), len(second)) == (5, 6)
    assert sorted(first + second) == items
    assert split_halves(items, seed=3) == (first, second)
    assert split_halves(items, seed=4) != (first, second)


def test_two_sample_baseline_draws_disjoint_samples_of_the_given_sizes():
    overlap = lambda a, b: len(set(a) & set(b)) + 10 * ((len(a), len(b)) != (2, 3))  # noqa: E731
    assert two_sample_baseline(list(range(6)), 2, 3, overlap, seed=1, repeats=50) == 0.0
    # Reference [0, 0, 0, 6]: the sample of 1 is the 6 a quarter of the time; |sum(a) - sum(b)| is 6 every time.
    spread = lambda a, b: abs(sum(a) - sum(b))  # noqa: E731
    assert two_sample_baseline([0, 0, 0, 6], 1, 3, spread, seed=0, repeats=40) == 6.0
    # Means: sample of 1 vs 1 out of [0, 0, 0, 6]: |a - b| is 6 in 6 of the 12 ordered pairs: mean 3 over many.
    many = two_sample_baseline([0, 0, 0, 6], 1, 1, spread, seed=0, repeats=4000)
    assert many == pytest.approx(3.0, abs=0.3)


@pytest.mark.parametrize("sizes, repeats, problem", [((3, 4), 1, "need 7"), ((0, 2), 1, "at least 1"),
                                                     ((1, 1), 0, "repeats")])
def test_two_sample_baseline_rejects_impossible_requests(sizes, repeats, problem):
    with pytest.raises(ValueError, match=problem):
        two_sample_baseline(list(range(6)), *sizes, metric=lambda a, b: 0.0, repeats=repeats)


def test_against_reference_scores_a_corpus_and_the_baseline_at_the_same_sizes():
    sizes = []
    def gap(a, b):
        sizes.append((len(a), len(b)))
        return abs(sum(a) / len(a) - sum(b) / len(b))
    score, baseline = against_reference([3] * 20, [1] * 9, gap, seed=0, repeats=5)
    assert (score, baseline) == (2.0, 0.0)
    assert set(sizes) == {(5, 4)}  # halves of 9: A has 4, B 5; the corpus sample matches B
    with pytest.raises(ValueError, match="at least 2"):
        against_reference([1], [1], gap)


def test_wasserstein_1d_by_hand():
    assert wasserstein_1d([0, 1, 3], [5, 6, 8]) == pytest.approx(5.0)  # the same shape, shifted by 5
    assert wasserstein_1d([0, 1], [0, 0]) == pytest.approx(0.5)  # half the mass moves by 1
    assert wasserstein_1d([2, 2, 2], [2]) == 0.0
    # CDFs of [1, 4] and [2, 3]: differ by 1/2 on [1, 2) and on [3, 4): area 1/2 + 1/2.
    assert wasserstein_1d([1, 4], [2, 3]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="non-empty"):
        wasserstein_1d([], [1])


def test_against_reference_can_match_the_reference_mix_of_strata():
    reference = [("a", 0)] * 6 + [("b", 10)] * 6
    corpus = [("a", 0)] * 50 + [("b", 10)] * 2  # mostly a: unstratified samples would be mostly zeros
    mean_gap = lambda x, y: abs(sum(v for _, v in x) / len(x) - sum(v for _, v in y) / len(y))  # noqa: E731
    mix = []
    def recorded(x, y):
        mix.append(sum(k == "b" for k, _ in x) / len(x))
        return mean_gap(x, y)
    score, baseline = against_reference(corpus, reference, recorded, seed=1, repeats=10, key=lambda item: item[0])
    b_shares = mix[1::2]  # the baseline's B halves
    assert all(m <= s + 1e-9 for m, s in zip(mix[::2], b_shares, strict=True))  # the corpus gives as many b as it has
    unstratified, _ = against_reference(corpus, reference, mean_gap, seed=1, repeats=10)
    assert score < unstratified
    # With enough of every stratum the sample's mix is B's exactly.
    mix.clear()
    against_reference([("a", 0)] * 50 + [("b", 10)] * 50, reference, recorded, seed=2, repeats=5,
                      key=lambda item: item[0])
    assert mix[::2] == mix[1::2]
