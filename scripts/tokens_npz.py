"""Text lines -> the token .npz files a text encoder's build and bench take, with an offline tokenizer.

Why: `edge-sdk build --model encoder.pt2 --calibration cal.npz --eval-data eval.npz --task embedding`
feeds a transformers-style encoder one int64 array per program input, named like that input
(`input_ids`, `attention_mask`, optionally `token_type_ids`), shape [N, seq_len] at the length the
model was exported with. This script makes them from plain sentences with the model's own Hugging
Face `tokenizer.json`, read from disk only (never a hub download). Recipe: docs/tokens.md.

    python scripts/tokens_npz.py --tokenizer DIR|tokenizer.json --texts sentences.txt --length 64 \\
        [--names input_ids,attention_mask[,token_type_ids]] [--pad-id ID] --out tokens.npz
    python scripts/tokens_npz.py ... --split 0.8 --out data/tokens   # data/tokens_calibration.npz,
                                                                     # data/tokens_eval.npz

`--names` items are FIELD or ARRAY=FIELD (an input named `mask`: `mask=attention_mask`). Sentences are
the non-blank lines (UTF-8, surrounding whitespace dropped), truncated to `--length` tokens with the
tokenizer's special tokens kept, padded with its pad token (mask 0 there). `--split F` puts the first
F of the lines in the calibration file and the rest in the eval file. The same input gives
byte-identical files (np.savez, uncompressed: no clock time in them). Exit 0: written, a summary on
stdout; exit 2: bad input, one line on stderr, nothing written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

FIELDS = ("input_ids", "attention_mask", "token_type_ids")
DEFAULT_NAMES = "input_ids,attention_mask"
PAD_SPELLINGS = ("[PAD]", "<pad>", "<|pad|>")  # the last resort for finding a tokenizer's pad token


class BadInput(Exception):
    """One line for stderr naming the file or flag and the fix; exit 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line instead of usage + message
        raise BadInput(f"{message} (see --help)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = Parser(prog="tokens_npz.py", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokenizer", required=True, type=Path,
                   help="a Hugging Face tokenizer.json, or the directory holding it (what save_pretrained writes)")
    p.add_argument("--texts", required=True, type=Path, help="UTF-8 text file, one sentence per line")
    p.add_argument("--length", required=True, type=int,
                   help="tokens per sentence (pad/truncate): the sequence length the model was exported with")
    p.add_argument("--names", default=DEFAULT_NAMES,
                   help=f"arrays to write, FIELD or ARRAY=FIELD, FIELD one of {', '.join(FIELDS)} "
                        f"(default {DEFAULT_NAMES})")
    p.add_argument("--pad-id", type=int, help="token id to pad with when the tokenizer declares no pad token")
    p.add_argument("--out", required=True, type=Path, help="FILE.npz, or with --split a prefix")
    p.add_argument("--split", type=float,
                   help="fraction of the sentences for PREFIX_calibration.npz, the rest in PREFIX_eval.npz")
    return p.parse_args(argv)


def parse_names(spec: str) -> list[tuple[str, str]]:
    """`--names` as (array name, field) pairs, in the order given."""
    pairs = []
    for item in spec.split(","):
        array, _, field = item.strip().rpartition("=")
        array, field = (array.strip() or field.strip()), field.strip()
        if field not in FIELDS:
            raise BadInput(f"--names: unknown name {field!r}; the tokenizer gives {', '.join(FIELDS)}; to name an "
                           "array after a model input called otherwise, write ARRAY=FIELD "
                           f"(e.g. {field or 'mask'}=attention_mask)")
        if array == "y":
            raise BadInput("--names: 'y' is where edge-sdk reads labels; name the array after the model's input")
        pairs.append((array, field))
    arrays = [a for a, _ in pairs]
    if len(set(arrays)) != len(arrays):
        raise BadInput(f"--names {spec!r} names an array twice; give each model input once")
    return pairs


