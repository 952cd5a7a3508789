"""Headless CLI: python -m playground {train,check,compare,runs,resume,export,inspect,bench,datasets,lesson} ...

train CONFIG   trains the run the config (JSON or YAML) describes and stores it in the run store
               (PLAYGROUND_HOME, default runs/), where the app finds it; a progress line per epoch,
               then one JSON object as the last line of stdout.
check CONFIG   prints the layer / shape / parameter table, or the error and its fix.
compare CONFIG races a base run's variants at once; one JSON object per variant as the last lines.
runs           lists the stored runs (--json: one JSON object per line; --lesson ID: a lesson's runs only).
resume RUN     continues a stored run from its last checkpoint (--epochs N: N more epochs).
export RUN     writes a run's weights (safetensors), TorchScript, ONNX or a standalone PyTorch script.
inspect RUN VIEW  computes what an inspection view draws, from the run's snapshot at an epoch:
               the arrays to an .npz (--out), the summary as JSON (--json). VIEW: evaluate, filters,
               activations, conv (one output cell of a Conv2d by hand), top (the inputs that excite
               a filter most), size (a Conv2d or pooling layer's output-size arithmetic), stats
               (each layer's weights, gradients and outputs over training), attention (every
               attention layer and head for one sequence, the rollout, the task's pattern score per
               head), attention-cell (one attention weight by hand: q.k, the scaling, the softmax),
               latent (an autoencoder's codes of the split, or a hidden layer's outputs, drawn in
               2-D raw or by pca, umap or tsne, with the 5-NN score and the PCA comparison), decode
               (what the decoder draws for a code: --z "x,y"), explain (Grad-CAM, saliency, IG,
               SmoothGrad, occlusion, SHAP for one input; --over-training at every snapshot), trust
               (the checks on a method: completeness, randomisation, pointing game, deletion).
bench          measures the engine against a bare PyTorch loop (prints figures; not a test).
datasets       lists the data sets.
lesson add FILE | import FILE | list | export ID [--out FILE] | delete ID
               the teacher's lessons in the run store: add stores a lesson file under a new id, import
               under the file's own id (replacing a stored lesson of that id); each prints the id of
               the class's link, ?lesson=ID.

RUN is a run's id, a unique start of it, or its exact name.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from playground.errors import PlaygroundError


def _load(args):
    from playground.config import RunConfig, read_mapping
    from playground.errors import ConfigError

    d = read_mapping(args.config)
    if not isinstance(d, dict):
        raise ConfigError(f"config file '{args.config}' must hold a mapping of fields (data, layers, optim, ...), "
                          f"not a {type(d).__name__}; see examples/")
    overrides = {"epochs": args.epochs, "device": args.device, "seed": args.seed}
    d = dict(d)
    d.update({k: v for k, v in overrides.items() if v is not None})
    return RunConfig.from_dict(d)


def cmd_check(args) -> int:
    from playground.models.build import shape_text
    from playground.train import check

    cfg = _load(args)
    checked = check(cfg)
    data, rows, task = checked.data, checked.rows, checked.task
    what = (f"{data.num_classes} classes" if task.name == "classification" else
            f"tokens 0-{data.vocab - 1}, {data.num_classes} output classes" if task.name == "sequence" else
            f"output {shape_text(task.expected())}")
    shown = f"{data.input_shape[0]} tokens" if data.vocab else shape_text(data.input_shape)
    print(f"data: {cfg.data.name}  input {shown}  {what}  "
          f"{len(data.X_train)} train / {len(data.X_val)} validation  task: {task.describe()}")
    print(f"{'#':>3}  {'layer':<18} {'arguments':<50} {'output':<18} {'params':>9}")
    for r in rows:
        print(f"{r.index:>3}  {r.type:<18} {r.args:<50} {shape_text(r.out_shape):<18} {r.params:>9,}")
    print(f"total parameters: {sum(r.params for r in rows):,}")
    return 0


def _registry():
    from playground.train.registry import Registry

    return Registry(max_active=1, processes=False)


def _metrics_text(e: dict) -> str:
    """ "train loss 0.1234  acc 0.950  val loss 0.2000  acc 0.930" for any task's epoch record."""
    from playground.train.tasks import METRIC_LABELS

    parts = []
    for split in ("train", "val"):
        keys = [k for k in e if k.startswith(split + "_")]
        names = ["loss"] + [k[len(split) + 1:] for k in keys if k != f"{split}_loss"]
        short = {"loss": "loss", "acc": "acc"}
        parts.append(f"{split} " + "  ".join(f"{short.get(m) or METRIC_LABELS.get(m, m)} "
                                             f"{e[f'{split}_{m}']:.{4 if m == 'loss' else 3}f}" for m in names))
    return "  ".join(parts)


