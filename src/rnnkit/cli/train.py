"""`rnnkit train`: train a tagger on CoNLL files, keeping the best model by dev F1."""

import shlex
import sys
from dataclasses import fields

from rnnkit.cli.options import features, input_path, positive_int, run_directory, scheme_option


def tag_set_options(p):
    """--scheme, --model-scheme, --types, --map, --show and --output: the tag set of bio and
    tags (rnnkit.ner.tasks)."""
    from rnnkit.ner.schemes import ALIASES, SCHEMES

    scheme_option(p, "the tag scheme of the CoNLL files (default: detected in each file)")
    p.add_argument(
        "--model-scheme",
        choices=[s for s in SCHEMES + tuple(ALIASES) if s not in ("iob1", "iob")],
        default=None,
        help="the tag scheme the model learns and decodes, whatever the files': bioes tells "
        "the last word of a name from the others (bio and tags; default: iob2 for bio, the "
        "training file's for tags)",
    )
    p.add_argument(
        "--types", default=None, help="keep these entity types, e.g. PER,LOC; the rest become O"
    )
    p.add_argument(
        "--map",
        dest="type_map",
        default=None,
        help="rename entity types as they are read, e.g. PERSON=PER,person=PER",
    )
    p.add_argument(
        "--show",
        default=None,
        help="the entity types the model prints when it tags, e.g. PER: it still learns, and "
        "is chosen on, every type (bio and tags; default: all; `rnnkit tag --show` overrides)",
    )
    p.add_argument(
        "--output",
        choices=["softmax", "crf"],
        default=None,
        help="the output layer of bio and tags: softmax (the default) or a linear-chain CRF",
    )


def scale_or_off(text):
    """A number; 0 means "not set" (None), as the command line has always taken it."""
    return float(text) or None


def add_parser(sub):
    from rnnkit.ner.training import TrainConfig

    d = TrainConfig()
    p = sub.add_parser(
        "train", help="train a tagger on CoNLL files, keeping the best model by dev F1"
    )
    _add_data_options(p, d)
    _add_model_options(p, d)
    _add_regularisation_options(p, d)
    _add_schedule_options(p, d)
    p.set_defaults(run=run)


def _add_data_options(p, d):
    """The task, the files, and the input features with their vocabularies."""
    from rnnkit.data.features import GROUPS
    from rnnkit.ner.presets import PRESETS

    p.add_argument(
        "--task",
        choices=["per", "bio", "tags"],
        default=d.task,
        help="per: is word t part of a person's name (sigmoid); bio: CoNLL-2003's 9 BIO tags "
        "(softmax); tags: the entity types and tag scheme of the training file (softmax)",
    )
    tag_set_options(p)
    p.add_argument(
        "--preset",
        choices=PRESETS,
        default=None,
        help="train with the recipe of a shipped model (its settings, read from the model); "
        "options given on the command line override it, whatever their values",
    )
    p.add_argument(
        "--train",
        required=True,
        action="append",
        type=input_path,
        help="CoNLL training file, with an optional weight (FILE:0.5 learns from a random "
        "half of it, FILE:2 from every sentence twice); repeatable",
    )
    p.add_argument(
        "--dev",
        required=True,
        action="append",
        type=input_path,
        help="CoNLL file for model selection and early stopping; repeatable: models are chosen "
        "on the mean F1 of the dev sets",
    )
    p.add_argument(
        "--select",
        metavar="DEV",
        type=input_path,
        default=None,
        help="choose the model on the F1 of this --dev file alone (default: the mean)",
    )
    p.add_argument(
        "--out",
        required=True,
        type=run_directory,
        help="directory for model.npz, checkpoint.npz, history.csv, curves.png; one that "
        "holds files is refused unless --resume or --overwrite is given",
    )
    p.add_argument(
        "--features",
        type=features,
        default=d.features,
        help=f"comma-separated input groups from {', '.join(GROUPS)} (suffix, prefix: the "
        "last, first 3 characters; suffix2, prefix4, ...: 2 or 4) "
        f"(default: {','.join(d.features)}, the lecture's one-hot words)",
    )
    p.add_argument(
        "--vocab",
        type=positive_int,
        default=d.vocab,
        help=f"word vocabulary size (default {d.vocab})",
    )
    p.add_argument(
        "--lower-vocab",
        type=positive_int,
        default=d.lower_vocab,
        help="vocabulary size of the lower feature group (default: the same as --vocab)",
    )
    p.add_argument(
        "--affix-vocab",
        type=positive_int,
        default=d.affix_vocab,
        help=f"vocabulary size of each prefix/suffix feature group (default {d.affix_vocab})",
    )


