"""The training loop: a Trainer trains one checked run in the caller's thread, recording into a History.

    trainer = Trainer(check(config), history=History(), stop=threading.Event())
    trainer.build()                 # the network on its device, initialised (or loaded from a checkpoint)
    trainer.train()                 # epochs of steps, until the end, a Stop, divergence or early stopping

Executors (a thread, a worker process, a Ray actor) differ only in where they call `train_job()`.
The hot loop does per step only what a bare PyTorch loop does, plus appending the detached loss to
a list and reading the clock; syncs (.tolist()), NaN checks, locks and the decision-boundary grid
happen at most every `publish_every` seconds and at epoch ends. A run resumes from a checkpoint at
the exact step it was taken, with the same numbers as if it had never stopped.
"""
from __future__ import annotations

import contextlib
import copy
import logging
import math
import threading
import time
import uuid
import warnings
from dataclasses import dataclass, field

import torch

from playground.config import GRID, RunConfig
from playground.data import Dataset
from playground.data.augment import make_augment
from playground.errors import ConfigError, PlaygroundError
from playground.models.blocks import Latent
from playground.models.init import apply_init
from playground.models.layers import Dropout
from playground.store import policy
from playground.train.advice import divergence_advice
from playground.train.checked import CheckedRun, check, check_device, default_name
from playground.train.fast import Gradients, lean_step
from playground.train.history import History
from playground.train.optim import make_optimizer, make_scheduler
from playground.train.probe import BATCH_NORMS, Probe
from playground.train.tasks import LONG_NAMES, Task

log = logging.getLogger(__name__)
BLOWUP = 100.0                  # a loss above BLOWUP x max(first loss, 1), or NaN/inf, is divergence
BOUNDARY_EVERY = 0.25           # seconds between decision-boundary grids (and one at the end)
CHECKPOINT_EVERY = 2.0          # seconds between checkpoints at epoch ends (and one where a run ends)
CURVE_POINTS = 200              # 1-D inputs: points on the fitted curve
# Schedules planned over the run's total length: resuming with another total re-plans them.
TOTAL_DEPENDENT = ("cosine", "onecycle")


def cpu_copy(obj):
    """A deep copy of a (nested) state dict with every tensor copied to the CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: cpu_copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(cpu_copy(v) for v in obj)
    return obj


@torch.no_grad()
def decision_grid(model: torch.nn.Module, data: Dataset, device, task: Task) -> dict | None:
    """What the model predicts over the input space of low-dimensional data, for the live picture.

    2-D inputs: a GRID x GRID lattice covering the data, {"xs", "ys", "p", "at"}; p is P(class 1) for
    classification, the prediction for regression. 1-D inputs: {"xs", "pred", "at"} on CURVE_POINTS
    points (the task's grid_values of the outputs). None for a task with no such picture (an autoencoder
    of 2-D points)."""
    if not task.pictured:
        return None
    X = torch.cat([data.X_train, data.X_val])
    lo, hi = X.min(0).values, X.max(0).values
    pad = (hi - lo) * 0.08
    was_training = model.training
    model.eval()
    try:
        if X.shape[1] == 1:
            xs = torch.linspace(float(lo[0] - pad[0]), float(hi[0] + pad[0]), CURVE_POINTS)
            pred = task.grid_values(model(xs[:, None].to(device)).float()).cpu()
            return {"xs": xs.tolist(), "pred": pred.nan_to_num(0.0).tolist(), "at": time.time()}
        xs = torch.linspace(float(lo[0] - pad[0]), float(hi[0] + pad[0]), GRID)
        ys = torch.linspace(float(lo[1] - pad[1]), float(hi[1] + pad[1]), GRID)
        gx, gy = torch.meshgrid(xs, ys, indexing="xy")                 # (GRID, GRID): rows follow y
        pts = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1).to(device)
        p = task.grid_values(model(pts).float()).reshape(GRID, GRID).cpu()
    finally:
        model.train(was_training)
    return {"xs": xs.tolist(), "ys": ys.tolist(), "p": p.nan_to_num(0.5).tolist(), "at": time.time()}


class EarlyStop:
    """Early stopping on the validation loss: remembers the best epoch's weights (a CPU copy)."""

    def __init__(self, patience: int):
        self.patience, self.best, self.best_epoch, self.best_state = patience, math.inf, 0, None

    def update(self, epoch: int, val_loss: float, model: torch.nn.Module) -> bool:
        """Record an epoch's validation loss; True when the run should stop."""
        if val_loss < self.best:
            self.best, self.best_epoch, self.best_state = val_loss, epoch, cpu_copy(model.state_dict())
            return False
        return epoch - self.best_epoch >= self.patience

    def state(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "best_state": self.best_state}

    def load(self, state: dict) -> None:
        self.best, self.best_epoch, self.best_state = state["best"], state["best_epoch"], state["best_state"]