def _follow(reg, run, total: int, after: int = 0) -> dict:
    """Print each epoch after epoch `after` (a resume's restored ones are not) as it ends until the run
    does (Ctrl-C stops it, kept and resumable); its result. Counted by epoch number, not by how many
    records the history holds when this starts: a one-step run can have ended by then."""
    shown = sum(1 for e in run.history.snapshot()["epochs"] if e["epoch"] <= after)
    try:
        while run.alive or shown < len(run.history.epochs):
            epochs = run.history.snapshot()["epochs"]
            for e in epochs[shown:]:
                print(f"epoch {e['epoch']:>3}/{total}  {_metrics_text(e)}  lr {e['lr']:.3g}  {e['time_s']:.1f} s"
                      + (f"  (stopped early: weights of epoch {e['restored_epoch']} restored)"
                         if "restored_epoch" in e else ""), flush=True)
            shown = len(epochs)
            time.sleep(0.05)
    except KeyboardInterrupt:
        run.stop()
        run.join()
    reg.flush()
    result = {"run_id": run.id, **run.result()}
    if result["status"] in ("diverged", "failed"):
        print(result["message"], file=sys.stderr)
    print(json.dumps(result), flush=True)
    return result


def cmd_train(args) -> int:
    from playground.device import describe

    cfg = _load(args)
    reg = _registry()
    run = reg.start(cfg, publish_every=0.5, owner=args.owner)
    print(f"training {run.name} on {describe(run.device)}: {len(run.data.X_train)} samples, "
          f"{cfg.epochs} epochs, batch {cfg.batch_size} (run {run.id}, stored in {reg.store.home})", flush=True)
    result = _follow(reg, run, cfg.epochs)
    return 0 if result["status"] in ("finished", "stopped") else 1


def _epochs_text(epochs: list[int]) -> str:
    """'0, 1, 2, 5, 10', or for a long list its first and last few: '0, 1, 2, 3, 4, 5, ..., 90, 100 (27 in all)'."""
    if len(epochs) <= 14:
        return ", ".join(map(str, epochs))
    return f"{', '.join(map(str, epochs[:6]))}, ..., {', '.join(map(str, epochs[-6:]))} ({len(epochs)} in all)"


def _epoch(store, row, epoch: int | None) -> int | None:
    """--epoch if the run has a snapshot at it (None: the latest); otherwise a message that lists the
    epochs that have one. Never another epoch quietly: a teacher's material must show the epoch asked for."""
    if epoch is None:
        return None
    have = sorted({s.epoch for s in store.snapshots(row.id)})
    if not have or epoch in have:
        return epoch                                # no snapshot at all: frozen_model says so
    earlier, later = [e for e in have if e < epoch], [e for e in have if e > epoch]
    near = f" (the nearest are {earlier[-1]} and {later[0]})" if earlier and later and len(have) > 14 else ""
    why = "is negative: epochs count from 0, the initial weights" if epoch < 0 else "has no snapshot"
    raise PlaygroundError(f"--epoch: {epoch} {why}; run {row.id} ({row.name}) has snapshots at epochs "
                          f"{_epochs_text(have)}{near}; pick one of them, or leave --epoch out for the latest "
                          f"({have[-1]})")


def cmd_resume(args) -> int:
    from playground.store import default_store

    row = default_store().find(args.run)
    reg = _registry()
    run = reg.resume(row.id, more_epochs=args.epochs, publish_every=0.5)
    ckpt_epoch = (reg.store.get(row.id).ckpt_epoch or 1) - 1
    print(f"resuming {run.name} (run {run.id}) after epoch {ckpt_epoch}, to epoch {run.config.epochs}", flush=True)
    result = _follow(reg, run, run.config.epochs, after=ckpt_epoch)
    return 0 if result["status"] in ("finished", "stopped") else 1


def cmd_runs(args) -> int:
    from playground.store import default_store

    store = default_store()
    for w in store.warnings:
        print(f"warning: {w}", file=sys.stderr)
    rows = store.list(None if args.owner is None else args.owner, lesson=args.lesson)
    if args.lesson is not None and not rows and _registry().lesson(args.lesson) is None:
        raise PlaygroundError(f"--lesson: no lesson '{args.lesson}' and no runs started in one of that id; "
                              f"python -m playground lesson list shows the lessons")
    if args.json:
        for r in rows:
            print(json.dumps(r.summary()))
        return 0
    if not rows:
        print(f"no stored runs in {store.home}" + (f" started in lesson '{args.lesson}'" if args.lesson else ""))
        return 0
    print(f"{'id':<9} {'status':<11} {'epochs':>9} {'best acc':>8}  {'when':<16} {'data':<12} {'optimizer':<16} name")
    for r in rows:
        s = r.summary()
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created_at))
        acc = "–" if r.best_val_acc is None else f"{r.best_val_acc:.1%}"
        opt = f"{s['optimizer']} {s['lr']:g}"
        print(f"{r.id:<9} {r.status:<11} {f'{r.epochs_done}/{r.epochs_total}':>9} {acc:>8}  {when:<16} "
              f"{s['data']:<12} {opt:<16} {r.name}")
    print(f"{len(rows)} run(s) in {store.home} ({store.usage() / 2**20:,.1f} MB)")
    return 0


