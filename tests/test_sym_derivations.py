"""The BPTT, unrolled Σ Π and many-to-one derivations: every step proven, every cross-check passes."""

import pytest

import derivations
from derivations import bptt, many_to_one, unrolled
from rnn_sym import Derivation, StepFailed

BUILDERS = [*bptt.DERIVATIONS, *unrolled.DERIVATIONS, *many_to_one.DERIVATIONS]


@pytest.fixture(scope="module")
def built():
    return [build() for build in BUILDERS]


def test_modules_are_registered_in_document_order():
    names = derivations._MODULES
    assert names.index("derivations.bptt") < names.index("derivations.unrolled")
    assert names.index("derivations.unrolled") < names.index("derivations.many_to_one")


def test_slugs_are_unique(built):
    slugs = [d.slug for d in built]
    assert len(slugs) == len(set(slugs))


@pytest.mark.parametrize("index", range(len(BUILDERS)))
def test_every_step_is_proven_and_every_cross_check_passes(built, index):
    d: Derivation = built[index]
    proof = d.verify()
    assert len(proof.steps) == len(d.steps)
    for result in d.run_cross_checks():
        assert result.ok, (d.slug, result)
    assert all(step.display for step in d.steps), "steps on explicit matrices show a compact form"


def test_gradient_derivations_are_cross_checked(built):
    checked = {d.slug for d in built if len(d.cross_checks) == 2}
    for name in ("V", "c", "W", "U", "b", "h0"):
        assert f"bptt-grad-{name}" in checked and f"many-to-one-grad-{name}" in checked
    assert {
        "unrolled-grad-W",
        "unrolled-grad-U",
        "unrolled-grad-b",
        "bptt-expanded-loss",
    } <= checked


def test_output_adjoint_needs_the_one_hot_assumption():
    d = bptt.output_adjoint()
    bare = Derivation("bare", "no assumption", lhs=d.lhs, start=d.start)
    bare.step(d.steps[0].expr, "pretend the targets sum to one")
    with pytest.raises(StepFailed):
        bare.verify()


def test_a_wrong_textbook_step_is_rejected():
    """Replace the recursion's Wᵀ by W: the engine names the failing step."""
    good = bptt.hidden_recursion(2)()
    W = bptt.doc_model().model.W
    wrong_expr = good.steps[0].expr.xreplace(dict(zip(W, W.T, strict=True)))
    bad = Derivation("bad", "bad", lhs=good.lhs, start=good.start)
    bad.step(wrong_expr, "W instead of its transpose")
    with pytest.raises(StepFailed, match="W instead of its transpose"):
        bad.verify()


def test_unrolled_display_is_term_by_term():
    d = unrolled.unrolled_gradient("W")()
    shown = d.steps[0].display
    assert shown.count(r"\operatorname{diag}") == 6  # T = 3: 1 + 2 + 3 terms
    assert r"\big(J(3)J(2)\big)^\top" in shown