def reported(history: History, train, log_name: str = "the server log") -> None:
    """train(); however it ends, the history says so: a PlaygroundError's message, or an internal
    error (logged with its traceback) named for the page. Whatever trains a run elsewhere (a
    thread, a worker process, a Ray actor) must always leave a status the page can show."""
    try:
        train()
    except PlaygroundError as e:
        history.update(status="failed", message=str(e))
    except Exception as e:
        log.exception("a run crashed")
        history.update(status="failed", message=f"internal error ({type(e).__name__}: {e}); "
                                                 f"see {log_name} for the traceback")


def check_resumable(cfg: RunConfig, ckpt: dict) -> None:
    p = ckpt["position"]
    if (p.get("batch_size", cfg.batch_size) != cfg.batch_size
            or p.get("schedule", cfg.schedule.name) != cfg.schedule.name):
        raise ConfigError("resume: the checkpoint was taken with another batch size or schedule; only the number "
                          "of epochs may change when a run resumes")
    if cfg.epochs < p["epoch"] - (1 if p["pos"] == 0 else 0):
        raise ConfigError(f"resume: the run has already trained {p['epoch'] - 1} epochs; "
                          f"give a total of at least {p['epoch'] - (1 if p['pos'] == 0 else 0)} epochs")


def restore_optimizer(ckpt: dict, opt, sched, new_sched, cfg: RunConfig, hist: History):
    """Load the optimizer (and scheduler) state of a checkpoint; returns the scheduler to use.

    The scheduler is built before the optimizer state is loaded, because building one sets the
    learning rate to its first value. A schedule planned over the total length (cosine, one-cycle)
    whose total changed (train N more epochs) is re-planned: a fresh one stepped to the current step.
    """
    p = ckpt["position"]
    opt.load_state_dict(ckpt["optimizer"])
    if sched is None:
        return None
    if cfg.schedule.name in TOTAL_DEPENDENT and p["epochs_total"] != cfg.epochs:
        for g in opt.param_groups:              # back to the base rate: cosine's steps are relative
            g["lr"] = g.get("initial_lr", g["lr"])
        sched = new_sched()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")                 # "lr_scheduler.step() before optimizer.step()"
            for _ in range(p["step"]):
                sched.step()
        hist.update(note=f"the {cfg.schedule.name} schedule was re-planned over {cfg.epochs} epochs when the run "
                         f"was extended (it had been planned over {p['epochs_total']})")
        return sched
    if ckpt.get("scheduler") is not None:
        sched.load_state_dict(ckpt["scheduler"])
    return sched