def cmd_export(args) -> int:
    from playground.export import export_run
    from playground.store import default_store

    store = default_store()
    row = store.find(args.run)
    if args.format == "script" and args.epoch is not None:
        raise PlaygroundError(f"--epoch: the script format writes the program that trains run {row.id} from its "
                              f"start, so it has no epoch ({args.epoch}); leave --epoch out, or export the weights "
                              f"at that epoch with --format safetensors")
    info = export_run(store, row.id, args.format, args.out, epoch=_epoch(store, row, args.epoch))
    print(json.dumps(info), flush=True)
    return 0


def _lesson_file(path: str, keep_id: bool):
    """A lesson file, checked (lesson_from_file); a new id unless keep_id and it has one. One line per error."""
    from playground.lessons import lesson_from_file

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise PlaygroundError(f"lesson file '{path}' cannot be read ({e.strerror or e}); give the path of a .yaml or "
                              f".json lesson, e.g. examples/lessons/spiral_small.yaml") from None
    try:
        return lesson_from_file(data, path, keep_id)
    except PlaygroundError as e:                    # YAML's message quotes the line under a caret: one line here
        lines = [x.strip() for x in str(e).splitlines() if x.strip() and not x.startswith("    ")]
        raise PlaygroundError(" ".join(lines).replace('in "<unicode string>", ', "at ").rstrip(":")) from None


def cmd_lesson(args) -> int:
    reg = _registry()
    if args.action in ("add", "import"):
        lesson = reg.save_lesson(_lesson_file(args.target, keep_id=args.action == "import"))
        print(f"{lesson.id}  {lesson.title}\nthe class opens it with ?lesson={lesson.id} after the app's address")
    elif args.action == "list":
        for x in reg.lessons():
            print(json.dumps({"id": x.id, "title": x.title, "rules": x.rules(), "shipped": x.shipped}) if args.json
                  else f"{x.id:<18} {'shipped' if x.shipped else 'stored':<8} {x.title}"
                  + "".join(f"\n{'':<28}{r}" for r in x.rules()))
    elif args.action == "export":
        lesson = reg.lesson(args.target)
        if lesson is None:
            raise PlaygroundError(f"no lesson '{args.target}'; python -m playground lesson list shows the lessons")
        if args.out is None:
            print(lesson.to_json())
            return 0
        try:
            Path(args.out).write_text(lesson.to_json() + "\n", encoding="utf-8")
        except OSError as e:
            raise PlaygroundError(f"--out: cannot write '{args.out}' ({e.strerror or e}); give a path in a folder "
                                  f"that exists and that you can write to") from None
        print(f"lesson {lesson.id} written to {args.out}")
    else:                                                       # delete
        reg.delete_lesson(args.target)
        print(f"lesson {args.target} deleted (its runs are kept)")
    return 0


def _numbers(text: str | None, flag: str, kind, noun: str, how: str, example: str) -> list | None:
    """A list of numbers typed as one option ("3 1 4" or "0.5,-1.2"), or a message that says how to write it."""
    if text is None:
        return None
    try:
        return [kind(t) for t in text.replace(",", " ").split()]
    except ValueError:
        raise PlaygroundError(f"{flag}: '{text}' is not a list of {noun}; write {how}, e.g. {flag} {example}") from None


