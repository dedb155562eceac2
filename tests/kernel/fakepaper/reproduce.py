from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Config:
    about: str
    steps: int = 2
    n: int = 1000


PROTOCOLS = {"smoke": Config("tiny mean of uniforms", n=100), "cpu": Config("bigger mean of uniforms"),
             "full": Config("claims a metric it does not produce")}


def run(ctx, cfg):
    g = ctx.generator()
    means = []
    for s in range(cfg.steps):
        sub = ctx.sub(f"step{s}")
        means.append(sub.cached("mean", lambda: float(torch.rand(cfg.n, generator=g).mean())))
    ctx.curve("means", list(range(cfg.steps)), {"mean": means})
    return {"mean": sum(means) / len(means), "steps_run": cfg.steps}