@dataclass
class Plan:
    """What one call of train() works with: the data on the device, the generators, schedule and
    helpers, and where it is (epoch, position in it, counters), which a checkpoint records."""
    X: torch.Tensor
    y: torch.Tensor
    X_val: torch.Tensor                 # the validation split, on the device once (not copied every epoch)
    y_val: torch.Tensor
    n: int                              # training samples per epoch (one fewer where BatchNorm would see 1)
    steps_per_epoch: int
    order: torch.Generator              # data order, independent of the initial weights
    sched: object
    scaler: object
    autocast: object
    snap_at: set
    early: EarlyStop | None
    augment: object
    update: Update                      # backward and optimizer step of a batch's total loss
    l1_params: list                     # the weights (not biases) an L1 penalty adds up, if there is one
    fast: Gradients | None              # a tiny MLP's forward pass and gradients by hand (train/fast.py)
    first_epoch: int = 1
    pos: int = 0                        # the first epoch starts at this sample (a resume inside an epoch)
    acc: dict | None = None             # that epoch's running sums so far
    step: int = 0
    samples: int = 0
    elapsed0: float = 0.0
    t_start: float = 0.0
    next_pub: float = 0.0
    next_ckpt: float = 0.0
    pending: list = field(default_factory=list)     # detached losses since the last publish


@dataclass
class EpochEnd:
    """How an epoch's steps ended: at sample `nxt` (n if it completed), with its running sums."""
    epoch: int
    epoch_order: torch.Tensor | None    # the order generator's state at the epoch's start (if it can end part-way)
    nxt: int
    loss_sum: torch.Tensor
    sums: torch.Tensor