def cmd_inspect(args) -> int:
    from playground.inspect import run_view
    from playground.store import default_store
    from playground.train.frozen import frozen_model

    store = default_store()
    row = store.find(args.run)
    if args.view == "explain" and args.over_training and args.epoch is not None:
        raise PlaygroundError(f"--epoch: --over-training explains the input at every snapshot, so it takes no "
                              f"epoch ({args.epoch}); leave --epoch out, or drop --over-training for that epoch alone")
    if args.images < 1:
        raise PlaygroundError(f"--images: {args.images} is too few; the trust checks need 1 or more validation "
                              f"images, e.g. --images 16")
    frozen = frozen_model(store, row.id, _epoch(store, row, args.epoch))
    tokens = _numbers(args.tokens, "--tokens", int, "whole numbers", "the sequence's tokens separated by spaces",
                      "\"3 1 4 1 5 9 2 6\"")
    z = _numbers(args.z, "--z", float, "numbers", "the code's values separated by commas", "\"0.5,-1.2\"")
    common = dict(split=args.split, layer=args.layer, sample=args.sample, method=args.method)
    explaining = dict(target=args.target, baseline=args.baseline, steps=args.steps, noise=args.noise,
                      samples=args.samples, window=args.window, stride=args.stride, cell=args.cell, evals=args.evals,
                      background=args.background)
    if args.view == "explain" and args.over_training:
        from playground.inspect.explain import over_training

        frozens = (frozen_model(store, row.id, s.epoch) for s in store.snapshots(row.id))
        view = over_training(frozens, **{k: v for k, v in {**common, **explaining}.items() if v is not None})
    elif args.view == "shap":
        view = run_view("shap", frozen, split=args.split, method=args.method, **explaining)
    elif args.view == "trust":
        def say(name, result):
            if not args.json:
                print(f"  {name}: {json.dumps(result)}", flush=True)
        if not args.json:
            print(f"{row.name} ({row.id}), trust checks of {args.method or 'gradcam'} at epoch {frozen.epoch}:",
                  flush=True)
        view = run_view("trust", frozen, **common, **explaining, n=args.images, on_check=say)
    else:
        view = run_view(args.view, frozen, **common, channel=args.channel, row=args.row, col=args.col, k=args.k,
                        head=args.head, tokens=tokens, z=z, x=args.x, y=args.y,
                        **(explaining if args.view == "explain" else {}),
                        records=store.stats(row.id) if args.view == "stats" else None)
    return _report_view(args, row, frozen, view)


def _report_view(args, row, frozen, view) -> int:
    """Write the view's arrays to --out, print its summary (one JSON object with --json); 0."""
    import numpy as np

    if args.out:
        try:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(args.out, **view.arrays)
        except OSError as e:
            raise PlaygroundError(f"--out: cannot write '{args.out}' ({e.strerror or e}); give a path in a folder "
                                  f"that exists and that you can write to") from None
    summary = {"run_id": row.id, "view": args.view, **view.summary, **({"out": args.out} if args.out else {})}
    if args.view == "trust" and not args.json:
        if args.out:
            print(f"arrays ({', '.join(view.arrays)}) written to {args.out}")
        return 0
    if args.json:
        print(json.dumps(summary), flush=True)
    else:
        print(f"{row.name} ({row.id}), {args.view} at epoch {frozen.epoch}{' (partial)' if frozen.partial else ''}"
              + (f" on the {args.split} split:" if "split" in view.summary else ":"))
        for k, v in summary.items():
            if k not in ("run_id", "view", "class_names"):
                print(f"  {k}: {json.dumps(v)}")
        if args.out:
            print(f"arrays ({', '.join(view.arrays)}) written to {args.out}")
    return 0


def cmd_compare(args) -> int:
    from playground.compare import compare_configs, spec_seeds
    from playground.config import read_mapping
    from playground.train.registry import Registry

    spec = read_mapping(args.config)
    configs = compare_configs(spec)
    if args.epochs is not None:
        for c in configs:
            c.epochs = args.epochs
            c.validate()
    if args.seeds is not None or spec_seeds(spec) > 1:
        args.seeds = args.seeds if args.seeds is not None else spec_seeds(spec)
        return compare_seeds(configs, args)
    reg = Registry(max_active=len(configs), processes=True)
    print(f"racing {len(configs)} variants at once (same seed {configs[0].seed}: same initial weights, "
          f"same data order): {', '.join(c.name for c in configs)}", flush=True)
    gid = reg.start_group(configs, publish_every=0.5, owner=args.owner)
    runs = reg.group(gid)
    try:
        pending = list(runs)
        while pending:
            for run in [r for r in pending if r.join(0.05)]:
                res = run.result()
                print(f"{run.name}: {res['status']} after {res['epochs']} epochs, val loss "
                      f"{res['val_loss'] if res['val_loss'] is None else round(res['val_loss'], 4)}, val acc "
                      f"{res['val_accuracy'] if res['val_accuracy'] is None else round(res['val_accuracy'], 4)}",
                      flush=True)
                pending.remove(run)
    except KeyboardInterrupt:
        for run in runs:
            run.stop()
        for run in runs:
            run.join()
    finally:
        reg.flush()
        reg.executor.close()
    for run in runs:
        print(json.dumps({"name": run.name, "run_id": run.id, **run.result()}), flush=True)
    return 0 if all(r.result()["status"] in ("finished", "stopped", "diverged") for r in runs) else 1


