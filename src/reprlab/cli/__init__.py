"""The ``reprlab`` command: parses, builds a config, calls the library. Nothing else lives here.

Exit codes: 0 success, 1 a run that failed (e.g. a NaN loss), 2 bad input (unknown key, bad
value, missing file), 130 interrupted. Errors are one line: ``reprlab: error: <what and fix>``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from ..errors import ReprlabError, UsageError
from .compare import add_compare_parser, cmd_compare
from .explore import cmd_embed, cmd_interpolate, cmd_oneshot, cmd_similar
from .families import STYLE_FLAGS, cmd_da, cmd_dirac, cmd_stylize
from .runs import cmd_data, cmd_encode, cmd_eval, cmd_reconstruct, cmd_sample, cmd_tour, cmd_train

log = logging.getLogger("reprlab")

def _models_epilog() -> str:
    from ..models import MODELS

    lines = ["models:"] + [f"  {n:<10} {s.description}" for n, s in sorted(MODELS.items())]
    lines.append("\n`reprlab train MODEL --help` lists the model's options; set any as key=value (e.g. latent_dim=2 train.lr=3e-4).")
    return "\n".join(lines)


def _options_help(model_name: str) -> str:
    from ..config import describe
    from ..models import get_model_spec
    from ..pipelines.training import DataConfig
    from ..train import TrainConfig

    spec = get_model_spec(model_name)
    out = [f"options of `reprlab train {model_name}` ({spec.description}), as key=value:"]
    for title, cls, prefix in (("model", spec.config_cls, "model."), ("data", DataConfig, "data."), ("train", TrainConfig, "train.")):
        out.append(f"\n{title}:")
        for key, typ, text in describe(cls, prefix):
            out.append(f"  {key:<32} {text}\n  {'':<32}   [{typ}]")
    recipes = getattr(spec.cls, "recipes", {})
    if recipes:  # what a new run gets where nothing sets the key (build_run_config)
        out.append("\nrecipes (a new run's values where you set none; any key you set wins):")
        for data_name in sorted(recipes, key=lambda n: (n != "*", n)):
            values = " ".join(f"{k if '.' in k else 'model.' + k}={v}" for k, v in recipes[data_name].items())
            out.append(f"  {'any data set' if data_name == '*' else '--data ' + data_name:<32} {values}")
    return "\n".join(out)


def _add_data_args(p: argparse.ArgumentParser, required: bool = False) -> None:
    p.add_argument("--data", required=required, help="data set name, images:FOLDER, or a .npy/.npz/.csv file")
    p.add_argument("--data-dir", help="folder holding the data files (default: $REPRLAB_DATA)")
    p.add_argument("--split", default="test", choices=["train", "test", "all"], help="which split (default: test)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reprlab",
        description="Representation learning: auto-encoders, denoising AEs, mSDA, Siamese nets, VAEs, GANs.",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only print errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser(
        "train", help="train a model", epilog=_models_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    t.add_argument("model", help="model name (see below)")
    t.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. latent_dim=2 train.lr=3e-4")
    t.add_argument("--data", help="data set (default: digits); same as data.name=...")
    t.add_argument("--data-dir", help="folder holding the data files (default: $REPRLAB_DATA)")
    t.add_argument("--download", action="store_true", help="download missing files when online")
    t.add_argument("--config", help="YAML/JSON file with model:, data:, train: sections")
    t.add_argument("--run-dir", help="run folder (default: runs/<name>)")
    t.add_argument("--name", help="run name under runs/ (default: MODEL-DATA)")
    t.add_argument("--resume", action="store_true", help="continue the run in the run folder from its last checkpoint")
    t.add_argument("--overwrite", action="store_true", help="replace an existing run in the run folder")
    t.add_argument("--devices", type=int, help="processes/devices (>1: data parallel)")
    t.add_argument("--accelerator", help="cpu, cuda, mps or auto")
    t.add_argument("--precision", help="32-true, bf16-mixed, 16-mixed, ...")
    t.add_argument("--seed", type=int, help="random seed")
    t.add_argument("--steps", type=int, help="training steps (train.max_steps)")

    e = sub.add_parser("eval", help="evaluate a trained run on a data split (prints JSON)")
    e.add_argument("run", help="run folder")
    e.add_argument("--iwae", type=int, metavar="K", help="VAE: also −log p(x) by importance sampling with K samples")
    e.add_argument("--binarize", action="store_true", help="with --iwae: binarize each image once (dynamic-binarization MNIST)")
    e.add_argument("--samples", type=int, metavar="N",
                   help="GAN, AAE, Tempered GAN: samples scored (default: as many as the split holds for images "
                        "(FID needs N >= 128, the feature size), 2,500 for the 2-D mixtures)")
    e.add_argument("--seed", type=int, help="GAN, AAE, Tempered GAN: seed of the samples scored (default 0)")
    e.add_argument("--truncation", type=float, metavar="PSI",
                   help="GAN, Tempered GAN: score samples of noise truncated to |z_i| <= PSI (the truncation trick)")
    _add_data_args(e)

    enc = sub.add_parser("encode", help="write the codes of a data set as .npy (or .npz with labels)")
    enc.add_argument("run", help="run folder")
    enc.add_argument("-o", "--output", required=True, help="output file: codes.npy, or codes.npz with codes and labels")
    _add_data_args(enc)

    r = sub.add_parser("reconstruct", help="write a PNG grid: originals above reconstructions")
    r.add_argument("run", help="run folder")
    r.add_argument("-o", "--output", required=True, help="output PNG")
    r.add_argument("-n", type=int, default=16, help="number of images")
    _add_data_args(r)

    s = sub.add_parser("sample", help="write a PNG grid of samples from a generative model")
    s.add_argument("run", help="run folder")
    s.add_argument("-o", "--output", required=True, help="output PNG")
    s.add_argument("-n", type=int, default=64, help="number of samples")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--truncation", type=float, metavar="PSI",
                   help="GAN, Tempered GAN: noise truncated to |z_i| <= PSI (the truncation trick; fewer odd samples, less variety)")

    em = sub.add_parser(
        "embed", help="2-D maps of codes (codes, PCA, MDS, t-SNE) with trustworthiness and k-NN accuracy",
        description="2-D maps of the codes of a run (the model encodes a data set), of a features file "
        "(.npy/.npz/.csv) or of a data set's raw pixels; writes coordinates (.npy, .csv), PNG maps, "
        "embed.json and index.html into --out.",
    )
    em.add_argument("source", help="run folder, features file (.npy/.npz/.csv) or data set name (raw pixels)")
    em.add_argument("--method", default="auto",
                    help="comma-separated: codes (2-D codes as they are), pca, mds, tsne; default auto: codes when 2-D, else tsne")
    em.add_argument("--perplexity", default="30", help="t-SNE perplexities, comma-separated, e.g. 5,30,50 (default 30)")
    em.add_argument("--seeds", default="0", help="seeds, comma-separated: several draw t-SNE side by side (default 0)")
    em.add_argument("--max-points", type=int, help="map a seeded subsample of at most this many points")
    em.add_argument("--thumbnails", type=int, default=0, help="draw this many images at spread-out points (image data)")
    em.add_argument("--k", type=int, default=10, help="neighbours for trustworthiness and k-NN accuracy (default 10)")
    em.add_argument("--n-iter", type=int, default=750, help="t-SNE iterations, 250 early-exaggeration ones included (default 750)")
    em.add_argument("--init", default="pca", choices=["pca", "random"], help="t-SNE start: pca (stable) or random (seeded)")
    em.add_argument("--backend", default="auto", choices=["auto", "opentsne", "sklearn"], help="t-SNE implementation (default: openTSNE)")
    em.add_argument("--out", help="output folder (default: embed/<source name>)")
    _add_data_args(em)

    ip = sub.add_parser(
        "interpolate", help="decode the path between two codes, or the grid of decoded 2-D codes",
        description="Morphing: decode the straight line (and/or the spherical path) between the codes of "
        "samples --from and --to of a data split; with --traverse N, the N x N grid of decoded 2-D codes.",
    )
    ip.add_argument("run", help="run folder of a model that encodes and decodes")
    ip.add_argument("-o", "--output", required=True, help="output PNG (the settings go beside it as .json)")
    ip.add_argument("--from", dest="i", type=int, default=0, help="index of the first sample (default 0)")
    ip.add_argument("--to", dest="j", type=int, default=1, help="index of the last sample (default 1)")
    ip.add_argument("--steps", type=int, default=10, help="images along the path, both ends included (default 10)")
    ip.add_argument("--path", default="linear", choices=["linear", "slerp", "both"], help="straight line, spherical, or both rows")
    ip.add_argument("--traverse", type=int, metavar="N", help="instead: an N x N grid of decoded 2-D codes")
    ip.add_argument("--prior", choices=["gaussian"], help="traverse Φ⁻¹ of a uniform grid (standard normal prior) instead of the codes' range")
    _add_data_args(ip)

    os_ = sub.add_parser("oneshot", help="one-shot accuracy of a Siamese run: Lake's 20 runs, or N-way k-shot tasks")
    os_.add_argument("run", help="run folder of a model with a similarity (siamese)")
    os_.add_argument("--runs", help="Lake's runs: all_runs.zip or its folder (default: <data dir>/omniglot/all_runs.zip)")
    os_.add_argument("--data", help="instead: random tasks from this labelled data set (e.g. omniglot:small2)")
    os_.add_argument("--split", default="test", choices=["train", "test", "all"], help="split of --data (default test)")
    os_.add_argument("--way", type=int, default=20, help="N of N-way tasks from --data (default 20)")
    os_.add_argument("--shot", type=int, default=1, help="k of k-shot tasks from --data (default 1; k > 1: class prototypes, the mean code of the k shots)")
    os_.add_argument("--tasks", type=int, default=400, help="tasks drawn from --data (default 400)")
    os_.add_argument("--within", help="draw each task's classes from one group, e.g. alphabet")
    os_.add_argument("--seed", type=int, default=0)
    os_.add_argument("--data-dir", help="folder holding the data files (default: $REPRLAB_DATA)")

    sm = sub.add_parser("similar", help="rank a folder of images by similarity to a query image (Siamese run)")
    sm.add_argument("run", help="run folder of a model with a similarity (siamese)")
    sm.add_argument("query", help="query image file")
    sm.add_argument("--gallery", required=True, help="folder of images to rank (searched recursively)")
    sm.add_argument("--top", type=int, default=10, help="how many to print (default 10)")
    sm.add_argument("-o", "--output", help="also write the query and the top matches as a PNG strip")
    sm.add_argument("--invert", default="auto", choices=["auto", "yes", "no"],
                    help="invert image values (auto: yes for a model trained on Omniglot, whose strokes are 1.0)")

    st = sub.add_parser(
        "stylize", help="neural style transfer (Gatys et al.): CONTENT in the style of STYLE; texture with STYLE only",
        description="Find the image x minimizing α·content distance to CONTENT + β·style (Gram matrix) distance to "
        "STYLE. With one image (or --texture): texture synthesis. Images: files, or sklearn:china.jpg / "
        "sklearn:flower.jpg. Without --weights the untrained random multi-scale net is used (and named).",
    )
    st.add_argument("images", nargs="+", metavar="CONTENT STYLE", help="content and style images, or only a style image")
    st.add_argument("-o", "--output", required=True, help="output PNG (with --sweep: the sweep figure)")
    st.add_argument("--texture", action="store_true", help="texture synthesis from the one STYLE image (style only)")
    st.add_argument("--sweep", metavar="B1,B2,...", help="one result per style weight β, side by side (e.g. 1e1,1e2,1e3)")
    st.add_argument("--run-dir", help="run folder (default: runs/stylize-CONTENT-STYLE or runs/texture-STYLE)")
    st.add_argument("--save-every", type=int, default=0, metavar="N", help="write an intermediate image every N steps")
    st.add_argument("--config", help="YAML/JSON file of style options (the keys below, with underscores)")
    for flag, kind, text in STYLE_FLAGS:
        st.add_argument(flag, type=kind, help=text)
    st.add_argument("--preserve-color", action="store_true", default=None, help="luminance-only transfer: keep the content's colours")
    st.add_argument("--recompute", action="store_true", default=None,
                    help="VGG-19: recompute activations in backward (less memory for >= 1024 px, ~1 more forward per step)")

    d = sub.add_parser(
        "data", help="list data sets (folder, size, complete?); `reprlab data download NAME` fetches one",
        description="Without a subcommand: each data set with its folder, size on disk and whether it is complete.",
    )
    d.add_argument("--data-dir", help="folder holding the data files (default: $REPRLAB_DATA, else ~/.local/share/reprlab)")
    dsub = d.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    dd = dsub.add_parser(
        "download", help="download data sets into the data folder, checked against known checksums",
        description="Fetch the files of the named data sets to where reprlab's loaders read them, check each "
        "against its checksum, resume interrupted downloads and skip files already present.",
        epilog="names: all, mnist, omniglot (small1, small2, background, evaluation and Lake's runs),\n"
        "  omniglot:SET, omniglot-oneshot, amazon-reviews[:DOMAIN] (mirror only: no official download).\n"
        "A mirror holds the files at the same paths as a data folder: `python -m http.server`\n"
        "run inside a data folder is one (e.g. --mirror http://host:8000).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dd.add_argument("names", nargs="+", metavar="NAME", help="data sets to fetch, or all")
    dd.add_argument("--dir", "--data-dir", dest="dir",
                    help="data folder to fill (default: $REPRLAB_DATA, else ~/.local/share/reprlab)")
    dd.add_argument("--mirror", metavar="URL",
                    help="fetch from this http(s) copy of a data folder instead (default: $REPRLAB_MIRROR)")

    da = sub.add_parser(
        "da", help="domain adaptation on Amazon reviews: representation on source+target, linear classifier on source"
    )
    da.add_argument("--source", default="all", help="source domain: books, dvd, elec, kitchen or all (default)")
    da.add_argument("--target", default="all", help="target domain (default: every other domain)")
    da.add_argument("--method", default="raw,msda", help="comma-separated: raw, msda, sda (default raw,msda)")
    da.add_argument("--p", type=float, help="mSDA corruption probability (default: chosen on source labels)")
    da.add_argument("--layers", type=int, help="mSDA depth L (default: chosen on source labels)")
    da.add_argument("--data-dir", help="folder holding amazon_reviews_400/ (default: $REPRLAB_DATA)")
    da.add_argument("--out", default="runs/da", help="output folder (default: runs/da)")
    da.add_argument("--seed", type=int, default=0)

    dr = sub.add_parser("dirac", help="the Dirac-GAN (Mescheder et al. 2018): vector field, GD trajectories, "
                        "eigenvalues at (0, 0); writes a PNG, prints JSON")
    from ..models.gan.dirac import dirac_regularizers
    from ..models.gan.losses import loss_names

    dr.add_argument("--loss", default="minimax", help=f"GAN loss: {', '.join(loss_names())} (default minimax)")
    dr.add_argument("--reg", default="none",
                    help=f"regularizer: {', '.join(dirac_regularizers())} (noise: instance noise; default none)")
    dr.add_argument("--gamma", type=float, default=1.0, help="regularizer weight γ; the noise's σ for --reg noise (default 1)")
    dr.add_argument("--clip", type=float, help="WGAN weight clipping |ψ| ≤ c (default 1 for wgan, 0: none)")
    dr.add_argument("--n-critic", type=int, help="critic steps per generator step (default 5 for wgan, wgan-gp; else 1)")
    dr.add_argument("--steps", type=int, default=500, help="generator steps (default 500)")
    dr.add_argument("--lr", type=float, default=0.1, help="step size h (default 0.1)")
    dr.add_argument("--mode", default="both", help="simultaneous, alternating or both (default both)")
    dr.add_argument("--start", default="1,1", help="starting point θ,ψ (default 1,1)")
    dr.add_argument("--all", action="store_true", help="the paper's grid of methods instead of --loss/--reg/...")
    dr.add_argument("-o", "--output", default="dirac.png", help="PNG to write (default dirac.png)")

    add_compare_parser(sub)

    tour = sub.add_parser("tour", help="run the lecture's methods on embedded data and write an HTML report")
    tour.add_argument("--out", default="tour", help="output folder (default: ./tour)")
    tour.add_argument("--quick", action="store_true", help="a reduced budget (seconds): a smoke run")
    tour.add_argument("--full", action="store_true",
                      help="also run every script of benchmarks/ at its real settings (hours on a CPU) and report it")
    tour.add_argument("--benchmarks", help="with --full: comma-separated benchmarks to run (default: all)")
    tour.add_argument("--only", help="comma-separated sections to run")
    tour.add_argument("--data-dir", help="folder with MNIST etc. (default: $REPRLAB_DATA); optional")
    tour.add_argument("--download", action="store_true",
                      help="first fetch the data sets the chosen sections use (as `reprlab data download`)")
    tour.add_argument("--mirror", metavar="URL", help="with --download: an http(s) copy of a data folder (default: $REPRLAB_MIRROR)")
    tour.add_argument("--seed", type=int, default=0)
    tour.add_argument("--jobs", default="auto",
                      help="sections run at once in worker processes, each with its share of the cores "
                           "(default auto: one per core, at most 4; 1: one after the other in this process)")
    return parser


# ---------------------------------------------------------------------------- commands


def _option_flags(items: list[str]) -> list[str]:
    """Model/train options given as flags: ``--loss ns --gamma 10 --train.lr=1e-4`` ->
    ``["loss=ns", "gamma=10", "train.lr=1e-4"]`` (dashes in names become underscores); the config
    then checks every key and value."""
    out, i = [], 0
    while i < len(items):
        item = items[i]
        if not item.startswith("--") or item == "--":
            raise UsageError(f"unrecognized argument {item!r}; options look like --key value or key=value")
        key, sep, value = item[2:].partition("=")
        if not sep:
            if i + 1 >= len(items) or items[i + 1].startswith("--"):
                raise UsageError(f"option --{key} needs a value (e.g. --{key} VALUE)")
            value, i = items[i + 1], i + 1
        out.append(f"{key.replace('-', '_')}={value}")
        i += 1
    return out


COMMANDS = {
    "train": cmd_train, "eval": cmd_eval, "encode": cmd_encode, "reconstruct": cmd_reconstruct,
    "sample": cmd_sample, "data": cmd_data, "da": cmd_da, "tour": cmd_tour, "embed": cmd_embed,
    "interpolate": cmd_interpolate, "oneshot": cmd_oneshot, "similar": cmd_similar, "dirac": cmd_dirac,
    "stylize": cmd_stylize, "compare": cmd_compare,
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(format="%(message)s", level=logging.INFO, stream=sys.stderr)
    # `reprlab train MODEL --help`: the model's options (argparse would only show the generic help).
    if len(argv) >= 3 and argv[0] == "train" and not argv[1].startswith("-") and ("-h" in argv or "--help" in argv):
        try:
            print(_options_help(argv[1]))
            return 0
        except ReprlabError as e:
            print(f"reprlab: error: {e}", file=sys.stderr)
            return e.exit_code
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key=value overrides may come before or after options (argparse stops collecting them at
    # the first option).
    if args.command == "train":
        args.overrides += [x for x in extra if "=" in x and not x.startswith("-")]
        extra = [x for x in extra if not ("=" in x and not x.startswith("-"))]
        args.option_flags, extra = extra, []
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    log.setLevel(logging.WARNING if args.quiet else logging.INFO)  # per call (in-process calls too)
    try:
        if args.command == "train":
            args.overrides += _option_flags(args.option_flags)
        return COMMANDS[args.command](args)
    except ReprlabError as e:
        print(f"reprlab: error: {e}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:  # `reprlab eval RUN | head`: the reader left; nothing more to say
        sys.stdout = None
        return 1
    except OSError as e:  # an OS error no command turned into a ReprlabError: still one line, exit 2
        from ..files import output_error

        where = e.filename if e.filename is not None else "a file"
        print(f"reprlab: error: {output_error(where, e, 'use')}", file=sys.stderr)
        return 2
    except MemoryError:
        print("reprlab: error: out of memory; use smaller data, a smaller model or a smaller train.batch_size", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("reprlab: interrupted; `reprlab train ... --resume` continues from the last checkpoint", file=sys.stderr)
        return 130
