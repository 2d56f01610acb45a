"""rnn_spec: the model specification. Structure, the CLI syntax, and its errors."""

import itertools

import pytest

from rnn_spec import (
    ACTIVATIONS,
    BIASES,
    CANONICAL,
    H0S,
    HEADS,
    REDUCTIONS,
    Model,
    ModelError,
    parse_model,
)


def _all_models():
    for cell, biases, head, reduction, task, h0 in itertools.product(
        ("rnn", "lstm", "gru"),
        BIASES,
        HEADS,
        REDUCTIONS,
        ("many-to-many", "many-to-one", "step=2"),
        H0S,
    ):
        try:
            yield Model(cell=cell, biases=biases, head=head, reduction=reduction, task=task, h0=h0)
        except ModelError:
            continue


def test_canonical_model_is_notation_md():
    m = Model()
    assert m == CANONICAL == parse_model(None) == parse_model("")
    shapes = {b.name: b.shape for b in m.blocks(n_x=2, n_h=3, n_y=4)}
    assert shapes == {"U": (3, 2), "W": (3, 3), "V": (4, 3), "b": (3,), "c": (4,)}
    assert m.gradient_names() == ("U", "W", "V", "b", "c", "h0")
    assert m.activation == "tanh" and m.mse_scale is None and m.short() == "canonical"


def test_every_model_round_trips_through_its_text():
    models = list(_all_models())
    assert len(models) > 300
    for m in models:
        assert parse_model(str(m)) == m
        assert parse_model(m.short()) == m, m.short()


@pytest.mark.parametrize("biases", BIASES)
def test_biases_options_name_exactly_their_blocks(biases):
    names = set(Model(biases=biases).block_names())
    expected = {
        "both": {"b", "c"},
        "none": set(),
        "hidden": {"b"},
        "output": {"c"},
        "torch": {"b_ih", "b_hh", "c"},
    }[biases]
    assert names - {"U", "W", "V"} == expected


def test_gated_cells_have_one_block_per_gate_in_torch_order():
    lstm = Model(cell="lstm", biases="torch")
    names = lstm.block_names()
    assert names[:8] == ("U_i", "U_f", "U_g", "U_o", "W_i", "W_f", "W_g", "W_o")
    assert names[9:17] == ("b_ii", "b_hi", "b_if", "b_hf", "b_ig", "b_hg", "b_io", "b_ho")
    assert lstm.gradient_names()[-2:] == ("h0", "c0")
    gru = Model(cell="gru", biases="torch", head="given")
    assert gru.block_names() == (
        "U_r", "U_z", "U_n", "W_r", "W_z", "W_n",
        "b_ir", "b_hr", "b_iz", "b_hz", "b_in", "b_hn",
    )  # fmt: skip
    assert gru.states == ("h",) and lstm.states == ("h", "c")
    assert {b.gate for b in gru.blocks(2, 3)} == {"r", "z", "n"}
    assert next(b for b in gru.blocks(2, 3) if b.name == "b_hn").latex == "b_{hn}"


@pytest.mark.parametrize(
    ("task", "T", "steps", "denominators"),
    [
        ("many-to-many", 4, (1, 2, 3, 4), {"sum": 1, "mean-time": 4, "mean-batch": 5, "mean": 20}),
        ("many-to-one", 4, (4,), {"sum": 1, "mean-time": 1, "mean-batch": 5, "mean": 5}),
        ("step=2", 4, (2,), {"sum": 1, "mean-time": 1, "mean-batch": 5, "mean": 5}),
    ],
)
def test_loss_steps_and_reduction(task, T, steps, denominators):
    for reduction, denominator in denominators.items():
        m = Model(task=task, reduction=reduction)
        assert m.loss_steps(T) == steps
        assert m.loss_scale_denominator(T, B=5) == denominator


def test_options_that_apply_get_defaults_and_others_are_dropped():
    assert Model(head="mse").mse_scale == "half"
    assert Model(cell="lstm").activation is None
    m = Model(head="mse", mse_scale="one").replace(head="softmax-ce")
    assert m.mse_scale is None
    assert Model(activation="relu").replace(cell="gru").activation is None
    assert Model(task="step=3").replace(task="many-to-one").step is None
    assert parse_model({"cell": "gru", "h0": "per-sequence"}).h0 == "per-sequence"
    assert parse_model("task=step=3") == Model(task="step", step=3)
    assert parse_model(" cell = lstm , mse-scale=one , head=mse ").mse_scale == "one"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("cell=lstm,activation=relu", ["activation", "cell=lstm", "Fix"]),
        ("cell=gru,activation=tanh", ["activation", "cell=gru"]),
        ("colour=red", ["unknown model key 'colour'", "cell, activation"]),
        ("cell=transformer", ["cell='transformer'", "rnn, lstm, gru"]),
        ("activation=softplus", ["activation='softplus'", "identity"]),
        ("biases=two", ["biases='two'", "torch"]),
        ("head=hinge", ["head='hinge'", "softmax-ce"]),
        ("reduction=median", ["reduction='median'", "mean-time"]),
        ("task=seq2seq", ["task='seq2seq'", "step=K"]),
        ("task=step=0", ["positive integer", "task=step=3"]),
        ("task=step=x", ["positive integer"]),
        ("h0=random", ["h0='random'", "per-sequence"]),
        ("mse_scale=one", ["only applies to head=mse"]),
        ("head=mse,mse_scale=third", ["mse_scale='third'", "half, one"]),
        ("head=given,biases=output", ["no", "output layer", "Fix"]),
        ("head=given,reduction=mean", ["do not apply", "reduction=mean"]),
        ("cell=lstm,cell=gru", ["given twice"]),
        ("lstm", ["not key=value", "--model cell=lstm"]),
    ],
)
def test_bad_models_are_one_clear_error(text, words):
    with pytest.raises(ModelError) as info:
        parse_model(text)
    for word in words:
        assert word in str(info.value)


def test_bad_sizes_and_steps_name_the_fix():
    with pytest.raises(ModelError, match="n_h must be a positive integer"):
        Model().blocks(n_x=2, n_h=0, n_y=2)
    with pytest.raises(ModelError, match="n_y must be a positive integer"):
        Model().blocks(n_x=2, n_h=3)
    with pytest.raises(ModelError, match="no output layer"):
        Model(head="given").blocks(2, 3, 2)
    with pytest.raises(ModelError, match=r"T = 3 steps.*1 <= K <= 3"):
        Model(task="step=5").loss_steps(3)
    with pytest.raises(ModelError, match="a model is given as text"):
        parse_model(42)


def test_every_choice_is_accepted():
    for activation in ACTIVATIONS:
        assert Model(activation=activation).activation == activation
    for head in HEADS:
        assert Model(head=head).head == head