class Trainer:
    """Train one checked run: build() the network, then train() in the caller's thread.

    stop: anything with is_set() and set() (a threading.Event, a worker's shared flag), read between
    steps. snapshot_budget: weight snapshots the run keeps (the store's policy plans their epochs).
    """

    def __init__(self, checked: CheckedRun, run_id: str | None = None, history: History | None = None,
                 stop=None, publish_every: float = 0.1, snapshot_budget: int = policy.BUDGET):
        self.checked = checked
        self.config, self.data, self.rows = checked.config, checked.data, checked.rows
        self.task = copy.copy(checked.task)    # build() ties it to this model (its Latent layers, its device)
        self.id = run_id or uuid.uuid4().hex[:8]
        self.name = self.config.name or default_name(self.config)
        self.history = history if history is not None else History()
        self.stop_flag = stop if stop is not None else threading.Event()
        self.publish_every = publish_every
        self.snapshot_budget = snapshot_budget
        self.device: torch.device | None = None
        self.model: torch.nn.Module | None = None
        self.optimizer = None
        self.probe: Probe | None = None
        self.steps = 0                         # steps taken so far (what a Stop is measured against)
        self.blowup: float | None = None       # loss threshold for divergence, set from the first loss
        self.resume_from: dict | None = None   # the checkpoint to continue from, if any
        self.dropout_gen: torch.Generator | None = None

    @classmethod
    def from_config(cls, config: RunConfig, data: Dataset | None = None, **kwargs) -> "Trainer":
        """check(config, data), then a Trainer for it (the CLI's and the tests' way in)."""
        return cls(check(config, data), **kwargs)

    # ----------------------------------------------------------------- lifecycle
    def build(self, checkpoint: dict | None = None) -> None:
        """Resolve the device, build and initialise the network, or load it from checkpoint; make its
        optimizer. Raises PlaygroundError."""
        cfg = self.config
        model = self.checked.build()
        self.device = check_device(cfg)
        apply_init(model, cfg.init, torch.Generator().manual_seed(cfg.seed))
        self.dropout_gen = torch.Generator(self.device).manual_seed(cfg.seed + 2)
        if checkpoint is not None:
            check_resumable(cfg, checkpoint)
            model.load_state_dict(checkpoint["model"])
            self.dropout_gen.set_state(checkpoint["rng"]["dropout"])
            self.blowup = checkpoint["position"]["blowup"]
            self.resume_from = checkpoint
        self.model = model.to(self.device)
        for m in self.model.modules():
            if isinstance(m, (Dropout, Latent)):
                m.generator = self.dropout_gen
        self.task.prepare(self.model, self.device)
        self.optimizer = make_optimizer(cfg.optim, self.model.parameters())

    def stop(self) -> None:
        """Ask the loop to stop after the current step; returns at once."""
        self.stop_flag.set()

    def run(self) -> dict:
        """Build (if needed) and train in this thread; returns `result()`."""
        torch.set_num_threads(self.config.threads)
        if self.model is None:
            self.build()
        self.train()
        return self.result()

    def train_job(self, checkpoint: dict | None = None, wait=None, log_name: str = "the server log") -> None:
        """What every executor runs where the run trains: build (unless built), wait() if given (a race
        starts every variant on one signal), train. However it ends, the history says so."""
        def job():
            torch.set_num_threads(self.config.threads)
            if self.model is None:
                self.build(checkpoint)
            if wait is not None:
                wait()
            self.train()
        reported(self.history, job, log_name)

    # ----------------------------------------------------------------- training
    def train(self) -> None:
        """Train from where the run is to its last epoch, unless a Stop, divergence or early stopping
        ends it first; the history's status and message say which."""
        plan = self._plan()
        self._begin(plan)
        self.model.train()
        for epoch in range(plan.first_epoch, self.config.epochs + 1):
            if not self._epoch(plan, epoch):
                return
        self.history.update(status="finished", message=f"finished {self.config.epochs} epoch"
                                                       f"{'' if self.config.epochs == 1 else 's'} in "
                                                       f"{time.perf_counter() - plan.t_start:.1f} s")

    def _plan(self) -> Plan:
        cfg, dev, model = self.config, self.device, self.model
        X, y = self.data.X_train.to(dev), self.data.y_train.to(dev)
        n = len(X)
        if n % cfg.batch_size == 1 and any(isinstance(m, BATCH_NORMS) for m in model.modules()):
            n -= 1                    # a last batch of one sample has no batch statistics: drop that sample
        steps_per_epoch = math.ceil(n / cfg.batch_size)
        amp_dtype = None
        if cfg.amp:
            amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        autocast = (lambda: torch.autocast("cuda", dtype=amp_dtype)) if amp_dtype else contextlib.nullcontext
        scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
        plan = Plan(X=X, y=y, X_val=self.data.X_val.to(dev), y_val=self.data.y_val.to(dev), n=n,
                    steps_per_epoch=steps_per_epoch,
                    order=torch.Generator().manual_seed(cfg.seed + 1),
                    scaler=scaler,
                    sched=make_scheduler(cfg.schedule, self.optimizer, steps_per_epoch, cfg.epochs),
                    autocast=autocast, snap_at=set(policy.plan(cfg.epochs, self.snapshot_budget)),
                    early=EarlyStop(cfg.patience) if cfg.patience else None,
                    augment=make_augment(cfg.data.augment, cfg.seed, self.data),   # per-sample, or None
                    fast=(fast := Gradients.of(model, self.task, X, dev, cfg)),
                    update=Update(self.optimizer, scaler, cfg.clip_norm, list(model.parameters()), fast),
                    l1_params=[q for q in model.parameters() if q.dim() > 1] if cfg.l1 else [])
        if cfg.stats:
            self.probe = Probe(model, [layer["type"] for layer in cfg.layers], X, y, self.task, cfg.seed)
        return plan

    def _begin(self, p: Plan) -> None:
        """Take up a checkpoint's position (or snapshot the initial weights); status running."""
        cfg, resume = self.config, self.resume_from
        if resume is not None:
            at = resume["position"]
            p.first_epoch, p.pos, p.step, p.samples, p.elapsed0 = (at["epoch"], at["pos"], at["step"], at["samples"],
                                                                   at["elapsed"])
            p.acc = resume["acc"] if p.pos else None
            p.sched = restore_optimizer(resume, self.optimizer, p.sched, lambda: make_scheduler(
                cfg.schedule, self.optimizer, p.steps_per_epoch, cfg.epochs), cfg, self.history)
            if p.scaler is not None and resume.get("scaler"):
                p.scaler.load_state_dict(resume["scaler"])
            p.order.set_state(resume["rng"]["order"])
            if p.early is not None and resume.get("early"):
                p.early.load(resume["early"])
            self.resume_from = None
        elif 0 in p.snap_at:
            self._snapshot(0, 0, False)                             # the initial weights
        self.history.update(status="running", progress={"epochs": cfg.epochs,
                                                        "steps": cfg.epochs * p.steps_per_epoch})
        p.t_start = time.perf_counter() - p.elapsed0
        p.next_pub = time.perf_counter()                            # publish the very first step at once
        p.next_ckpt = time.perf_counter() + CHECKPOINT_EVERY

    def _epoch(self, p: Plan, epoch: int) -> bool:
        """One epoch: its steps, its record, then snapshot, checkpoint and the end checks. False
        when the run ends here."""
        dev = self.device
        # to redraw this epoch's order on resume inside it (an epoch of one step always completes)
        epoch_order = p.order.get_state() if p.steps_per_epoch > 1 or p.acc is not None else None
        perm = torch.randperm(len(p.X), generator=p.order)[:p.n].to(dev)   # same order as without BatchNorm
        loss_sum = torch.zeros((), device=dev)
        sums = 0                                                    # the task's detached per-step sums
        if p.acc is not None:                                       # a resume inside this epoch
            loss_sum += p.acc["loss_sum"].to(dev)
            sums = p.acc.get("sums", p.acc.get("correct")).to(dev)
            p.acc = None
        start, p.pos = p.pos, 0
        ended = self._steps(p, epoch, perm, start, loss_sum, sums)
        return ended is not None and self._end_epoch(p, EpochEnd(epoch, epoch_order, *ended))

    def _steps(self, p: Plan, epoch: int, perm, start: int, loss_sum, sums) -> tuple | None:
        """The epoch's optimizer steps from sample `start`: (the sample it stopped at, the loss sum,
        the task's sums), or None if the run diverged."""
        cfg, model, opt, task, probe = self.config, self.model, self.optimizer, self.task, self.probe
        augment = p.augment
        X, y, n, bs, sched, autocast, pending = p.X, p.y, p.n, cfg.batch_size, p.sched, p.autocast, p.pending
        l1, l1_params, update, fast = cfg.l1, p.l1_params, p.update, p.fast
        probed = probe is not None and epoch in (p.snap_at | {cfg.epochs})      # the probe sees its last step
        step, samples, nxt = p.step, p.samples, n
        for i in range(start, n, bs):
            idx = perm[i:i + bs]
            xb, yb = X[idx], y[idx]                                 # (B, ...) and (B, ...)
            xt = xb
            if augment is not None:                                 # training batches only: (B, C, H, W) twice,
                xt, xb = augment.pair(xb, step)                     # transformed, and + noise/erasing (the input)
            target = task.target(xt, yb)                            # an autoencoder's target: xt, without the noise
            if fast is not None:
                out, loss = fast(xb, target)                        # .grad set as backward() would: no total
                total = None
            else:
                with autocast():
                    out = model(xb)                                 # (B, ...) what the task scores
                    loss = task.loss(out, target, model)
                    total = loss + l1 * sum(q.abs().sum() for q in l1_params) if l1 else loss
                opt.zero_grad(set_to_none=True)
            before = probe.before_step() if probed and i + bs >= n else None
            update(total)
            if before is not None:
                probe.after_step(before)                            # the update ratio of the epoch's last step
            if sched is not None:
                sched.step()
            loss = loss.detach()                                    # the task's loss, without the L1 term
            pending.append(loss)
            loss_sum += loss
            sums = sums + task.step_sums(out, target, loss)
            step += 1
            self.steps = step
            samples += len(idx)
            if self.stop_flag.is_set():
                nxt = i + bs
                break
            if time.perf_counter() >= p.next_pub:
                p.step, p.samples = step, samples
                if not self._publish(pending, step, samples, epoch, p.t_start):
                    return None
                pending.clear()
                p.next_pub = time.perf_counter() + self.publish_every
        p.step, p.samples = step, samples
        return nxt, loss_sum, sums

    def _end_epoch(self, p: Plan, end: EpochEnd) -> bool:
        """Publish, record and check the epoch; snapshot and checkpoint; False when the run ends here."""
        completed, stopping = end.nxt >= p.n, self.stop_flag.is_set()
        last = end.epoch == self.config.epochs or stopping
        # An epoch of one step (a full batch) publishes when the steps' own publish is due, not at every
        # end: thousands of tiny epochs a second would each pay for it. Its one loss is the record's
        # training loss, checked against the divergence limit below as the publish would; an epoch that
        # keeps a snapshot or a checkpoint, or where the run ends, publishes first (the store then holds
        # every step up to what it keeps).
        now = time.perf_counter()
        defer = (p.steps_per_epoch == 1 and not last and self.blowup is not None and now < p.next_pub
                 and now < p.next_ckpt and end.epoch not in p.snap_at)
        if not defer and not self._publish(p.pending, p.step, p.samples, end.epoch, p.t_start, boundary=last):
            return False
        if not defer:
            p.pending.clear()
        record = self._record(p, end, completed)
        if defer and not record["train_loss"] <= self.blowup:       # NaN fails <=: publish to say where
            self._publish(p.pending, p.step, p.samples, end.epoch, p.t_start)
            return False
        val_loss = record["val_loss"]
        stop_early = (p.early is not None and completed and math.isfinite(val_loss)
                      and p.early.update(end.epoch, val_loss, self.model))
        if defer and (stop_early or not math.isfinite(val_loss)):  # the run ends here: its last steps first
            self._publish(p.pending, p.step, p.samples, end.epoch, p.t_start, boundary=True)
            p.pending.clear()
        if stop_early:                                              # the record says where the weights came from
            record["restored_epoch"] = p.early.best_epoch
        self.history.add_epoch(record)
        if not math.isfinite(val_loss):
            self._diverged(p.step, end.epoch, f"the validation loss reached {val_loss:.3g}")
            return False
        if stop_early:
            self.model.load_state_dict(p.early.best_state)
            if self.probe is not None:
                self.probe.ratios = None                            # that step's update is not these weights'
            last = True
            if self.data.kind in ("points", "curve"):
                self.history.update(boundary=self.decision_grid())
        self._keep(p, end, completed, last, stop_early)
        if stopping:
            where = "after" if completed else "in"
            self.history.update(status="stopped", message=f"stopped by the user {where} epoch {end.epoch} "
                                                          f"(step {p.step})")
            return False
        if stop_early:
            e = p.early
            self.history.update(status="finished", message=(
                f"stopped early after epoch {end.epoch}: the validation loss had not improved for {e.patience} "
                f"epochs; the weights were restored to epoch {e.best_epoch}'s (validation loss {e.best:.4g})"))
            return False
        return True

    def _record(self, p: Plan, end: EpochEnd, completed: bool) -> dict:
        """The epoch's record: training loss and metrics over its steps, validation loss and metrics."""
        cfg, epoch = self.config, end.epoch
        steps_done = p.step - (epoch - 1) * p.steps_per_epoch
        val = self.evaluate(p.X_val, p.y_val)
        if not isinstance(end.sums, torch.Tensor):
            end.sums = torch.zeros(())
        train = self.task.train_metrics(end.sums, steps_done, min(p.n, steps_done * cfg.batch_size))
        record = {"epoch": epoch, "train_loss": end.loss_sum.item() / max(steps_done, 1),
                  **{f"train_{k}": v for k, v in train.items()},
                  **{f"val_{k}": v for k, v in val.items()}, "lr": self.optimizer.param_groups[0]["lr"],
                  "time_s": time.perf_counter() - p.t_start, "samples": p.samples, "step": p.step}
        if not completed:
            record["partial"] = True
        return record

    def _keep(self, p: Plan, end: EpochEnd, completed: bool, last: bool, stop_early: bool) -> None:
        """The epoch's snapshot, if planned (and the final weights, wherever the run ends); a
        checkpoint every CHECKPOINT_EVERY seconds at most, and where the run ends."""
        epoch = end.epoch
        if completed and epoch in p.snap_at and not stop_early:
            self._snapshot(epoch, p.step, False)
        elif last:
            self._snapshot(epoch, p.step, not completed)
        if not last and time.perf_counter() < p.next_ckpt:
            return
        t0 = time.perf_counter()
        if completed:                                               # resume at the next epoch's start
            at = dict(epoch=epoch + 1, pos=0, order_state=p.order.get_state(),
                      loss_sum=torch.zeros(()), sums=torch.zeros(()))
        else:                                                       # resume inside this epoch
            at = dict(epoch=epoch, pos=end.nxt, order_state=end.epoch_order, loss_sum=end.loss_sum, sums=end.sums)
        ckpt = self.checkpoint(step=p.step, samples=p.samples, elapsed=time.perf_counter() - p.t_start,
                               sched=p.sched, scaler=p.scaler, **at)
        if p.early is not None:
            ckpt["early"] = p.early.state()
        self.history.add_checkpoint(ckpt)
        cost = time.perf_counter() - t0                             # keep checkpoints under ~5% of the time
        p.next_ckpt = time.perf_counter() + max(CHECKPOINT_EVERY, 20 * cost)

    def checkpoint(self, epoch: int, pos: int, order_state: torch.Tensor, loss_sum: torch.Tensor,
                   sums: torch.Tensor, step: int, samples: int, elapsed: float, sched=None, scaler=None) -> dict:
        """Everything a resume needs, as CPU copies: model, optimizer, scheduler and scaler states, the
        data-order generator's state at the start of the epoch in progress and the position in it,
        the dropout generator, the epoch's running sums, and the counters."""
        return {
            "model": cpu_copy(self.model.state_dict()),
            "optimizer": cpu_copy(self.optimizer.state_dict()),
            "scheduler": sched.state_dict() if sched is not None else None,
            "scaler": scaler.state_dict() if scaler is not None else None,
            "rng": {"order": order_state.clone(), "dropout": self.dropout_gen.get_state().clone()},
            "acc": {"loss_sum": loss_sum.detach().to("cpu", copy=True),
                    "sums": sums.detach().to("cpu", copy=True)},
            "position": {"epoch": epoch, "pos": pos, "step": step, "samples": samples, "elapsed": elapsed,
                         "blowup": self.blowup, "epochs_total": self.config.epochs,
                         "schedule": self.config.schedule.name, "batch_size": self.config.batch_size},
        }

    def _snapshot(self, epoch: int, step: int, partial: bool) -> None:
        self.history.add_snapshot(epoch, step, partial, cpu_copy(self.model.state_dict()))
        if self.probe is not None:
            if partial:
                self.probe.ratios = None                            # a Stop: the last step was not planned for
            self.history.add_stats(self.probe.measure(epoch, step, self.dropout_gen))

    def _publish(self, pending, step, samples, epoch, t_start, boundary=False) -> bool:
        """Sync pending losses to the history; False (and status 'diverged') on a NaN/inf loss."""
        first = step - len(pending) + 1
        losses = torch.stack(pending).float().tolist() if pending else []
        if losses and self.blowup is None:
            self.blowup = BLOWUP * max(losses[0], 1.0)
        bad = next((k for k, v in enumerate(losses) if not v <= self.blowup), None)   # NaN fails <=
        if bad is not None:
            what = f"the training loss reached {losses[bad]:.3g}"
            losses = losses[:bad]
        self.history.add_steps(first, losses)
        elapsed = time.perf_counter() - t_start
        total = self.history.progress["steps"]
        rate = samples / elapsed if elapsed > 0 else 0.0
        eta = elapsed * (total - step) / step if step else None
        fields = {"progress": {"epoch": epoch, "step": step, "samples": samples, "samples_per_s": rate,
                               "elapsed_s": elapsed, "eta_s": eta}}
        if self.data.kind in ("points", "curve") and (boundary or self.history.boundary is None
                                                      or time.time() - self.history.boundary["at"] > BOUNDARY_EVERY):
            fields["boundary"] = self.decision_grid()
        self.history.update(**fields)
        self.history.add_mark((step, samples, elapsed, self.optimizer.param_groups[0]["lr"]))
        if bad is not None:
            self._diverged(first + bad, epoch, what)
            return False
        return True

    def _diverged(self, step: int, epoch: int, what: str) -> None:
        self.history.update(status="diverged", diverged_at=step, message=(
            f"Diverged: {what} at step {step} (epoch {epoch}), so training stopped "
            f"(the limit is NaN/inf or {BLOWUP:g}x the starting loss). {divergence_advice(self.config)}"))

    # ----------------------------------------------------------------- reading it
    def weights(self) -> dict | None:
        """CPU copy of the state dict at the latest snapshot or checkpoint (the final weights once the
        run has ended), for inspectors; None before the run has started."""
        return self.history.weights()

    def evaluate(self, X: torch.Tensor, y: torch.Tensor) -> dict:
        """{"loss", and the task's metrics} of the current model on X, y, in eval mode."""
        return self.task.evaluate(self.model, X, y, self.device)

    def decision_grid(self) -> dict:
        return decision_grid(self.model, self.data, self.device, self.task)

    def result(self) -> dict:
        """The summary the CLI prints last: status, epochs, losses, accuracy, samples/s."""
        return result_of(self.history.snapshot(), self.task)


