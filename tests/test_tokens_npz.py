"""scripts/tokens_npz.py: text lines -> token .npz files for a text encoder, with an offline tokenizer.

A tiny WordLevel tokenizer (BERT-like: [CLS] ... [SEP], [PAD] = 0) is built here with the `tokenizers`
library; the script runs as a subprocess, as users run it. No model, no torch.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tokenizers")

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "tokens_npz.py"
VOCAB = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "hello": 4, "world": 5, "the": 6, "cat": 7, "sat": 8,
         "on": 9, "mat": 10}
PAD, UNK, CLS, SEP = 0, 1, 2, 3


def make_tokenizer(folder: Path, vocab: dict[str, int] = VOCAB, pad: str | None = None) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    if pad is not None:  # a padding setting saved in tokenizer.json
        tok.enable_padding(pad_id=vocab[pad], pad_token=pad)
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    return folder / "tokenizer.json"


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory) -> Path:
    return make_tokenizer(tmp_path_factory.mktemp("tok"))


def run(*args: str | Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], check=False, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


def texts(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def test_known_sentences_ids_mask_and_padding(tmp_path, tokenizer):
    src = texts(tmp_path, "hello world", "", "   ", "the cat sat on the mat", "hello dog")
    done = run("--tokenizer", tokenizer, "--texts", src, "--length", 8, "--out", tmp_path / "t.npz")
    assert done.returncode == 0, done.stderr
    assert "pad id 0 ('[PAD]'" in done.stdout
    arrays = load(tmp_path / "t.npz")
    assert list(arrays) == ["input_ids", "attention_mask"]  # the default names, in that order
    for a in arrays.values():
        assert a.dtype == np.int64 and a.shape == (3, 8)  # blank lines skipped
    ids, mask = arrays["input_ids"], arrays["attention_mask"]
    assert ids[0].tolist() == [CLS, 4, 5, SEP, PAD, PAD, PAD, PAD]
    assert mask[0].tolist() == [1, 1, 1, 1, 0, 0, 0, 0]
    assert ids[1].tolist() == [CLS, 6, 7, 8, 9, 6, 10, SEP]  # exactly 8 tokens: neither padded nor cut
    assert mask[1].tolist() == [1] * 8
    assert ids[2].tolist()[:4] == [CLS, 4, UNK, SEP]  # an out-of-vocabulary word is [UNK]
    assert (ids[mask == 0] == PAD).all() and (mask[ids == PAD] == 0).all()


def test_truncation_keeps_the_special_tokens(tmp_path, tokenizer):
    src = texts(tmp_path, "the cat sat on the mat", "hello")
    done = run("--tokenizer", tokenizer.parent, "--texts", src, "--length", 5, "--out", tmp_path / "t.npz")
    assert done.returncode == 0, done.stderr
    assert "1 of 2 sentences truncated to 5 tokens (longest 8" in done.stdout
    arrays = load(tmp_path / "t.npz")
    assert arrays["input_ids"].tolist() == [[CLS, 6, 7, 8, SEP], [CLS, 4, SEP, PAD, PAD]]
    assert arrays["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]


def test_names_token_type_ids_and_renamed_inputs(tmp_path, tokenizer):
    src = texts(tmp_path, "hello world")
    done = run("--tokenizer", tokenizer, "--texts", src, "--length", 6,
               "--names", "ids=input_ids,mask=attention_mask,token_type_ids", "--out", tmp_path / "t.npz")
    assert done.returncode == 0, done.stderr
    arrays = load(tmp_path / "t.npz")
    assert list(arrays) == ["ids", "mask", "token_type_ids"]
    assert arrays["ids"].tolist() == [[CLS, 4, 5, SEP, PAD, PAD]]
    assert arrays["mask"].tolist() == [[1, 1, 1, 1, 0, 0]]
    assert arrays["token_type_ids"].dtype == np.int64 and arrays["token_type_ids"].tolist() == [[0] * 6]


def test_split_writes_calibration_and_eval_in_file_order(tmp_path, tokenizer):
    src = texts(tmp_path, "hello", "world", "the cat", "sat", "on the mat")
    done = run("--tokenizer", tokenizer, "--texts", src, "--length", 4, "--split", 0.8,
               "--out", tmp_path / "data" / "tok")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["tok_calibration.npz", "tok_eval.npz"]
    cal, ev = load(tmp_path / "data" / "tok_calibration.npz"), load(tmp_path / "data" / "tok_eval.npz")
    assert cal["input_ids"].shape == (4, 4) and cal["attention_mask"].shape == (4, 4)
    assert cal["input_ids"][:, 1].tolist() == [4, 5, 6, 8]  # the first 80% of the lines
    assert ev["input_ids"].tolist() == [[CLS, 9, 6, SEP]]  # the rest, truncated to 4
    # `--out X.npz` with --split is the prefix X
    done = run("--tokenizer", tokenizer, "--texts", src, "--length", 4, "--split", 0.8, "--out", tmp_path / "p.npz")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "p_calibration.npz").is_file() and (tmp_path / "p_eval.npz").is_file()


def test_reruns_are_byte_identical(tmp_path, tokenizer):
    """No clock time in the files: zip members carry the fixed 1980 stamp, so a run in another time
    zone (which moves any local-time stamp, as a later run would) writes the same bytes."""
    src = texts(tmp_path, "hello world", "the cat sat on the mat")
    outs = []
    for i, zone in enumerate(("UTC0", "JST-9")):
        out = tmp_path / f"run{i}.npz"
        done = run("--tokenizer", tokenizer, "--texts", src, "--length", 6, "--names",
                   "input_ids,attention_mask,token_type_ids", "--out", out, env={"TZ": zone})
        assert done.returncode == 0, done.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    with zipfile.ZipFile(tmp_path / "run0.npz") as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}


def test_edge_sdk_reads_the_arrays_as_the_programs_inputs(tmp_path, tokenizer):
    """The naming rule end to end: edge-sdk's loader matches the arrays to inputs of those names, at a
    static sequence length and under a dynamic one (None)."""
    from edge_sdk.contracts.model import TensorSpec
    from edge_sdk.data import load_dataset

    src = texts(tmp_path, "hello world", "the cat sat")
    assert run("--tokenizer", tokenizer, "--texts", src, "--length", 6, "--out", tmp_path / "t.npz").returncode == 0
    for seq in (6, None):
        specs = (TensorSpec("input_ids", (1, seq), "int64"), TensorSpec("attention_mask", (1, seq), "int64"))
        data = load_dataset(tmp_path / "t.npz", specs, purpose="eval")
        assert list(data.inputs) == ["input_ids", "attention_mask"] and len(data) == 2 and not data.has_labels


def test_pad_token_sources(tmp_path):
    no_pad = {k: v for k, v in VOCAB.items() if k != "[PAD]"}
    src = texts(tmp_path, "hello")
    tok = make_tokenizer(tmp_path / "nopad", no_pad)
    done = run("--tokenizer", tok, "--texts", src, "--length", 5, "--out", tmp_path / "t.npz")
    assert done.returncode == 2 and "--pad-id" in done.stderr and not (tmp_path / "t.npz").exists()
    done = run("--tokenizer", tok, "--texts", src, "--length", 5, "--pad-id", 10, "--out", tmp_path / "t.npz")
    assert done.returncode == 0, done.stderr
    assert load(tmp_path / "t.npz")["input_ids"].tolist() == [[CLS, 4, SEP, 10, 10]]
    assert load(tmp_path / "t.npz")["attention_mask"].tolist() == [[1, 1, 1, 0, 0]]
    # the pad token transformers declares in tokenizer_config.json, next to tokenizer.json
    (tmp_path / "nopad" / "tokenizer_config.json").write_text('{"pad_token": "mat"}', encoding="utf-8")
    done = run("--tokenizer", tmp_path / "nopad", "--texts", src, "--length", 4, "--out", tmp_path / "c.npz")
    assert done.returncode == 0, done.stderr
    assert load(tmp_path / "c.npz")["input_ids"].tolist() == [[CLS, 4, SEP, 10]]
    # a padding setting saved in tokenizer.json wins over the vocabulary's [PAD]
    tok = make_tokenizer(tmp_path / "padcfg", pad="[UNK]")
    done = run("--tokenizer", tok, "--texts", src, "--length", 4, "--out", tmp_path / "u.npz")
    assert done.returncode == 0, done.stderr
    assert load(tmp_path / "u.npz")["input_ids"].tolist() == [[CLS, 4, SEP, UNK]]


def _hi(t: Path) -> Path:
    return texts(t, "hi")


# case -> (the arguments, given tmp_path and the good tokenizer; what the one-line message must name)
BAD = {
    "missing texts": (lambda t, tok: ["--tokenizer", tok, "--texts", t / "nope.txt"], "nope.txt"),
    "empty texts": (lambda t, tok: ["--tokenizer", tok, "--texts", texts(t, "", "  ")], "texts.txt"),
    "not utf-8": (lambda t, tok: ["--tokenizer", tok, "--texts", _latin1(t)], "latin1.txt"),
    "unknown name": (lambda t, tok: ["--tokenizer", tok, "--texts", _hi(t), "--names", "input_ids,input_mask"],
                     "--names"),
    "labels name": (lambda t, tok: ["--tokenizer", tok, "--texts", _hi(t), "--names", "y=input_ids"], "--names"),
    "tokenizer does not parse": (lambda t, tok: ["--tokenizer", _junk(t), "--texts", _hi(t)], "junk.json"),
    "missing tokenizer": (lambda t, tok: ["--tokenizer", t / "gone.json", "--texts", _hi(t)], "gone.json"),
    "folder without tokenizer.json": (lambda t, tok: ["--tokenizer", _folder(t), "--texts", _hi(t)], "empty_dir"),
    "length below the special tokens": (lambda t, tok: ["--tokenizer", tok, "--texts", _hi(t), "--length", 2],
                                        "--length"),
    "split leaves eval empty": (lambda t, tok: ["--tokenizer", tok, "--texts", _hi(t), "--split", 0.8], "--split"),
    "split out of range": (lambda t, tok: ["--tokenizer", tok, "--texts", texts(t, "a", "b"), "--split", 1.5],
                           "--split"),
    "pad id not in the vocabulary": (lambda t, tok: ["--tokenizer", tok, "--texts", _hi(t), "--pad-id", 99],
                                     "--pad-id"),
    "missing flag": (lambda t, tok: ["--texts", _hi(t)], "--tokenizer"),
}


def _latin1(t: Path) -> Path:
    (t / "latin1.txt").write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    return t / "latin1.txt"


def _junk(t: Path) -> Path:
    (t / "junk.json").write_text('{"not": "a tokenizer"}', encoding="utf-8")
    return t / "junk.json"


def _folder(t: Path) -> Path:
    (t / "empty_dir").mkdir()
    return t / "empty_dir"


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_and_exit_2(tmp_path, tokenizer, case):
    make_args, named = BAD[case]
    out = tmp_path / "out"
    args = make_args(tmp_path, tokenizer)
    defaults = [] if "--length" in args else ["--length", 6]
    done = run(*args, *defaults, "--out", out / "t.npz")
    assert done.returncode == 2, (done.stdout, done.stderr)
    message = done.stderr.strip()
    assert "\n" not in message and "Traceback" not in message, message
    assert message.startswith("tokens_npz: ") and named in message, message
    assert not out.exists() and not list(tmp_path.glob("*.npz")) and done.stdout == ""
