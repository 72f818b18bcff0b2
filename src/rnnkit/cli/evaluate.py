"""`rnnkit eval` and `rnnkit predict`: a model against gold CoNLL files."""

import json
import sys
from dataclasses import replace

from rnnkit.cli.options import (
    DEFAULT_MODEL_HELP,
    SHOW_HELP,
    THRESHOLD_HELP,
    input_path,
    load_tagger,
    output_path,
    refuse_inputs_as_output,
    scheme_option,
    threshold,
)
from rnnkit.errors import RnnkitError


def add_parsers(sub):
    p = sub.add_parser(
        "eval", help="entity-level precision, recall and F1 of a model on a CoNLL file"
    )
    _model_option(p)
    p.add_argument("--data", type=input_path, required=True, help="CoNLL file with gold tags")
    _tag_options(p)
    p.add_argument(
        "--json", action="store_true", help="print the scores (and the model used) as JSON"
    )
    p.add_argument("--threshold", type=threshold, default=None, help=THRESHOLD_HELP)
    p.add_argument("--show", default=None, help=SHOW_HELP)
    p.set_defaults(run=run_eval)

    p = sub.add_parser(
        "predict",
        help="write `token gold pred` lines in conlleval's format (`token pred` for a file "
        "of tokens only)",
    )
    _model_option(p)
    p.add_argument(
        "--data",
        type=input_path,
        required=True,
        help="CoNLL file with gold tags, or of one column: tokens",
    )
    _tag_options(p)
    p.add_argument(
        "--out", type=output_path, default=None, help="output file; - or none: standard output"
    )
    p.add_argument("--threshold", type=threshold, default=None, help=THRESHOLD_HELP)
    p.add_argument("--show", default=None, help=SHOW_HELP)
    p.set_defaults(run=run_predict)


def _model_option(p):
    p.add_argument(
        "--model",
        action="append",
        default=None,
        help=f"{DEFAULT_MODEL_HELP}. Repeated: models of one task decoded as one, an ensemble "
        "(the mean of their scores: rnnkit.ner.ensemble)",
    )


def _tag_options(p):
    """--scheme of the data, and --decode of a softmax tagger (rnnkit.ner.tasks)."""
    from rnnkit.ner.tasks import DECODINGS

    scheme_option(
        p, "the tag scheme of --data (default: detected; iob1 reads any mix of B- and I-)"
    )
    p.add_argument(
        "--decode",
        choices=DECODINGS,
        default=None,
        help="how a softmax tagger picks its tags: viterbi (the default), the most probable "
        "sequence that the tag scheme allows, or argmax, each token's most probable tag",
    )


def _decoding(tagger, args):
    """The tagger, decoding as --decode says."""
    if args.decode is not None:
        tagger.task = replace(tagger.task, decoding=args.decode)
    return tagger


def format_scores(scores):
    rows = [("type", "precision", "recall", "F1", "support")]
    for kind, s in scores["per_type"].items():
        rows.append(
            (
                kind,
                f"{s['precision']:.4f}",
                f"{s['recall']:.4f}",
                f"{s['f1']:.4f}",
                str(s["support"]),
            )
        )
    rows.append(
        (
            "overall",
            f"{scores['precision']:.4f}",
            f"{scores['recall']:.4f}",
            f"{scores['f1']:.4f}",
            str(scores["n_gold"]),
        )
    )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
        for r in rows
    ]
    return "\n".join(
        lines + [f"token accuracy {scores['accuracy']:.4f} over {scores['n_tokens']} tokens"]
    )


def run_eval(args):
    from rnnkit.data.conll import read_conll
    from rnnkit.ner.tagger import describe_model
    from rnnkit.ner.training import evaluate

    tagger = _decoding(load_tagger(args), args)
    scores, _ = evaluate(tagger, read_conll(args.data, scheme=args.scheme))
    model = describe_model(args.model)
    if args.json:
        print(json.dumps({"model": model, **scores}, indent=2))
    else:
        print(f"model {model}\n{format_scores(scores)}")
    return 0


def run_predict(args):
    from rnnkit.data.conll import read_conll, write_conll

    if args.out:
        refuse_inputs_as_output([args.out], [args.data])
    tagger = _decoding(load_tagger(args), args)
    sentences = read_conll(args.data, tokens_only=True, scheme=args.scheme)
    predictions = tagger.predict([s.tokens for s in sentences])
    # The gold column is the file's own tags (IOB2), whatever the model's task sees of them.
    rows = [
        (s.tokens, p.tags) if s.tags is None else (s.tokens, s.tags, p.tags)
        for s, p in zip(sentences, predictions)
    ]
    if not args.out:
        write_conll(sys.stdout, rows)
        return 0
    try:
        write_conll(args.out, rows)
    except OSError as e:  # one line that names --out and says what went wrong
        raise RnnkitError(f"{args.out}: cannot write ({e.strerror or e})") from e
    return 0
