"""The fastText quality classifier (issue #10): text preparation, weak-label training data that
never touches the evaluation set, training a tiny model in seconds, the registered filter
``quality.fasttext_score``, and eval-filters on the labelled mC4-ja set."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import yaml

from corpusflow.filters.base import FilterConfigError
from corpusflow.filters.catalog import build_step
from corpusflow.filters.text import TextView
from corpusflow.selection.quality import (
    ChanceLevelError,
    QualityModel,
    TrainParams,
    chance_j,
    fasttext_line,
    is_validation,
    train,
)
from corpusflow.selection.quality_data import load_keywords, weak_labels
from tests.conftest import REPO, read_jsonl, write_jsonl
from tests.helpers import run_cli
from tests.test_s3 import BUCKET, s3  # noqa: F401  (the moto S3 server fixture)

LABELS = "ja/mc4ja_quality_labels.dev.jsonl"
# Small and fast: ~2 s on one core (bucket 2^15 x dim 16 floats, not quantized).
TINY = TrainParams(epoch=15, lr=0.5, dim=16, bucket=1 << 15, quantize=False)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("今日は良い天気です。", "今 日 は 良 い 天 気 で す 。"),
        ("Hello, World!", "hello , world !"),
        # NFKC (full-width Latin, digits, ！) and newlines -> one line
        ("送料無料！\nＳＡＬＥ２０２４", "送 料 無 料 ! sale2024"),
        ("React のドキュメント", "react の ド キ ュ メ ン ト"),
        ("", ""),
    ],
)
def test_fasttext_line(text: str, line: str) -> None:
    assert fasttext_line(text) == line


def test_fasttext_line_uses_the_head_only() -> None:
    assert fasttext_line("あ" * 5000, max_chars=10) == " ".join("あ" * 10)


@pytest.fixture(scope="module")
def weak(shared_data: Path) -> tuple[list[str], list[str]]:
    return weak_labels(shared_data, load_keywords())


def test_weak_labels_follow_the_keyword_lists(weak, shared_data: Path, tmp_path: Path) -> None:
    pos, neg = weak
    kw = load_keywords()
    assert len(pos) > 3000 and len(neg) > 1000
    assert all(any(k in t for k in kw) for t in neg)
    assert not any(any(k in t for k in kw) for t in pos[:500])
    # the labelled evaluation set is refused as training input
    from corpusflow.selection.quality_data import _read

    with pytest.raises(ValueError, match="evaluation set"):
        next(_read(shared_data / LABELS))
    # and none of its texts are in the training data
    evaluation = {r["text"] for r in read_jsonl(shared_data / LABELS)}
    assert not evaluation & (set(pos) | set(neg))


@pytest.fixture(scope="module")
def tiny_model(weak, tmp_path_factory) -> tuple[str, object]:
    pos, neg = weak
    path = str(tmp_path_factory.mktemp("quality") / "tiny.bin")
    rep = train(pos[:1000], neg[:1000], path, TINY, epochs=None, lrs=None)
    return path, rep


def test_training_is_fast_deterministic_and_learns(tiny_model, weak, tmp_path: Path) -> None:
    path, rep = tiny_model
    assert rep.positives == 1000 and rep.negatives == 1000
    assert 320 < rep.validation < 480  # ~20 % held out by text hash
    assert rep.validation + rep.train == 2000
    assert rep.validation_accuracy > 0.7 and rep.youden_j > 0.4 > rep.chance_j
    assert rep.validation_pos_mean > rep.validation_neg_mean + 0.3
    assert [(c.epoch, c.lr) for c in rep.grid] == [(15, 0.5)] and (rep.epoch, rep.lr) == (15, 0.5)
    t = rep.thresholds
    assert t["keep_top_10pct_of_negatives"] >= t["keep_top_30pct_of_negatives"] >= t["keep_top_50pct_of_negatives"]
    pos, neg = weak
    again = str(tmp_path / "again.bin")
    train(pos[:1000], neg[:1000], again, TINY, epochs=None, lrs=None)
    assert Path(again).read_bytes() == Path(path).read_bytes()  # same data + params -> same model
    m = QualityModel(path)
    assert m.labels == ["hq", "cc"] or sorted(m.labels) == ["cc", "hq"]
    assert 0.0 <= m.score("送料無料！今だけ激安セール、お問い合わせはお気軽に。") < 0.5
    assert m.score("") == 0.0
    with pytest.raises(ValueError, match="no label 'good'"):
        QualityModel(path, label="good")


def test_training_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="both sides"):
        train(["東京は日本の首都である。"], [], str(tmp_path / "m.bin"), TINY, epochs=None, lrs=None)
    # fastText's own failure (raised in the training process) comes back as a ValueError
    from dataclasses import replace

    with pytest.raises(ValueError, match="fastText training failed"):
        train([f"東京は日本の首都である。{i}" for i in range(40)], [f"激安セール開催中{i}" for i in range(40)],
              str(tmp_path / "m.bin"), replace(TINY, loss="nonsense"), epochs=None, lrs=None)
    assert not (tmp_path / "m.bin").exists()


def test_registered_filter(tiny_model) -> None:
    path, _ = tiny_model
    step = build_step("quality.fasttext_score", {"model": path, "threshold": 0.5})
    assert step.reason_codes() == ["quality.fasttext_score.too_low"]
    assert step.category == "model"
    ad = "送料無料！今だけ激安セール。ご注文はお早めに、お気軽にお問い合わせください。"
    out = step.run(TextView(ad))
    assert out.failure is not None and out.failure.cause == "too_low" and out.failure.op == "<"
    assert out.signals[""] < 0.5
    # the loaded model is not pickled with the step (workers load it in setup())
    clone = pickle.loads(pickle.dumps(step))
    assert clone._model is None
    assert clone.run(TextView(ad)).signals == out.signals
    with pytest.raises(FilterConfigError, match="model file not found"):
        build_step("quality.fasttext_score", {"model": "no/such/model.ftz"})
    with pytest.raises(FilterConfigError, match="threshold"):
        build_step("quality.fasttext_score", {"model": path, "threshold": 1.5})


def test_train_quality_command_and_eval_filters(weak, shared_data: Path, tmp_path: Path, capsys) -> None:
    pos, neg = weak
    p = write_jsonl(tmp_path / "pos.jsonl", [{"text": t} for t in pos[:800]])
    n = write_jsonl(tmp_path / "neg.jsonl", [{"text": t} for t in neg[:800]])
    model = tmp_path / "m.bin"
    rc = run_cli("train-quality", "--positive", p, "--negative", n, "--out", model, "--no-quantize",
                 "--epochs", "2,15", "--lrs", "0.5", "--dim", "16", "--bucket", str(1 << 15),
                 "--json", tmp_path / "train.json")
    assert rc == 0 and model.is_file()
    printed = capsys.readouterr().out
    assert "validation accuracy" in printed and "Youden's J" in printed and "<- chosen" in printed
    rep_train = json.loads((tmp_path / "train.json").read_text())
    assert rep_train["positives"] == 800 and len(rep_train["grid"]) == 2
    best = max(rep_train["grid"], key=lambda c: c["youden_j"])
    assert (rep_train["epoch"], rep_train["youden_j"]) == (best["epoch"], best["youden_j"])
    prof = tmp_path / "quality.yaml"
    prof.write_text(yaml.safe_dump({"name": "q", "languages": ["ja"], "filters": [
        {"name": "quality.fasttext_score", "params": {"model": str(model), "threshold": 0.5}}]}))
    out = tmp_path / "eval.json"
    assert run_cli("eval-filters", "--profile", prof, "--labels", shared_data / LABELS, "--json", out) == 0
    rep = json.loads(out.read_text())
    assert rep["n_bad"] == 435 and rep["n_good"] == 415
    # trained without a single mC4 text, the classifier still drops bad more often than good
    assert rep["youden_j"] > 0.15
    assert rep["recall"] > rep["good_drop_rate"]
    assert run_cli("train-quality", "--positive", tmp_path / "none*.jsonl", "--negative", n, "--out", model) == 2


@pytest.mark.parametrize("share", [0.1, 0.2, 0.5])
def test_validation_split_is_deterministic_and_by_text(share: float) -> None:
    texts = [f"東京の天気は晴れ、最高気温は{i}度でした。" for i in range(2000)]
    held = [t for t in texts if is_validation(t, share, 0)]
    assert abs(len(held) / len(texts) - share) < 0.04
    assert held == [t for t in texts if is_validation(t, share, 0)]  # same split every time
    assert held != [t for t in texts if is_validation(t, share, 1)]  # the seed changes it
    assert not any(is_validation(t, 0.0, 0) for t in texts)


@pytest.mark.parametrize(
    ("n_pos", "n_neg", "q", "expected"),
    [(200, 200, 0.5, 0.1), (50, 50, 0.5, 0.2), (200, 200, 0.0, 0.0), (100, 0, 0.5, 1.0)],
)
def test_chance_j(n_pos: int, n_neg: int, q: float, expected: float) -> None:
    assert chance_j(n_pos, n_neg, q) == pytest.approx(expected, abs=1e-9)


def test_refuses_a_model_at_chance_level(weak, tmp_path: Path) -> None:
    """Labels assigned by a hash of the text, not by its content: nothing to learn, no file."""
    pos, neg = weak
    texts = pos[:600] + neg[:600]
    from corpusflow.core.hashing import stable_hash64

    side = [stable_hash64("random-label", t) % 2 == 0 for t in texts]
    out = tmp_path / "chance.bin"
    with pytest.raises(ChanceLevelError, match="not writing .*validation J .*chance level"):
        train([t for t, s in zip(texts, side, strict=True) if s], [t for t, s in zip(texts, side, strict=True) if not s],
              str(out), TINY, epochs=(2, 15), lrs=(0.5,))
    assert not out.exists() and not list(tmp_path.iterdir())  # no model, no grid leftovers
    p = write_jsonl(tmp_path / "p.jsonl", [{"text": t} for t, s in zip(texts, side, strict=True) if s])
    n = write_jsonl(tmp_path / "n.jsonl", [{"text": t} for t, s in zip(texts, side, strict=True) if not s])
    rc = run_cli("train-quality", "--positive", p, "--negative", n, "--out", out, "--no-quantize",
                 "--epoch", "15", "--lr", "0.5", "--dim", "16", "--bucket", str(1 << 15))
    assert rc == 3 and not out.exists()


def test_recipe_profiles_point_at_the_documented_model() -> None:
    """configs/recipes/filters/ja_web_quality.yaml is ja_web + the classifier: keep it in step."""
    shipped = yaml.safe_load((REPO / "corpusflow/filters/profiles/ja_web.yaml").read_text(encoding="utf-8"))
    combo = yaml.safe_load((REPO / "configs/recipes/filters/ja_web_quality.yaml").read_text(encoding="utf-8"))
    alone = yaml.safe_load((REPO / "configs/recipes/filters/ja_quality_model.yaml").read_text(encoding="utf-8"))
    assert combo["filters"][:-1] == shipped["filters"], (
        "ja_web changed: regenerate configs/recipes/filters/ja_web_quality.yaml (ja_web's filters + the "
        "quality.fasttext_score entry)"
    )
    assert combo["filters"][-1] == alone["filters"][0]
    assert alone["filters"][0]["params"]["model"] == "out/models/ja_quality.ftz"


def test_models_load_from_object_storage(tiny_model, s3, tmp_path: Path) -> None:  # noqa: F811
    """Workers on a cluster read the classifier and a DSIR model from s3:// (copied / read once)."""
    from corpusflow.selection.dsir import DsirModel, fit
    from corpusflow.selection.features import FeatureParams

    path, _ = tiny_model
    s3.put_object(Bucket=BUCKET, Key="models/q.bin", Body=Path(path).read_bytes())
    text = "送料無料！今だけ激安セール。"
    assert QualityModel(f"s3://{BUCKET}/models/q.bin").score(text) == QualityModel(path).score(text)
    step = build_step("quality.fasttext_score", {"model": f"s3://{BUCKET}/models/q.bin"})
    assert step.run(TextView(text)).signals[""] == QualityModel(path).score(text)
    m = fit(["東京都は日本の首都である。"], ["激安セール開催中"], FeatureParams(num_buckets=64))
    m.save(f"s3://{BUCKET}/models/dsir.npz")
    assert DsirModel.load(f"s3://{BUCKET}/models/dsir.npz").log_weight(text) == m.log_weight(text)