def compare_seeds(configs: list, args) -> int:
    """compare --seeds N: every variant once per seed (the seeds one race after another, as slots free),
    then, per variant, its runs and what they add up to, as JSON: the final and best validation metric's
    mean and spread over the seeds, and, against the reference variant, the paired verdict."""
    from playground.errors import ConfigError
    from playground.seeds import DONE, in_order, number_format, seed_configs, seed_results, summary_rows
    from playground.train.registry import Registry
    from playground.train.tasks import LONG_NAMES, METRIC_LABELS

    names = [c.name for c in configs]
    reference = args.reference or names[0]
    if reference not in names:
        raise ConfigError(f"--reference: '{reference}' is not a variant; pick one of {', '.join(names)}")
    groups = seed_configs(configs, args.seeds)
    seeds = [g[0].seed for g in groups]
    reg = Registry(max_active=len(configs), processes=True, waiting_per_owner=len(groups))
    print(f"racing {len(configs)} variants x {len(groups)} seeds ({', '.join(map(str, seeds))}): for each seed, every "
          f"variant starts from the same weights and sees the same data order", flush=True)
    runs = []                                           # runs[k][v]: seed k's run of variant v
    try:
        gids = reg.start_series(groups, publish_every=0.5, owner=args.owner)
        runs = [in_order(reg.group(gid), group) for gid, group in zip(gids, groups)]
        for group in runs:
            for run in group:
                run.join()
                res = run.result()
                print(f"{run.name}: {res['status']} after {res['epochs']} epochs", flush=True)
    except KeyboardInterrupt:
        for run in (r for g in runs for r in g):
            run.stop()
    finally:
        reg.flush()
        reg.executor.close()
    if not runs:                                        # interrupted before the races were made
        return 1
    task = runs[0][0].task
    metric, higher = task.headline, task.higher_better
    results = {name: seed_results([group[v].history.snapshot() for group in runs], metric, higher)
               for v, name in enumerate(names)}
    label = f"validation {METRIC_LABELS.get(metric, metric)}"
    ok = True
    for v, row in enumerate(summary_rows(results, reference, higher, label, number_format(metric))):
        each = [{"seed": seed, "run_id": group[v].id, **r}
                for seed, group, r in zip(seeds, runs, results[row["variant"]])]
        out = {"name": row["variant"], "metric": f"val_{LONG_NAMES.get(metric, metric)}", "higher_is_better": higher,
               "runs": each, "final": row["final"], "best": row["best"]}
        if row["against"] is not None:
            out["against"] = {"reference": reference, "on": "final", **row["against"]}
        ok &= all(r["status"] in DONE for r in each)
        print(json.dumps(out), flush=True)
    return 0 if ok else 1


def cmd_datasets(args) -> int:
    from playground.data import DATASETS

    for name, spec in DATASETS.items():
        print(f"{name:<14} {spec.kind:<7} {spec.task:<15} {'offline' if spec.offline else 'files/online':<13} "
              f"{spec.about}")
    return 0


def cmd_data(args) -> int:
    """data add|list|delete: the uploaded sets (kept in the run store, one per content)."""
    from playground.data import uploads

    if args.action == "add":
        path = Path(args.file).expanduser()
        if not path.is_file():
            raise PlaygroundError(f"no file '{args.file}'")
        raw = path.read_bytes()
        if path.suffix.lower() == ".zip":
            images = uploads.read_images(raw, path.name, args.size, args.colour)
            meta = uploads.save_set(raw, _set_name(args.name, path), "cli", kind="images")
            data = {"name": "upload_images", "upload": meta["id"], "image_size": args.size, "colour": args.colour}
            print(json.dumps({"id": meta["id"], "filename": meta["filename"], "card": uploads.image_card(images),
                              "config": {"data": data}}, indent=1))
            return 0
        table = uploads.read_table(raw, path.name)
        target = args.target or table.columns[-1].name
        ts = uploads.table_set(table, target, args.task or "", _names(args.features), args.missing)
        meta = uploads.save_set(raw, _set_name(args.name, path), "cli")
        data = {"name": "upload", "upload": meta["id"], "target": target, "target_task": ts.task,
                "features": _names(args.features), "missing": args.missing}
        print(json.dumps({"id": meta["id"], "filename": meta["filename"], "columns": uploads.columns_info(table),
                          "read": table.notes, "card": uploads.card(ts), "config": {"data": data}}, indent=1))
    elif args.action == "list":
        for m in uploads.list_sets():
            print(json.dumps(m) if args.json else f"{m['id']}  {m['kind']:<6} {m['bytes']:>10,} B  {m['filename']}")
    else:
        used = [f"{r.id} ({r.name})" for r in _registry().store.list()
                if r.config.get("data", {}).get("upload") == args.id]
        uploads.delete_set(args.id, used)
        print(f"data set {args.id} deleted")
    return 0


