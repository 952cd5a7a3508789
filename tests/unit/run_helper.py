"""A Trainer as the engine's tests drive it: the config checked and the network built by prepare(),
trained in the test's thread (run(), train()) or in a thread of its own (start(), stop(), join()),
as the thread executor does. Everything else is the Trainer's own (model, history, evaluate, ...)."""
from __future__ import annotations

import threading

from playground.train import check
from playground.train.trainer import Trainer


class Run:
    def __init__(self, config, run_id=None, history=None, publish_every: float = 0.1, **kwargs):
        self.config, self.kwargs = config, dict(run_id=run_id, history=history, publish_every=publish_every, **kwargs)
        self.trainer: Trainer | None = None
        self.thread: threading.Thread | None = None

    @property
    def name(self) -> str:
        from playground.train.checked import default_name

        return self.config.name or default_name(self.config)

    def prepare(self, data=None, checkpoint=None) -> None:
        self.trainer = Trainer(check(self.config, data), **self.kwargs)
        self.trainer.build(checkpoint)

    OWN = ("config", "kwargs", "trainer", "thread")

    def __getattr__(self, name):            # model, data, task, device, evaluate, ...: the Trainer's
        if name in self.OWN:
            raise AttributeError(name)
        if self.trainer is None and name in ("model", "optimizer", "device"):
            return None                     # not prepared (or its check failed): nothing built
        if self.trainer is None and name == "history":
            if self.kwargs["history"] is None:
                from playground.train.history import History

                self.kwargs["history"] = History()
            return self.kwargs["history"]
        if self.trainer is None:
            self.prepare()
        return getattr(self.trainer, name)

    def __setattr__(self, name, value):     # run.evaluate = boom patches the Trainer's
        if name in self.OWN or self.trainer is None:
            object.__setattr__(self, name, value)
        else:
            setattr(self.trainer, name, value)

    def run(self) -> dict:
        if self.trainer is None:
            self.prepare()
        return self.trainer.run()

    def start(self) -> None:
        """Train in a thread of its own; a config that fails its check fails the run (as the executors do)."""
        def job():
            if self.trainer is None:
                from playground.train.history import History
                from playground.train.trainer import reported

                history = self.kwargs["history"] = self.kwargs["history"] or History()
                reported(history, self.prepare)
                if self.trainer is None:
                    return
            self.trainer.train_job()
        self.thread = threading.Thread(target=job, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.trainer.stop()

    def join(self, timeout=None) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()