class Update:
    """The backward pass and optimizer step of one batch's total loss: with AMP's gradient scaler if
    there is one, clipping the gradients' total norm to `clip` first if it is set. A total of None
    means the gradients are already in place (the fast path computed them)."""

    def __init__(self, opt, scaler, clip: float, params: list, fast: Gradients | None = None):
        self.opt, self.scaler, self.clip, self.params = opt, scaler, clip, params
        self.step = (lean_step(opt, fast) if scaler is None else None) or opt.step

    def __call__(self, total: torch.Tensor | None) -> None:
        opt, scaler, clip = self.opt, self.scaler, self.clip
        if scaler is not None:
            scaler.scale(total).backward()
            if clip:
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(self.params, clip)
            scaler.step(opt)
            scaler.update()
        else:
            if total is not None:
                total.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(self.params, clip)
            self.step()


def result_of(snap: dict, task: Task | None) -> dict:
    """A run's summary from its history's snapshot(): status, epochs, losses, accuracy, samples/s."""
    last = snap["epochs"][-1] if snap["epochs"] else {}
    out = {"status": snap["status"], "message": snap["message"], "epochs": len(snap["epochs"]),
           "task": task.name if task is not None else None,
           "train_loss": last.get("train_loss"), "train_accuracy": last.get("train_acc"),
           "val_loss": last.get("val_loss"), "val_accuracy": last.get("val_acc")}
    for key, value in last.items():                     # the task's metrics: val_r2, val_token_accuracy, ...
        split, _, metric = key.partition("_")
        if split in ("train", "val") and metric not in ("loss", "acc", "epoch"):
            out[f"{split}_{LONG_NAMES.get(metric, metric)}"] = value
    out.update({"samples_per_s": round(snap["progress"]["samples_per_s"], 1),
                "steps": snap["progress"]["step"], "time_s": round(snap["progress"]["elapsed_s"], 3),
                "diverged_at": snap["diverged_at"]})
    if "restored_epoch" in last:
        out["stopped_early_at"], out["restored_epoch"] = last["epoch"], last["restored_epoch"]
    return out