def _add_model_options(p, d):
    """The model's settings (RNNConfig's, but n_x and n_y, which the data give)."""
    p.add_argument(
        "--n-a", type=positive_int, default=d.n_a, help=f"hidden units (default {d.n_a})"
    )
    p.add_argument(
        "--activation",
        choices=["tanh", "relu"],
        default=d.activation,
        help=f"g of a<t> = g(W_aa a<t-1> + W_ax x<t> + b_a) (default {d.activation})",
    )
    p.add_argument(
        "--cell",
        default=d.cell,
        metavar="{rnn,gru}[,...]",
        help="rnn: the lecture's a<t> = g(...); gru: the gated recurrent unit, whose gates "
        "decide what a<t> keeps of a<t-1> (about twice as slow to train, three times the "
        "parameters); one for every layer, or one per layer (rnn,gru: a GRU over the "
        f"lecture's cell; default {d.cell})",
    )
    p.add_argument(
        "--n-e",
        type=positive_int,
        default=d.n_e,
        help="layer 1 reads e<t> = E x<t>, a learned embedding of n_e units, instead of the "
        "one-hot x<t>: W_ax E takes the place of W_ax, and E is shared by both directions and "
        "a GRU's three blocks (such a GRU takes less room than the lecture's cell on x<t>); "
        "default: off",
    )
    p.add_argument(
        "--embedding-dropout",
        type=float,
        default=d.embedding_dropout,
        help="dropout on e<t> = E x<t> in training, with --n-e (default 0: off)",
    )
    p.add_argument(
        "--init-x",
        type=scale_or_off,
        default=d.init_x,
        help="initialise the first layer's W_ax from U(-b, b) with this b; a one-hot input "
        "reads one column per step, so unit scale (1) suits it better than the default "
        "1/sqrt(n_a) (0 also means the default)",
    )
    p.add_argument(
        "--layers", type=positive_int, default=d.layers, help="stacked RNN layers (default 1)"
    )
    p.add_argument(
        "--bidirectional", action="store_true", help="a forward and a backward chain per layer"
    )
    p.add_argument(
        "--dropout",
        type=float,
        default=d.dropout,
        help="dropout on each layer's output in training (default 0: off)",
    )
    p.add_argument(
        "--char-hidden",
        type=int,
        default=d.char_hidden,
        metavar="N_C",
        help="also read each word's spelling: a bidirectional character RNN of N_C hidden "
        "units a direction runs over its letters (default 0: off)",
    )


def _add_regularisation_options(p, d):
    """What training hides from the model, and the averaged weights."""
    p.add_argument(
        "--word-dropout",
        type=float,
        default=d.word_dropout,
        help="chance a training word is shown as unknown (default 0: off)",
    )
    p.add_argument(
        "--unk-alpha",
        type=float,
        default=d.unk_alpha,
        help="also show a word as unknown with chance α/(α + its training count) (default 0: off)",
    )
    p.add_argument(
        "--feature-dropout",
        type=float,
        default=d.feature_dropout,
        help="chance that each non-word feature of a training word is shown as unknown "
        "(default 0: off)",
    )
    p.add_argument(
        "--entity-dropout",
        type=float,
        default=d.entity_dropout,
        help="also show a training word inside a gold entity (a person, for per) as unknown "
        "with this chance, so that names are learned from context and shape (default 0: off)",
    )
    p.add_argument(
        "--case-augment",
        type=float,
        default=d.case_augment,
        metavar="P",
        help="show a share P of the training sentences lowercased, uppercased or title-cased "
        "(one chosen per sentence), so that names are found in chat and headlines too "
        "(default 0: off)",
    )
    p.add_argument(
        "--average",
        type=float,
        default=d.average,
        help="evaluate and save an exponential moving average of the weights with this β, "
        "e.g. 0.999 (default 0: off)",
    )