def out_paths(out: Path, split: float | None) -> dict[str, Path]:
    if out.is_dir():
        like = f"a prefix like {out / 'tokens'}" if split is not None else f"a file like {out / 'tokens.npz'}"
        raise BadInput(f"--out {out} is a directory; give {like}")
    if split is None:
        if out.suffix != ".npz":
            raise BadInput(f"--out {out}: give a file name ending in .npz (e.g. {out.with_suffix('.npz')})")
        return {"all": out}
    if not 0.0 < split < 1.0:
        raise BadInput(f"--split {split}: give the calibration fraction, between 0 and 1 (e.g. 0.8)")
    prefix = out.with_suffix("") if out.suffix == ".npz" else out
    return {part: prefix.with_name(f"{prefix.name}_{part}.npz") for part in ("calibration", "eval")}


def read_texts(path: Path) -> list[str]:
    if not path.exists():
        raise BadInput(f"--texts {path} does not exist; give a UTF-8 text file with one sentence per line")
    if not path.is_file():
        raise BadInput(f"--texts {path} is not a file; give a UTF-8 text file with one sentence per line")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"--texts {path} is not UTF-8 (byte {exc.start}); re-save it as UTF-8") from None
    except OSError as exc:
        raise BadInput(f"--texts {path} cannot be read ({exc.strerror}); check its permissions") from None
    lines = [line.strip() for line in text.split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        raise BadInput(f"--texts {path} holds no sentences (empty or only blank lines); put one sentence per line")
    return lines


def tokenizer_file(path: Path) -> Path:
    if path.is_dir():
        if not (path / "tokenizer.json").is_file():
            raise BadInput(f"--tokenizer {path} has no tokenizer.json; write one with "
                           "AutoTokenizer.from_pretrained(DIR).save_pretrained(DIR) (offline, from its vocabulary "
                           "files), or pass the file")
        return path / "tokenizer.json"
    if not path.exists():
        raise BadInput(f"--tokenizer {path} does not exist; pass the model's tokenizer.json or the directory "
                       "tokenizer.save_pretrained(DIR) wrote")
    return path


def load_tokenizer(path: Path):
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise BadInput("the tokenizers package is not installed; pip install tokenizers") from None
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # noqa: BLE001 - tokenizers raises a bare Exception with serde's message
        first = (str(exc).splitlines() or [exc.__class__.__name__])[0]
        raise BadInput(f"--tokenizer {path} is not a Hugging Face tokenizer.json ({first}); pass the tokenizer.json "
                       "that tokenizer.save_pretrained(DIR) wrote") from None


def _side_config(path: Path) -> dict:
    """tokenizer_config.json and special_tokens_map.json next to tokenizer.json, merged (config wins)."""
    merged: dict = {}
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        try:
            data = json.loads((path.parent / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            merged.update(data)
    return merged


def _token_text(value) -> str | None:
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def pad_token(tok, path: Path, pad_id: int | None, side: dict) -> tuple[int, str, str]:
    """(pad id, pad token, where it came from)."""
    if pad_id is not None:
        if pad_id < 0 or tok.id_to_token(pad_id) is None:
            top = max(tok.get_vocab(with_added_tokens=True).values(), default=-1)
            raise BadInput(f"--pad-id {pad_id} is not a token id of {path} (its ids go up to {top}); "
                           "give one of its ids")
        return pad_id, tok.id_to_token(pad_id), "--pad-id"
    padding = tok.padding
    if padding and padding.get("pad_token") and tok.token_to_id(padding["pad_token"]) is not None:
        return int(padding["pad_id"]), padding["pad_token"], f"{path.name}'s padding"
    named = _token_text(side.get("pad_token"))
    if named is not None and tok.token_to_id(named) is not None:
        return tok.token_to_id(named), named, "the pad_token of the config files beside it"
    for spelling in PAD_SPELLINGS:
        if tok.token_to_id(spelling) is not None:
            return tok.token_to_id(spelling), spelling, "its vocabulary"
    raise BadInput(f"--tokenizer {path} declares no pad token; pass --pad-id ID (any id works, e.g. the "
                   "end-of-text token's: padded positions get attention_mask 0)")


def encode(tok, texts: list[str], length: int, pad: tuple[int, str, str], side: dict, path: Path):
    """Per field an int64 [N, length] array, and the untruncated token counts."""
    specials = tok.num_special_tokens_to_add(False)
    if length <= specials:
        raise BadInput(f"--length {length} leaves no room for text: {path} adds {specials} special tokens per "
                       f"sentence; give the sequence length the model was exported with (more than {specials})")
    truncation = tok.truncation or {}
    padding = tok.padding or {}
    tok.no_truncation()
    tok.no_padding()
    counts = [len(e.ids) for e in tok.encode_batch(texts)]
    tok.enable_truncation(
        max_length=length, strategy=truncation.get("strategy", "longest_first"),
        direction=truncation.get("direction") or side.get("truncation_side") or "right")
    tok.enable_padding(
        length=length, pad_id=pad[0], pad_token=pad[1], pad_type_id=int(padding.get("pad_type_id", 0)),
        direction=padding.get("direction") or side.get("padding_side") or "right")
    encodings = tok.encode_batch(texts)
    arrays = {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }
    shapes = {a.shape for a in arrays.values()}
    if shapes != {(len(texts), length)}:
        raise BadInput(f"--tokenizer {path} did not pad/truncate every sentence to --length {length} "
                       f"(got {sorted(shapes)}); pass --length at least the special tokens' count + 1")
    return arrays, counts


def stage_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """np.savez of `arrays` (uncompressed, no pickles) into a temporary file next to `path`. Its bytes
    depend on the arrays only: zipfile stamps members opened for writing by name with its fixed
    1980-01-01 default, never the clock (tests/test_tokens_npz.py checks it)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:  # a file object: savez appends no second .npz suffix
            np.savez(f, **{name: np.ascontiguousarray(arr) for name, arr in arrays.items()})
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def write_all(files: dict[Path, dict[str, np.ndarray]]) -> None:
    """Every file or none: each is staged first, then all are moved into place."""
    staged: list[tuple[Path, Path]] = []
    current = next(iter(files))
    try:
        for current, arrays in files.items():
            current.parent.mkdir(parents=True, exist_ok=True)
            staged.append((stage_npz(current, arrays), current))
        for tmp, current in staged:
            os.replace(tmp, current)
    except OSError as exc:
        raise BadInput(f"--out {current} cannot be written ({exc.strerror or exc}); "
                       "choose a writable location") from None
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        pairs = parse_names(args.names)
        paths = out_paths(args.out, args.split)
        path = tokenizer_file(args.tokenizer)
        tok = load_tokenizer(path)
        texts = read_texts(args.texts)
        side = _side_config(path)
        pad = pad_token(tok, path, args.pad_id, side)
        fields, counts = encode(tok, texts, args.length, pad, side, path)
        arrays = {array: fields[field] for array, field in pairs}
        if args.split is None:
            parts = {"all": (0, len(texts))}
        else:
            k = round(len(texts) * args.split)
            if not 0 < k < len(texts):
                empty = "calibration" if k == 0 else "eval"
                raise BadInput(f"--split {args.split} of {len(texts)} sentence(s) in {args.texts} leaves the {empty} "
                               "set empty; give more sentences or another fraction")
            parts = {"calibration": (0, k), "eval": (k, len(texts))}
        files = {paths[part]: {n: a[lo:hi] for n, a in arrays.items()} for part, (lo, hi) in parts.items()}
        write_all(files)
    except BadInput as exc:
        print(f"tokens_npz: {exc}", file=sys.stderr)
        return 2
    truncated = sum(c > args.length for c in counts)
    names = ", ".join(arrays)
    for (lo, hi), file in zip(parts.values(), files):
        print(f"wrote {file}: {names} int64 [{hi - lo}, {args.length}]")
    print(f"pad id {pad[0]} ({pad[1]!r}, from {pad[2]}); {truncated} of {len(texts)} sentences truncated to "
          f"{args.length} tokens (longest {max(counts)} with special tokens)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