def _set_name(name: str | None, path: Path) -> str:
    """--name, keeping the file's suffix (a .tsv is read by tabs), or the file's own name."""
    if not name:
        return path.name
    return name if name.lower().endswith(path.suffix.lower()) else name + path.suffix


def _names(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def cmd_bench(args) -> int:
    from playground.train import bench

    bench.main(quick=args.quick)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m playground", description="Training Playground, headless.")
    sub = p.add_subparsers(dest="cmd", required=True)
    _add_run_commands(sub)
    _add_inspect(sub)
    s = sub.add_parser("bench", help="engine vs bare PyTorch loop, concurrency, busy neighbour")
    s.add_argument("--quick", action="store_true", help="shorter runs (noisier figures)")
    s.set_defaults(fn=cmd_bench)
    sub.add_parser("datasets", help="list the data sets").set_defaults(fn=cmd_datasets)
    _add_lesson(sub)
    _add_data(sub)
    return p


def _add_data(sub) -> None:
    s = sub.add_parser("data", help="add, list or delete your own data sets (tables)")
    acts = s.add_subparsers(dest="action", required=True)
    a = acts.add_parser("add", help="keep a CSV/TSV file or a zip of images as a set; prints its id, its card and "
                                    "the config that trains on it, as JSON")
    a.add_argument("file", help="a .csv or .tsv file with a header row, or a .zip with one folder per class")
    a.add_argument("--name", help="the name the set is listed and shown by (default: the file's name)")
    a.add_argument("--size", type=int, default=28, help="images: pixels a side (default 28)")
    a.add_argument("--colour", action="store_true", help="images: keep colour (default: grey)")
    a.add_argument("--target", help="the column to predict (default: the last)")
    a.add_argument("--task", choices=("classification", "regression"), help="default: proposed from the target")
    a.add_argument("--features", help="the input columns, comma separated (default: every other column)")
    a.add_argument("--missing", choices=("drop", "mean"), default="drop",
                   help="rows with a missing input: dropped, or the value filled with its column's training mean")
    a = acts.add_parser("list", help="the stored sets: id, kind, size, file name")
    a.add_argument("--json", action="store_true")
    a = acts.add_parser("delete", help="delete a set no run uses")
    a.add_argument("id")
    s.set_defaults(fn=cmd_data)


def _add_lesson(sub) -> None:
    """lesson add|list|export|import|delete: the teacher's lessons, kept in the run store."""
    s = sub.add_parser("lesson", help="add, list, export, import or delete lessons (?lesson=ID links)")
    acts = s.add_subparsers(dest="action", required=True)
    for name, text, arg in [("add", "store a lesson file under a new id", "a .yaml or .json lesson file"),
                            ("import", "store a lesson file under its own id (replacing a lesson of that id)",
                             "a .yaml or .json lesson file, e.g. one exported"),
                            ("export", "write a lesson as JSON (to stdout, or --out)", "the lesson's id"),
                            ("delete", "delete a stored lesson (its runs are kept)", "the lesson's id")]:
        a = acts.add_parser(name, help=text)
        a.add_argument("target", metavar="FILE" if name in ("add", "import") else "ID", help=arg)
        if name == "export":
            a.add_argument("--out", help="the file to write (default: stdout)")
    a = acts.add_parser("list", help="the lessons: id, title and rules")
    a.add_argument("--json", action="store_true", help="one JSON object per lesson")
    s.set_defaults(fn=cmd_lesson)


def _add_run_commands(sub) -> None:
    """train, check, compare, runs, resume, export: the commands that start, list or write runs."""
    for name, fn, text in [("train", cmd_train, "train the run a config file describes"),
                           ("check", cmd_check, "print the layer/shape/parameter table of a config")]:
        s = sub.add_parser(name, help=text)
        s.add_argument("config", help="path to a .json or .yaml run config (see examples/)")
        s.add_argument("--epochs", type=int, help="override the config's epochs")
        s.add_argument("--device", help="override the config's device (auto, cpu, cuda, mps)")
        s.add_argument("--seed", type=int, help="override the config's seed")
        s.set_defaults(fn=fn)
        if name == "train":
            s.add_argument("--owner", default="cli", help="whose run it is in the app: a browser's token "
                                                          "(the ?me=... of its address), default 'cli'")
    s = sub.add_parser("compare", help="race the variants of a compare config side by side")
    s.add_argument("config", help="path to a compare config: base + variants (see examples/compare/)")
    s.add_argument("--epochs", type=int, help="override every variant's epochs")
    s.add_argument("--owner", default="cli", help="whose runs they are in the app (a browser's token)")
    s.add_argument("--seeds", type=int, help="train every variant once per seed (1 to 10: the base's seed, +1, ...; "
                                             "default: the config's seeds, 1); "
                                             "prints, per variant, its runs, the mean and spread of the final and "
                                             "best validation metric, and the paired verdict against --reference")
    s.add_argument("--reference", help="with --seeds: the variant the others are judged against (default: the first)")
    s.set_defaults(fn=cmd_compare)
    s = sub.add_parser("runs", help="list the stored runs")
    s.add_argument("--json", action="store_true", help="one JSON object per run")
    s.add_argument("--owner", help="only the runs of this owner (a browser's token, or 'cli')")
    s.add_argument("--lesson", help="only the runs started in this lesson (its id: lesson list shows them)")
    s.set_defaults(fn=cmd_runs)
    s = sub.add_parser("resume", help="continue a stored run from its last checkpoint")
    s.add_argument("run", help="the run's id (or a unique start of it, or its name)")
    s.add_argument("--epochs", type=int, help="train this many more epochs (default: to its planned end)")
    s.set_defaults(fn=cmd_resume)
    s = sub.add_parser("export", help="write a stored run's weights, model or training script")
    s.add_argument("run", help="the run's id (or a unique start of it, or its name)")
    s.add_argument("--format", required=True, choices=("safetensors", "torchscript", "onnx", "script"),
                   help="safetensors: the weights; torchscript/onnx: the model, checked against PyTorch; "
                        "script: a standalone PyTorch program that trains the run")
    s.add_argument("--out", required=True, help="the file to write")
    s.add_argument("--epoch", type=int, help="the snapshot to export (default: the latest; one the run has: "
                                             "another is refused with the list; not for --format script)")
    s.set_defaults(fn=cmd_export)


def _add_inspect(sub) -> None:
    """The inspect command: the view, what it looks at, the attribution settings, the output."""
    s = sub.add_parser("inspect", help="what an inspection view draws, from a stored run's snapshot")
    s.add_argument("run", help="the run's id (or a unique start of it, or its name)")
    s.add_argument("view", choices=("evaluate", "filters", "activations", "conv", "top", "size", "stats",
                                    "attention", "attention-cell", "latent", "decode", "explain", "trust", "shap",
                                    "plane"),
                   help="evaluate: confusion matrix, per-class metrics, ROC/PR; filters: a Conv2d layer's kernels; "
                        "activations: every layer's output for one input; conv: one output cell of a Conv2d "
                        "layer by hand (window x kernel + bias, checked against F.conv2d); top: the inputs that "
                        "activate a channel most; size: a Conv2d or pooling layer's output-size arithmetic; "
                        "stats: every layer's weight, gradient and output statistics over training (recorded at "
                        "each snapshot), with the numbers at --epoch; attention: every attention layer's weights "
                        "per head for one sequence, the rollout and the task's pattern scores per head; "
                        "attention-cell: one weight by hand (q.k, 1/sqrt(d_k), the softmax over the row); latent: "
                        "the codes of the split (an autoencoder's Latent layer, or --layer's output), their 2-D "
                        "drawing (--method), the 5-NN score and the PCA comparison; decode: the decoder's output "
                        "for the code --z; explain: an attribution map for one input (--method, --sample, "
                        "--target; --over-training: at every snapshot); trust: the checks that say whether a "
                        "method's maps can be trusted (completeness, model randomisation, pointing game, "
                        "deletion/insertion), printed as each finishes; shap: a table's SHAP values for every row "
                        "of the split (--target class; --method deepshap or shap), ranked by mean |SHAP|; plane: "
                        "a table run's predictions over two inputs (--x, --y), the others at their training mean, "
                        "and how often that slice agrees with the whole row's prediction")
    _add_view_options(s)
    _add_explain_options(s)
    s.add_argument("--x", help="plane: the input across, by its name or number from 1 (default: the first)")
    s.add_argument("--y", help="plane: the input up, by its name or number from 1 (default: the second)")
    s.add_argument("--z", help="decode: the code to decode, its values separated by commas, e.g. --z \"0.5,-1.2\"")
    s.add_argument("--out", help="write the view's arrays to this .npz file")
    s.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    s.set_defaults(fn=cmd_inspect)


def _add_view_options(s: argparse.ArgumentParser) -> None:
    """inspect: which snapshot, data, layer, input and unit a view looks at."""
    s.add_argument("--epoch", type=int, help="the snapshot's epoch (default: the latest; an epoch without a "
                                             "snapshot is refused with the list of those that have one)")
    s.add_argument("--split", default="val", choices=("val", "train"), help="the data to evaluate on (evaluate, "
                                                                            "activations)")
    s.add_argument("--layer", type=int, help="filters, conv, top, size: the layer's number in the network "
                                             "(default: the first Conv2d); stats: the one layer to summarise; "
                                             "attention-cell: the attention layer (default: the first); latent: "
                                             "the layer whose output is the code (default: the Latent layer, "
                                             "else the last hidden layer); explain, trust: the Conv2d layer of a "
                                             "CAM method (default: the last)")
    s.add_argument("--sample", type=int, help="activations, conv, attention, explain: the input's index in the split "
                                              "(default 0)")
    s.add_argument("--tokens", help="attention, attention-cell: a sequence of your own instead of --sample, "
                                    "e.g. \"3 1 4 1 5 9 2 6\"")
    s.add_argument("--head", type=int, help="attention-cell: the head (default 0)")
    s.add_argument("--channel", type=int, help="conv, top: the output channel (filter) or unit (default 0)")
    s.add_argument("--row", type=int, help="conv: the output cell's row; attention-cell: the query position "
                                           "(default 0)")
    s.add_argument("--col", type=int, help="conv: the output cell's column; attention-cell: the key position "
                                           "(default 0)")
    s.add_argument("--k", type=int, help="top: how many inputs (default 9)")
    s.add_argument("--method", help="latent: how to draw the codes in 2-D: raw, pca, umap or tsne (default: raw "
                                    "for codes of 3 values or fewer, else pca; umap and tsne take seconds); "
                                    "explain, trust: gradcam (default), gradcampp, layercam, guided, saliency, ig, "
                                    "smoothgrad, occlusion, shap, deepshap or kernelshap")


def _add_explain_options(s: argparse.ArgumentParser) -> None:
    """inspect explain, trust and shap: the attribution methods' settings."""
    s.add_argument("--target", type=int, help="explain: the class to explain (default: the predicted one; "
                                              "with --over-training the true one)")
    s.add_argument("--over-training", action="store_true", help="explain: the input's explanation at every "
                                                                "snapshot (arrays epochs, maps, probs)")
    s.add_argument("--baseline", choices=("black", "blur", "noise", "mean"),
                   help="explain (ig, occlusion, kernelshap): the reference input (default: black for images, mean, "
                        "the average training row, for tables)")
    s.add_argument("--steps", type=int, help="explain (ig): points on the path (default 32)")
    s.add_argument("--noise", type=float, help="explain (smoothgrad): noise std as a fraction of the data's range "
                                               "(default 0.15)")
    s.add_argument("--samples", type=int, help="explain (smoothgrad, shap): noisy copies / samples per background "
                                               "example (default 16)")
    s.add_argument("--window", type=int, help="explain (occlusion): the covering square's side (default 4)")
    s.add_argument("--stride", type=int, help="explain (occlusion): its step (default 2)")
    s.add_argument("--cell", type=int, help="explain (kernelshap): superpixel side in pixels (default 4)")
    s.add_argument("--evals", type=int, help="explain (kernelshap): model evaluations (default 256)")
    s.add_argument("--background", type=int, help="explain (shap, deepshap): background examples, drawn across "
                                                   "classes (default 40)")
    s.add_argument("--images", type=int, default=16, help="trust: validation images per check (the pointing "
                                                          "game uses at least 200)")


# options whose value is a list typed as one word ("-0.5,1.2", "-1 3"): argparse takes a value that starts
# with "-" and is not a single negative number for an option of its own ("expected one argument")
LIST_OPTIONS = ("--z", "--tokens")


def _glue_lists(argv: list[str]) -> list[str]:
    """argv with `--z -0.5,1.2` written as `--z=-0.5,1.2`, so that a code or a sequence may start with a
    minus sign (or -inf, -nan: refused later with a message that names them)."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] in LIST_OPTIONS and i + 1 < len(argv) and re.match(r"-(\d|\.\d|inf|nan)", argv[i + 1], re.I):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def main(argv=None) -> int:
    from playground.data import uploads

    args = build_parser().parse_args(_glue_lists(list(sys.argv[1:] if argv is None else argv)))
    uploads.ALLOW_PATHS = True                   # data.path: a file on this machine, named by its own user
    try:
        return args.fn(args)
    except PlaygroundError as e:
        print(f"error: {e}", file=sys.stderr)
        if args.cmd in ("train", "compare", "resume"):
            print(json.dumps({"status": "failed", "message": str(e)}))
        return 2
    finally:
        uploads.ALLOW_PATHS = False              # main() called in a process that also serves the app (tests)


if __name__ == "__main__":
    from playground import quick_exit
    from playground.train import heap

    quick_exit.skip_final_collections()  # ~0.5-1 s of CPU less at the end of each command (quick_exit.py)
    heap.keep_freed(one_arena=True)     # the CLI's training thread keeps a step's freed memory (heap.py)
    sys.exit(main())