def _add_schedule_options(p, d):
    """Epochs, batches, the optimiser, and the run itself."""
    p.add_argument(
        "--epochs",
        type=positive_int,
        default=d.epochs,
        help=f"at most this many epochs (default {d.epochs})",
    )
    p.add_argument(
        "--patience",
        type=positive_int,
        default=d.patience,
        help=f"stop after this many epochs without a better dev F1 (default {d.patience})",
    )
    p.add_argument(
        "--batch",
        type=positive_int,
        default=d.batch,
        help=f"sentences per batch (default {d.batch})",
    )
    p.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate (default {d.lr})")
    p.add_argument(
        "--lr-decay", type=float, default=d.lr_decay, help="lr / (1 + decay * epoch) (default 0)"
    )
    p.add_argument(
        "--clip",
        type=float,
        default=d.clip,
        help=f"gradient clipping by global norm (default {d.clip})",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=d.seed,
        help="seeds the initial weights, the order of the batches and every dropout draw: "
        f"the same seed gives the same model (default {d.seed})",
    )
    p.add_argument("--resume", action="store_true", help="continue the interrupted run in --out")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start a new run in an --out that holds files, replacing its model",
    )
    p.add_argument(
        "--keep-checkpoint",
        action="store_true",
        help="keep checkpoint.npz when the run completes (to continue it with more --epochs); "
        "by default it is removed once the final model is saved",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _progress_bar():
    """_tqdm_progress, or None (and a note why) without tqdm."""
    try:
        import tqdm  # noqa: F401
    except ImportError:
        print("rnnkit: no progress bar without tqdm (pip install 'rnnkit[train]')", file=sys.stderr)
        return None
    return _tqdm_progress


def _resume_command(args, config):
    """The command that continues the run: --resume takes every setting from the checkpoint
    except --epochs, and checks --task, so both must be given again, as the run had them
    (a preset's, where --preset gave them)."""
    files = [*(x for f in args.train for x in ("--train", f))]
    files += [*(x for f in args.dev for x in ("--dev", f)), "--out", args.out]
    return [
        "rnnkit",
        "train",
        "--task",
        config.task,
        *files,
        "--epochs",
        str(config.epochs),
        "--resume",
        *(["--keep-checkpoint"] if args.keep_checkpoint else []),
    ]


def _tqdm_progress(total, desc):
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="batch", leave=False, dynamic_ncols=True)

    class Bar:
        def update(self, n, **postfix):
            if postfix:
                bar.set_postfix(postfix, refresh=False)
            bar.update(n)

        def close(self):
            bar.close()

    return Bar()


def config_of(args):
    """The run's TrainConfig: the options, over the preset's recipe where --preset names one."""
    from rnnkit.ner.training import TrainConfig

    # every training option is named after its TrainConfig field; 0 is off, as None is
    settings = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    if args.preset is not None:  # a shipped model's recipe, under the options given
        from rnnkit.cli import given
        from rnnkit.ner.presets import with_preset

        settings = with_preset(args.preset, settings, given=given(args.argv))
    return TrainConfig(**settings)


def run(args):
    from rnnkit.ner.training import Interrupted, train

    config = config_of(args)
    try:
        history = train(
            config,
            args.train,
            args.dev,
            args.out,
            resume=args.resume,
            progress=None if args.quiet else _progress_bar(),
            log=lambda msg: print(msg, file=sys.stderr),
            overwrite=args.overwrite,
            keep_checkpoint=args.keep_checkpoint,
        )
    except Interrupted as e:
        print(f"rnnkit: {e}", file=sys.stderr)
        resume = shlex.join(_resume_command(args, config))
        print(f"rnnkit: resume with: {resume}", file=sys.stderr)
        return 130
    best = max(history, key=lambda h: h["dev_f1"]) if history else None
    if best:
        print(
            f"best dev F1 {best['dev_f1']:.4f} at epoch {best['epoch']}; model saved in {args.out}"
        )
    return 0
